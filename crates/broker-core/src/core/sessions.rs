//! The session manager: attach (create, resume or take over), detach (normal or abnormal, will handling),
//! expiry and delayed wills. Transport-agnostic: MQTT connections and the MQTT-SN gateway use the same calls.

use super::{BrokerCore, Fanout};
use crate::persistence::SessionRecord;
use crate::session::{Delivery, Notifier, Session, SessionHandle, WillMessage, lock};
use crate::stats::Stats;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tern_mqtt_codec::QoS;

/// What a transport asks for when a client connects.
pub struct AttachRequest {
    /// Client identifier (already validated or assigned).
    pub client_id: Arc<str>,
    /// Clean Start / Clean Session: discard any existing session.
    pub clean_start: bool,
    /// Session expiry interval in seconds (already capped by the configuration); `u32::MAX` = never.
    pub expiry_interval: u32,
    /// The connection's will, if any.
    pub will: Option<WillMessage>,
    /// Called when the session has new deliveries or is taken over.
    pub notifier: Notifier,
}

/// Result of [`BrokerCore::attach`].
#[derive(Debug)]
pub struct Attached {
    /// The hold on the session.
    pub handle: SessionHandle,
    /// Whether an existing session was resumed (CONNACK Session Present).
    pub session_present: bool,
}

/// How a client went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetachKind {
    /// DISCONNECT with reason 0x00: the will is discarded.
    Normal,
    /// DISCONNECT 0x04 (Disconnect with Will Message): the will is published as on an abnormal close.
    WithWill,
    /// Network failure, keep-alive expiry, protocol violation: the will is published (after its delay).
    Abnormal,
}

impl BrokerCore {
    /// Attaches a client to its session: resumes it (Session Present) unless `clean_start` or none exists.
    /// A connection already attached is taken over: its handle stops being current and its notifier fires,
    /// and its will is published at once if its delay is 0 (otherwise the reconnect cancels it).
    pub fn attach(&self, mut req: AttachRequest, now: Instant) -> Attached {
        let mut old_notifier = None;
        let mut resume = Vec::new();
        let mut wills = Vec::new();
        let mut ended = None;
        let attached = {
            let mut table = lock(&self.sessions);
            let mut resumed = None;
            if let Some(old) = table.by_client.get(&req.client_id).cloned() {
                let mut st = lock(&old.state);
                let was_online = st.online;
                old_notifier = st.notifier.take();
                st.epoch += 1;
                st.will_at = None;
                let old_will = st.will.take().map(|w| *w);
                if req.clean_start {
                    st.ended = true;
                    old.set_online(&mut st, false);
                    resume = st.take_drain_waiters(true);
                    wills.extend(old_will);
                    drop(st);
                    table.by_client.remove(&req.client_id);
                    table.by_id.remove(&old.id);
                    ended = Some(old);
                } else {
                    match old_will {
                        Some(w) if was_online && w.delay == 0 => wills.push(w),
                        Some(_) => {
                            tracing::debug!(client_id = %req.client_id, "delayed will cancelled by reconnect")
                        }
                        None => {}
                    }
                    old.set_online(&mut st, true);
                    st.notifier = Some(req.notifier.clone());
                    st.expiry_interval = req.expiry_interval;
                    st.will = req.will.take().map(Box::new);
                    st.expires_at = None;
                    st.inflight.mark_all_resend();
                    let epoch = st.epoch;
                    drop(st);
                    resumed = Some(SessionHandle {
                        session: old.clone(),
                        epoch,
                    });
                }
            }
            match resumed {
                Some(handle) => Attached {
                    handle,
                    session_present: true,
                },
                None => {
                    let id = self.next_session_id.fetch_add(1, Ordering::Relaxed);
                    let session = Arc::new(Session::new(
                        id,
                        req.client_id.clone(),
                        req.expiry_interval,
                        self.hooks.persistence.clone(),
                    ));
                    {
                        let mut st = lock(&session.state);
                        session.set_online(&mut st, true);
                        st.notifier = Some(req.notifier.clone());
                        st.will = req.will.take().map(Box::new);
                    }
                    table.by_client.insert(req.client_id.clone(), session.clone());
                    table.by_id.insert(id, session.clone());
                    Attached {
                        handle: SessionHandle { session, epoch: 0 },
                        session_present: false,
                    }
                }
            }
        };
        if let Some(n) = old_notifier {
            n();
        }
        for (_, n) in resume {
            n();
        }
        let mut fanout = Fanout::default();
        if let Some(old) = ended {
            self.end_session(&old, &mut fanout);
        }
        for w in wills {
            self.publish_will(w, now, &mut fanout);
        }
        if req.expiry_interval > 0 {
            self.save_session(&attached.handle.session);
        }
        fanout.flush();
        attached
    }

