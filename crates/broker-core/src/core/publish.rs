//! The publish path: retain, route under the router's read lock, push one [`Delivery`] per route onto the
//! target session's queue, and ask the persistence hook for a commit when the message must be durable.

use super::{BrokerCore, Fanout};
use crate::message::{Message, SessionId};
use crate::persistence::{Accepted, CommitTicket, DurableDelivery};
use crate::session::{Delivery, Enqueued, Session, lock};
use crate::stats::Stats;
use std::sync::Arc;
use std::time::Instant;
use tern_mqtt_codec::{QoS, ReasonCode};

/// What became of an accepted publish.
#[derive(Debug, Default)]
pub struct PublishOutcome {
    /// Sessions the message was queued for.
    pub matched: usize,
    /// Set when the persistence hook has not yet made the message durable: the publisher's PUBACK/PUBREC
    /// waits for it.
    pub commit: Option<CommitTicket>,
}

/// Why a publish was refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The retained store is full (only refused when the caller asked for strict retain handling).
    #[error("retained store full")]
    RetainedFull,
}

impl PublishError {
    /// The reason code for a 5.0 PUBACK/PUBREC.
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            PublishError::RetainedFull => ReasonCode::QuotaExceeded,
        }
    }
}

impl BrokerCore {
    /// Publishes an accepted message: stores it if RETAIN, routes it to every matching session, and returns
    /// the commit ticket to wait on (if any). Wake-ups are collected in `fanout` (call
    /// [`Fanout::flush`] after a batch).
    ///
    /// When the retained store is full: with `strict_retain` (5.0 publishers with QoS > 0, who can be told)
    /// the whole publish is refused with Quota exceeded; otherwise the message is routed but not retained.
    pub fn publish(
        &self,
        msg: Arc<Message>,
        now: Instant,
        strict_retain: bool,
        fanout: &mut Fanout,
    ) -> Result<PublishOutcome, PublishError> {
        self.publish_inner(msg, now, strict_retain, true, fanout)
    }

    /// [`BrokerCore::publish`] for a QoS 2 message whose packet id (`inbound_qos2`: the publisher's client id
    /// and the id) now awaits PUBREL: a durable publisher's id is committed with the message, so after a
    /// restart its retransmission is acknowledged without being routed again.
    pub fn publish_qos2(
        &self,
        msg: Arc<Message>,
        now: Instant,
        strict_retain: bool,
        inbound_qos2: Option<(&Arc<str>, u16)>,
        fanout: &mut Fanout,
    ) -> Result<PublishOutcome, PublishError> {
        self.publish_full(msg, now, strict_retain, true, inbound_qos2, fanout)
    }

    /// [`BrokerCore::publish`], optionally without the persistence hook (`$SYS` is not worth an fsync).
    pub(crate) fn publish_inner(
        &self,
        msg: Arc<Message>,
        now: Instant,
        strict_retain: bool,
        persist: bool,
        fanout: &mut Fanout,
    ) -> Result<PublishOutcome, PublishError> {
        self.publish_full(msg, now, strict_retain, persist, None, fanout)
    }

    fn publish_full(
        &self,
        msg: Arc<Message>,
        now: Instant,
        strict_retain: bool,
        persist: bool,
        inbound_qos2: Option<(&Arc<str>, u16)>,
        fanout: &mut Fanout,
    ) -> Result<PublishOutcome, PublishError> {
        // True when the retained store changed (set, replaced or deleted by an empty payload).
        let mut retained_changed = false;
        if msg.retain {
            match lock(&self.retained).set(msg.clone()) {
                Ok(()) => retained_changed = true,
                Err(e) => {
                    tracing::warn!(topic = %msg.topic, error = %e, "retained message not stored");
                    if strict_retain {
                        return Err(PublishError::RetainedFull);
                    }
                }
            }
        }
        fanout.durable.clear();
        // The commit ticket (an allocation) is made only when something has to wait for the store: the first
        // copy queued for a durable session makes it (see `deliver`), a retained change or an inbound QoS 2
        // id below. Every QoS 0 message to online subscribers goes without one.
        fanout.persist = persist;
        fanout.commit = None;
        let matched = self.route_message(&msg, now, fanout);
        fanout.persist = false;
        let made = fanout.commit.take();
        let mut outcome = PublishOutcome {
            matched,
            commit: None,
        };
        self.report_dropped(fanout);
        if !(persist && (retained_changed || !fanout.durable.is_empty() || inbound_qos2.is_some())) {
            if let Some(ticket) = made {
                ticket.complete();
            }
        } else {
            let core_ticket = made.unwrap_or_default();
            let ticket = self.hooks.persistence.message_accepted(&Accepted {
                msg: &msg,
                ticket: &core_ticket,
                deliveries: &fanout.durable,
                retained: retained_changed,
                inbound_qos2,
            });
            if ticket.is_none() {
                core_ticket.complete();
            }
            // Only QoS 1/2 publishers wait; a QoS 0 message is written behind their back.
            outcome.commit = ticket.filter(|_| msg.qos != QoS::AtMostOnce);
        }
        Ok(outcome)
    }

    /// Routes a message to its subscribers' queues; returns how many sessions got it.
    fn route_message(&self, msg: &Arc<Message>, now: Instant, fanout: &mut Fanout) -> usize {
        if msg.is_expired(now) {
            return 0;
        }
        fanout.routes.clear();
        let mut targets = std::mem::take(&mut fanout.targets);
        targets.clear();
        {
            let router = self.router.read().unwrap_or_else(|e| e.into_inner());
            let table = lock(&self.sessions);
            let online = |sid: SessionId| table.by_id.get(&sid).is_some_and(|s| s.is_online());
            router.route(&msg.topic, msg.publisher, online, &mut fanout.routes);
            for route in fanout.routes.drain(..) {
                if let Some(s) = table.by_id.get(&route.session) {
                    targets.push((s.clone(), route));
                }
            }
        }
        let mut matched = 0;
        for (session, route) in targets.drain(..) {
            let delivery = Delivery {
                msg: msg.clone(),
                qos: msg.qos.min(route.qos),
                retain: route.retain_as_published && msg.retain,
                subscription_ids: route.subscription_ids,
                shared: route.shared,
            };
            if self.deliver(&session, delivery, fanout) {
                matched += 1;
            }
        }
        fanout.targets = targets;
        matched
    }

    /// Queues a delivery outside a publish (a retained message sent at SUBSCRIBE) and, when it is a
    /// durable session's QoS 1/2 copy, hands it to the persistence hook like a routed message: the row is
    /// stored and the copy is not sent before its commit, so a crash before the subscriber acknowledged it
    /// re-sends it after the restart instead of losing it.
    pub(crate) fn deliver_stored(&self, session: &Session, delivery: Delivery, fanout: &mut Fanout) -> bool {
        fanout.durable.clear();
        fanout.persist = true;
        fanout.commit = None;
        let queued = self.deliver(session, delivery, fanout);
        fanout.persist = false;
        let made = fanout.commit.take();
        self.report_dropped(fanout);
        if let Some(entry) = fanout.durable.pop() {
            let ticket = made.unwrap_or_default();
            let msg = entry.delivery.msg.clone();
            let waits = self.hooks.persistence.message_accepted(&Accepted {
                msg: &msg,
                ticket: &ticket,
                deliveries: std::slice::from_ref(&entry),
                retained: false,
                inbound_qos2: None,
            });
            if waits.is_none() {
                ticket.complete();
            }
        } else if let Some(ticket) = made {
            ticket.complete();
        }
        queued
    }

    /// Tells the persistence hook about stored rows dropped from full queues.
    pub(crate) fn report_dropped(&self, fanout: &mut Fanout) {
        for (client_id, seqs) in fanout.dropped.drain(..) {
            self.hooks.persistence.deliveries_dropped(&client_id, &seqs);
        }
    }