    /// Detaches a client from its session. Does nothing if the handle is no longer current (taken over).
    /// The will is discarded on `Normal`, otherwise published now or scheduled after its delay (never after
    /// the session ends). A session with expiry 0 ends here; others wait offline for their expiry.
    pub fn detach(&self, handle: &SessionHandle, kind: DetachKind, now: Instant) {
        let session = &handle.session;
        let mut will = None;
        let mut end = false;
        let mut shared = Vec::new();
        let resume;
        {
            let mut table = lock(&self.sessions);
            let mut st = lock(&session.state);
            if st.epoch != handle.epoch || st.ended {
                return;
            }
            session.set_online(&mut st, false);
            st.notifier = None;
            // Offline sessions do not pause publishers: those waiting on this one read again.
            resume = st.take_drain_waiters(true);
            let w = st.will.take().filter(|_| kind != DetachKind::Normal).map(|w| *w);
            // Shared-group messages not yet received by this member go to another member: queued ones and
            // QoS 1 in flight. A QoS 2 message already sent stays with this session, to be completed when it
            // reconnects, and is never sent to another member [MQTT-4.8.2-4] [MQTT-4.8.2-5].
            st.inflight.drain_unreceived(movable_shared, &mut shared);
            st.queue.drain_where(|d| d.shared.is_some(), &mut shared);
            // QoS 0 is not kept for offline sessions.
            let mut qos0 = Vec::new();
            st.queue.drain_where(|d| d.qos == QoS::AtMostOnce, &mut qos0);
            Stats::add(&self.stats.dropped, qos0.len() as u64);
            if st.expiry_interval == 0 {
                st.ended = true;
                end = true;
                will = w;
                drop(st);
                table.by_client.remove(&session.client_id);
                table.by_id.remove(&session.id);
            } else {
                match w {
                    Some(w) if w.delay > 0 => {
                        let at = now + Duration::from_secs(u64::from(w.delay));
                        st.will = Some(Box::new(w));
                        st.will_at = Some(at);
                        table.timers.insert((at, session.id));
                    }
                    w => will = w,
                }
                if st.expiry_interval != u32::MAX {
                    let at = now + Duration::from_secs(u64::from(st.expiry_interval));
                    st.expires_at = Some(at);
                    table.timers.insert((at, session.id));
                }
            }
        }
        tracing::debug!(client_id = %session.client_id, ?kind, ended = end, "session detached");
        for (_, n) in resume {
            n();
        }
        let mut fanout = Fanout::default();
        self.keep_leftovers(session, shared, &mut fanout);
        if let Some(w) = will {
            self.publish_will(w, now, &mut fanout);
        }
        if end {
            self.end_session(session, &mut fanout);
        } else {
            self.save_session(session);
        }
        fanout.flush();
    }

    /// Re-routes shared deliveries and puts back, at the head and in order, the ones nobody else took.
    fn keep_leftovers(&self, session: &Session, shared: Vec<(u64, Delivery)>, fanout: &mut Fanout) {
        if shared.is_empty() {
            return;
        }
        let left = self.reroute_shared(session, shared, fanout);
        let mut st = lock(&session.state);
        if st.ended {
            return;
        }
        for (seq, d) in left.into_iter().rev() {
            st.queue.push_front(seq, d);
        }
    }