    /// Queues one delivery on a session (counting and logging drops) and schedules its wake-up. A QoS 1/2
    /// delivery to a session with an expiry gets a sequence number and is listed in `fanout.durable`.
    pub(crate) fn deliver(&self, session: &Session, delivery: Delivery, fanout: &mut Fanout) -> bool {
        let limits = self.queue_limits();
        let spills = self.hooks.persistence.spills();
        let mut st = lock(&session.state);
        if st.ended {
            return false;
        }
        if !st.online && delivery.qos == QoS::AtMostOnce {
            // QoS 0 is not queued for offline sessions (MQTT 5.0 3.1.2.4 allows either; we keep memory flat).
            Stats::add(&self.stats.dropped, 1);
            tracing::trace!(client_id = %session.client_id, "QoS 0 message dropped for offline session");
            return false;
        }
        let durable = delivery.qos != QoS::AtMostOnce && st.expiry_interval > 0;
        let seq = if durable {
            self.next_seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        } else {
            0
        };
        let record = durable.then(|| delivery.clone());
        let commit =
            (durable && fanout.persist).then(|| fanout.commit.get_or_insert_with(CommitTicket::new).clone());
        let mut dropped = Vec::new();
        // A durable session's backlog past its in-memory head stays on disk only (and so does everything
        // behind a spilled part, to keep the order): an offline session keeps the first `SPILL_AT` in
        // memory, an online one a full queue, so a subscriber that stays slow loses no QoS 1/2 message
        // until `max_stored_messages`.
        let head = if st.online {
            limits.max_messages
        } else {
            crate::session::SPILL_AT.min(limits.max_messages)
        };
        let spill = durable
            && delivery.shared.is_none()
            && spills
            && (st.spilled > 0 || st.queue.len() >= head || st.queue.is_full(delivery.msg.size(), &limits));
        let queued = if spill {
            if st.spilled >= self.config.max_stored_messages as u64 {
                Stats::add(&self.stats.dropped, 1);
                tracing::debug!(client_id = %session.client_id, "stored queue full: message dropped");
                false
            } else {
                st.spilled += 1;
                true
            }
        } else {
            if durable {
                st.mem_high = st.mem_high.max(seq);
            }
            match st.queue.push(seq, delivery, commit, &limits, &mut dropped) {
                Enqueued::Queued => true,
                Enqueued::DroppedOldest => {
                    Stats::add(&self.stats.dropped, 1);
                    tracing::debug!(client_id = %session.client_id, "session queue full: oldest message dropped");
                    true
                }
                Enqueued::DroppedNew => {
                    Stats::add(&self.stats.dropped, 1);
                    tracing::debug!(client_id = %session.client_id, "session queue full: message dropped");
                    false
                }
            }
        };
        if !dropped.is_empty() {
            fanout.dropped.push((session.client_id.clone(), dropped));
        }
        if st.online && !spill && !self.config.publisher_pause.is_zero() {
            self.note_congestion(session, &mut st, &limits, fanout);
        }
        if queued {
            if let Some(delivery) = record {
                fanout.durable.push(DurableDelivery {
                    client_id: session.client_id.clone(),
                    seq,
                    delivery,
                });
            }
            if let Some(n) = &st.notifier {
                fanout.wake(session.id, n.clone());
            }
        }
        queued
    }

    /// Back-pressure: when an online session's queue is past its high watermark, the publishing connection
    /// (if it takes back-pressure, and is not this session's own: a client subscribed to its own topics
    /// drains that queue itself) registers to be woken once the queue drains below half.
    fn note_congestion(
        &self,
        session: &Session,
        st: &mut crate::session::SessionState,
        limits: &crate::session::QueueLimits,
        fanout: &mut Fanout,
    ) {
        let Some((conn_id, notifier, own)) = &fanout.publisher else {
            return;
        };
        if *own == Some(session.id) || !st.queue.above_high_water(limits) {
            return;
        }
        fanout.congested = true;
        if !st.drain_waiters.iter().any(|(id, _)| id == conn_id) {
            st.drain_below = (limits.max_messages / 2, limits.max_bytes / 2);
            st.drain_waiters.push((*conn_id, notifier.clone()));
        }
    }

    /// Hands shared-group deliveries of a departing member (`from`) to other members of their groups: the
    /// store moves each from `from`'s queue to the taker's. Returns the ones no other member could take,
    /// in order, with their sequence numbers.
    pub(crate) fn reroute_shared(
        &self,
        from_session: &Session,
        deliveries: Vec<(u64, Delivery)>,
        fanout: &mut Fanout,
    ) -> Vec<(u64, Delivery)> {
        let from = from_session.id;
        let mut left = Vec::new();
        let mut moved = Vec::new();
        for (seq, mut d) in deliveries {
            let Some(key) = d.shared.clone() else {
                left.push((seq, d));
                continue;
            };
            let pick = {
                let router = self.router.read().unwrap_or_else(|e| e.into_inner());
                let table = lock(&self.sessions);
                let online = |sid: SessionId| table.by_id.get(&sid).is_some_and(|s| s.is_online());
                router
                    .pick_shared(&key, from, online)
                    .and_then(|(sid, entry)| table.by_id.get(&sid).cloned().map(|s| (s, entry)))
            };
            match pick {
                Some((session, entry)) => {
                    d.qos = d.msg.qos.min(entry.qos);
                    d.retain = entry.retain_as_published && d.msg.retain;
                    d.subscription_ids = entry.subscription_id.into();
                    tracing::debug!(group = ?key, to = %session.client_id, "shared message re-routed");
                    fanout.durable.clear();
                    if self.deliver(&session, d.clone(), fanout) {
                        if seq != 0 {
                            moved.push(seq);
                        }
                        for entry in fanout.durable.drain(..) {
                            // Nobody waits on this commit: the message was acknowledged long ago.
                            let _ = self.hooks.persistence.message_accepted(&Accepted {
                                msg: &entry.delivery.msg.clone(),
                                ticket: &CommitTicket::new(),
                                deliveries: std::slice::from_ref(&entry),
                                retained: false,
                                inbound_qos2: None,
                            });
                        }
                    } else {
                        left.push((seq, d));
                    }
                }
                None => left.push((seq, d)),
            }
        }
        if !moved.is_empty() {
            fanout.dropped.push((from_session.client_id.clone(), moved));
        }
        self.report_dropped(fanout);
        left
    }
}