    /// Fires due session timers: delayed wills and offline session expiry.
    pub(crate) fn fire_session_timers(&self, now: Instant, fanout: &mut Fanout) {
        let due: Vec<Arc<Session>> = {
            let mut table = lock(&self.sessions);
            let mut due = Vec::new();
            while let Some(&(at, id)) = table.timers.first() {
                if at > now {
                    break;
                }
                table.timers.pop_first();
                if let Some(s) = table.by_id.get(&id) {
                    due.push(s.clone());
                }
            }
            due
        };
        for session in due {
            let mut will = None;
            let mut end = false;
            {
                let mut table = lock(&self.sessions);
                let mut st = lock(&session.state);
                if st.online || st.ended {
                    continue;
                }
                if st.will_at.is_some_and(|at| at <= now) {
                    st.will_at = None;
                    will = st.will.take().map(|w| *w);
                }
                if st.expires_at.is_some_and(|at| at <= now) {
                    st.ended = true;
                    end = true;
                    will = will.or_else(|| st.will.take().map(|w| *w));
                    drop(st);
                    table.by_client.remove(&session.client_id);
                    table.by_id.remove(&session.id);
                }
            }
            let fired = will.is_some();
            if let Some(w) = will {
                self.publish_will(w, now, fanout);
            }
            if end {
                tracing::info!(client_id = %session.client_id, "session expired");
                self.end_session(&session, fanout);
            } else if fired {
                self.save_session(&session);
            }
        }
    }

    /// Cleans up after a session removed from the table: router entries, shared messages, persistence.
    fn end_session(&self, session: &Session, fanout: &mut Fanout) {
        let (filters, mut shared) = {
            let mut st = lock(&session.state);
            let filters: Vec<Arc<str>> = std::mem::take(&mut st.subscriptions).into_keys().collect();
            let mut shared = Vec::new();
            st.inflight.drain_unreceived(movable_shared, &mut shared);
            st.queue.drain_where(|d| d.shared.is_some(), &mut shared);
            (filters, shared)
        };
        {
            let mut router = self.router.write().unwrap_or_else(|e| e.into_inner());
            for f in &filters {
                router.unsubscribe(session.id, f);
            }
        }
        shared.retain(|(_, d)| d.qos != QoS::AtMostOnce);
        let left = self.reroute_shared(session, shared, fanout);
        Stats::add(&self.stats.dropped, left.len() as u64);
        self.hooks.persistence.session_removed(&session.client_id);
    }

    /// Publishes a will now.
    fn publish_will(&self, will: WillMessage, now: Instant, fanout: &mut Fanout) {
        Stats::add(&self.stats.wills, 1);
        tracing::info!(topic = %will.topic, "publishing will");
        let msg = Arc::new(will.into_message(now));
        // A full retained store does not stop the will from reaching current subscribers.
        let _ = self.publish(msg, now, false, fanout);
    }

    /// Writes the session's durable picture through the persistence hook.
    pub(crate) fn save_session(&self, session: &Session) {
        let record = {
            let st = lock(&session.state);
            if st.ended || st.expiry_interval == 0 {
                return;
            }
            SessionRecord {
                client_id: session.client_id.clone(),
                expiry_interval: st.expiry_interval,
                subscriptions: st.subscriptions.values().cloned().collect(),
                will: st.will.as_deref().cloned(),
                online: st.online,
            }
        };
        self.hooks.persistence.session_saved(&record);
    }
}

/// A shared-group delivery that may move to another member when this one goes: QoS 1 (the spec lets the
/// server resend it elsewhere), never a QoS 2 message whose PUBLISH this member already received.
fn movable_shared(d: &Delivery) -> bool {
    d.shared.is_some() && d.qos == QoS::AtLeastOnce
}
