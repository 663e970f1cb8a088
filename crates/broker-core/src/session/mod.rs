//! Sessions, independent of any transport: subscriptions, the bounded outbound queue, the in-flight window,
//! inbound QoS 2 ids awaiting PUBREL, the will and the expiry clock. MQTT connections and (later) the
//! MQTT-SN gateway attach to a session through [`BrokerCore::attach`](crate::BrokerCore::attach), pull
//! deliveries with [`SessionHandle::pull`], acknowledge them, and detach.

mod inflight;
mod queue;

pub(crate) use inflight::{Inflight, Stage};
pub(crate) use queue::{Enqueued, OutQueue, QueueLimits};

use crate::message::{Message, SessionId};
use crate::persistence::{CommitTicket, Persistence, SubscriptionRecord};
use crate::router::{SharedGroupKey, SubscriptionIds};
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tern_mqtt_codec::{ByteStr, PacketId, PublishProperties, QoS, Will};

/// Wakes the owner of a session (its connection task) when there is new work for it. Cheap, callable from
/// any thread, may be called spuriously.
pub type Notifier = Arc<dyn Fn() + Send + Sync>;

/// Locks a mutex, ignoring poisoning: a panic elsewhere must not take the whole broker down with it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One message on its way to one session: the shared message plus what is specific to this subscriber.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The message, shared with every other subscriber (the payload is never copied).
    pub msg: Arc<Message>,
    /// Delivery QoS: the publish QoS downgraded to the subscription's maximum.
    pub qos: QoS,
    /// RETAIN flag to send: per Retain As Published, and always set for retained messages sent at subscribe.
    pub retain: bool,
    /// Subscription identifiers of every matching subscription of this session.
    pub subscription_ids: SubscriptionIds,
    /// The shared group this delivery was picked for, so it can go to another member if this one leaves.
    pub shared: Option<SharedGroupKey>,
}

/// The will of the connection currently attached, kept with the session so expiry can publish it.
#[derive(Debug, Clone)]
pub struct WillMessage {
    /// Will topic.
    pub topic: ByteStr,
    /// Will payload.
    pub payload: Bytes,
    /// Will QoS.
    pub qos: QoS,
    /// Will retain.
    pub retain: bool,
    /// Properties forwarded with the will (message expiry interval turned into an absolute time at publish).
    pub properties: PublishProperties,
    /// Will delay interval in seconds (0 on 3.x).
    pub delay: u32,
}

impl WillMessage {
    /// Converts a CONNECT will.
    pub fn from_connect(will: &Will) -> WillMessage {
        let p = &will.properties;
        WillMessage {
            topic: will.topic.clone(),
            payload: will.payload.clone(),
            qos: will.qos,
            retain: will.retain,
            properties: PublishProperties {
                payload_format_indicator: p.payload_format_indicator,
                message_expiry_interval: p.message_expiry_interval,
                response_topic: p.response_topic.clone(),
                correlation_data: p.correlation_data.clone(),
                user_properties: p.user_properties.clone(),
                content_type: p.content_type.clone(),
                ..PublishProperties::default()
            },
            delay: p.will_delay_interval.unwrap_or(0),
        }
    }

    /// The message to publish now.
    pub(crate) fn into_message(self, now: Instant) -> Message {
        let expires_at = self
            .properties
            .message_expiry_interval
            .map(|s| now + std::time::Duration::from_secs(u64::from(s)));
        Message {
            topic: self.topic,
            payload: self.payload,
            qos: self.qos,
            retain: self.retain,
            properties: self.properties,
            expires_at,
            publisher: None,
        }
    }
}

/// A session: identity plus the state behind its own lock.
pub(crate) struct Session {
    pub(crate) id: SessionId,
    pub(crate) client_id: Arc<str>,
    /// Mirrors `state.online` so the router can ask "online?" for shared-group picks without locking.
    pub(crate) online: AtomicBool,
    /// Lock order: taken after the router and the session table, never the other way round; never held
    /// while calling a notifier.
    pub(crate) state: Mutex<SessionState>,
    /// The broker's persistence hook: deliveries sent, acknowledged and expired are reported to it.
    pub(crate) store: Arc<dyn Persistence>,
}

/// Everything mutable about a session.
pub(crate) struct SessionState {
    /// Bumped on every attach; a handle with an older epoch belongs to a connection that was taken over.
    pub(crate) epoch: u64,
    /// The session ended (expired or replaced by clean start); handles to it are dead.
    pub(crate) ended: bool,
    pub(crate) online: bool,
    pub(crate) notifier: Option<Notifier>,
    pub(crate) queue: OutQueue,
    pub(crate) inflight: Inflight,
    /// Inbound QoS 2 packet ids received (PUBREC sent) and not yet released by PUBREL.
    pub(crate) inbound_qos2: BTreeSet<u16>,
    pub(crate) subscriptions: BTreeMap<Arc<str>, SubscriptionRecord>,
    pub(crate) expiry_interval: u32,
    /// Boxed: most sessions have none, and inline it would double the size of every session.
    pub(crate) will: Option<Box<WillMessage>>,
    /// When the delayed will is due (offline only).
    pub(crate) will_at: Option<Instant>,
    /// When the offline session expires; `None` while online or for sessions that never expire.
    pub(crate) expires_at: Option<Instant>,
    /// Stored deliveries beyond the in-memory head of the queue: on disk only, read back by `pull`.
    pub(crate) spilled: u64,
    /// Highest sequence number that entered the in-memory queue: spilled rows come after it.
    pub(crate) mem_high: u64,
    /// The store's sync point a refill waits for (every spilled row handed to the store is then durable).
    pub(crate) refill: Option<CommitTicket>,
    /// Back-pressure: publishers paused because this queue passed its high watermark, by connection id;
    /// woken once it drains below `drain_below` (messages, bytes) or the session goes offline or ends.
    pub(crate) drain_waiters: Vec<(u64, Notifier)>,
    pub(crate) drain_below: (usize, usize),
}

/// An offline session keeps at most this many deliveries in memory; later stored ones stay on disk until
/// the queue's head has been sent (a million messages for sleeping clients do not grow memory).
pub(crate) const SPILL_AT: usize = crate::persistence::QUEUE_HEAD;
/// Deliveries read back from the store at a time.
pub(crate) const SPILL_BATCH: usize = 1000;

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl SessionState {
    /// Highest sequence number in flight (0 if none is stored).
    pub(crate) fn inflight_high(&self) -> u64 {
        self.inflight.max_seq()
    }

    /// Publishers to resume now: all of them once the queue is below its low watermark (or `force`, when
    /// the session goes offline or ends). The caller calls them after releasing the lock.
    pub(crate) fn take_drain_waiters(&mut self, force: bool) -> Vec<(u64, Notifier)> {
        if self.drain_waiters.is_empty() {
            return Vec::new();
        }
        let (messages, bytes) = self.drain_below;
        if force || (self.queue.len() < messages && self.queue.bytes() < bytes) {
            std::mem::take(&mut self.drain_waiters)
        } else {
            Vec::new()
        }
    }
}

impl std::fmt::Debug for SessionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionState")
            .field("epoch", &self.epoch)
            .field("online", &self.online)
            .field("queued", &self.queue.len())
            .field("inflight", &self.inflight.len())
            .finish_non_exhaustive()
    }
}

impl Session {
    pub(crate) fn new(
        id: SessionId,
        client_id: Arc<str>,
        expiry_interval: u32,
        store: Arc<dyn Persistence>,
    ) -> Session {
        Session {
            id,
            client_id,
            store,
            online: AtomicBool::new(false),
            state: Mutex::new(SessionState {
                epoch: 0,
                ended: false,
                online: false,
                notifier: None,
                queue: OutQueue::default(),
                inflight: Inflight::default(),
                inbound_qos2: BTreeSet::new(),
                subscriptions: BTreeMap::new(),
                expiry_interval,
                will: None,
                will_at: None,
                expires_at: None,
                spilled: 0,
                mem_high: 0,
                refill: None,
                drain_waiters: Vec::new(),
                drain_below: (0, 0),
            }),
        }
    }

    pub(crate) fn set_online(&self, state: &mut SessionState, online: bool) {
        state.online = online;
        self.online.store(online, Ordering::Relaxed);
    }

    pub(crate) fn is_online(&self) -> bool {
        self.online.load(Ordering::Relaxed)
    }
}

/// One outbound packet pulled from a session.
#[derive(Debug)]
pub enum Outbound {
    /// A PUBLISH: `packet_id` is `Some` for QoS 1/2; `dup` on redelivery.
    Publish {
        /// Packet identifier (QoS 1/2).
        packet_id: Option<PacketId>,
        /// DUP flag: this is a retransmission.
        dup: bool,
        /// What to send.
        delivery: Delivery,
    },
    /// A PUBREL to retransmit for a QoS 2 delivery the client already PUBREC'd.
    PubRel(PacketId),
}

/// A transport's hold on an attached session. Operations on a handle whose connection was taken over
/// (or whose session ended) do nothing; [`SessionHandle::is_current`] tells the owner to go away.
#[derive(Debug, Clone)]
pub struct SessionHandle {
    pub(crate) session: Arc<Session>,
    pub(crate) epoch: u64,
}

/// Result of [`SessionHandle::pull`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PullStats {
    /// Deliveries discarded because their message expired in the queue.
    pub expired: usize,
}

impl SessionHandle {
    /// The session's id in the router.
    pub fn id(&self) -> SessionId {
        self.session.id
    }

    /// The client identifier that keys the session.
    pub fn client_id(&self) -> &Arc<str> {
        &self.session.client_id
    }

    fn state(&self) -> Option<MutexGuard<'_, SessionState>> {
        let st = lock(&self.session.state);
        (st.epoch == self.epoch && !st.ended).then_some(st)
    }

    /// False once another connection took the session over or the session ended.
    pub fn is_current(&self) -> bool {
        self.state().is_some()
    }

    /// Moves deliveries into `out`: first retransmissions (DUP PUBLISH / PUBREL, in original order), then
    /// queued deliveries while fewer than `window` QoS 1/2 are in flight. Expired messages are discarded
    /// ([MQTT-3.3.2-5]).
    pub fn pull(&self, now: Instant, window: usize, out: &mut Vec<Outbound>) -> PullStats {
        self.pull_at_most(now, window, usize::MAX, out)
    }

    /// [`SessionHandle::pull`], stopping once `out` holds `max` items: deliveries left in the queue stay
    /// shared `Arc`s instead of becoming encoded bytes in a connection's write buffer, so a slow subscriber
    /// among many costs its queue's entries, not a copy of them.
    pub fn pull_at_most(
        &self,
        now: Instant,
        window: usize,
        max: usize,
        out: &mut Vec<Outbound>,
    ) -> PullStats {
        let mut stats = self.pull_once(now, window, max, out);
        // A long queue's tail is on disk: read the next part back once the store has all of it.
        if out.len() < max && self.refill(now) {
            stats.expired += self.pull_once(now, window, max, out).expired;
        }
        stats
    }

    /// Reads the next part of a spilled queue back once the in-memory head is empty and the store's sync
    /// point is reached (so every spilled row is there); true if deliveries were added.
    fn refill(&self, now: Instant) -> bool {
        let (pending, notifier, after) = {
            let Some(st) = self.state() else { return false };
            if st.spilled == 0 || st.queue.len() > 0 {
                return false;
            }
            (st.refill.clone(), st.notifier.clone(), st.mem_high)
        };
        let store = &self.session.store;
        match pending {
            None => {
                if let Some(t) = store.sync_point() {
                    if let Some(mut st) = self.state() {
                        st.refill = Some(t.clone());
                    }
                    if let Some(n) = notifier {
                        t.add_watcher(n);
                    }
                    if !t.is_done() {
                        return false;
                    }
                }
            }
            Some(t) if !t.is_done() => return false,
            Some(_) => {}
        }
        let (rows, skipped) = store.load_queued(&self.session.client_id, after, SPILL_BATCH, now);
        let Some(mut st) = self.state() else { return false };
        st.refill = None;
        let n = rows.len();
        for (seq, d) in rows {
            st.mem_high = st.mem_high.max(seq);
            st.queue.push_loaded(seq, d);
        }
        st.spilled = st.spilled.saturating_sub((n + skipped) as u64);
        n > 0
    }

    fn pull_once(&self, now: Instant, window: usize, max: usize, out: &mut Vec<Outbound>) -> PullStats {
        let mut stats = PullStats::default();
        let mut sent = Vec::new();
        let mut expired = Vec::new();
        let mut waiting = None;
        let mut resume = Vec::new();
        if let Some(mut st) = self.state() {
            stats = Self::pull_locked(&mut st, now, window, max, out, &mut sent, &mut expired);
            if let (Some(t), Some(n)) = (st.queue.front_pending(), &st.notifier) {
                waiting = Some((t.clone(), n.clone()));
            }
            resume = st.take_drain_waiters(false);
        }
        // Publishers paused on this queue read again (notifiers are never called under a lock).
        for (_, n) in resume {
            n();
        }
        // The next stored delivery waits for its message's commit: pull again when it is done.
        if let Some((ticket, notifier)) = waiting {
            ticket.add_watcher(notifier);
        }
        let store = &self.session.store;
        for (seq, id) in sent {
            store.delivery_sent(&self.session.client_id, seq, id);
        }
        if !expired.is_empty() {
            store.deliveries_dropped(&self.session.client_id, &expired);
        }
        stats
    }

    /// [`SessionHandle::pull`] under the state lock; collects the stored rows sent and expired.
    fn pull_locked(
        st: &mut SessionState,
        now: Instant,
        window: usize,
        max: usize,
        out: &mut Vec<Outbound>,
        sent: &mut Vec<(u64, u16)>,
        expired: &mut Vec<u64>,
    ) -> PullStats {
        let mut stats = PullStats::default();
        for e in st.inflight.take_resends(window) {
            out.push(match e.stage {
                Stage::Comp => Outbound::PubRel(e.packet_id),
                Stage::Ack | Stage::Rec => Outbound::Publish {
                    packet_id: Some(e.packet_id),
                    dup: true,
                    delivery: e.delivery.clone(),
                },
            });
        }
        while let Some(front) = st.queue.front() {
            if out.len() >= max {
                break;
            }
            if front.qos != QoS::AtMostOnce && st.inflight.len() >= window {
                break;
            }
            if st.queue.front_pending().is_some() {
                break;
            }
            if st.queue.front_failed() {
                // Refused to its publisher (not durable): not delivered either.
                if let Some((seq, _)) = st.queue.pop() {
                    expired.push(seq);
                }
                continue;
            }
            let Some((seq, d)) = st.queue.pop() else { break };
            if d.msg.is_expired(now) {
                stats.expired += 1;
                if seq != 0 {
                    expired.push(seq);
                }
                continue;
            }
            if d.qos == QoS::AtMostOnce {
                out.push(Outbound::Publish {
                    packet_id: None,
                    dup: false,
                    delivery: d,
                });
                continue;
            }
            // A stored delivery's id follows from its sequence number, so after a crash that lost the record
            // of the send it is re-sent under the same id, which a QoS 2 receiver recognises.
            let id = if seq != 0 {
                st.inflight.alloc_id_for(seq)
            } else {
                st.inflight.alloc_id()
            };
            let Some(id) = id else {
                st.queue.push_front(seq, d);
                break;
            };
            let stage = if d.qos == QoS::ExactlyOnce {
                Stage::Rec
            } else {
                Stage::Ack
            };
            st.inflight.push(id, seq, d.clone(), stage);
            if seq != 0 {
                sent.push((seq, id.get()));
            }
            out.push(Outbound::Publish {
                packet_id: Some(id),
                dup: false,
                delivery: d,
            });
        }
        stats
    }

    /// PUBACK from the client: true if it completed a QoS 1 delivery.
    pub fn puback(&self, id: PacketId) -> bool {
        let done = self.state().and_then(|mut st| st.inflight.ack(id));
        self.report_done(id, done.as_ref().map(|e| e.seq))
    }

    /// PUBREC from the client: true if the id was a QoS 2 delivery (the caller then sends PUBREL).
    pub fn pubrec(&self, id: PacketId, accepted: bool) -> bool {
        self.pubrec_commit(id, accepted).0
    }

    /// [`SessionHandle::pubrec`], plus the commit the PUBREL must wait for (a stored delivery's new state).
    pub fn pubrec_commit(&self, id: PacketId, accepted: bool) -> (bool, Option<CommitTicket>) {
        let found = self.state().and_then(|mut st| {
            let seq = st.inflight.seq_of(id);
            st.inflight.rec(id, accepted).then_some(seq)
        });
        match found {
            Some(seq) if seq != 0 && accepted => {
                let ticket = self
                    .session
                    .store
                    .delivery_released(&self.session.client_id, id.get());
                (true, ticket)
            }
            Some(_) if accepted => (true, None),
            Some(seq) => (self.report_done(id, Some(seq)), None),
            None => (false, None),
        }
    }

    /// PUBCOMP from the client: true if it completed a QoS 2 delivery.
    pub fn pubcomp(&self, id: PacketId) -> bool {
        let done = self.state().and_then(|mut st| st.inflight.comp(id));
        self.report_done(id, done.as_ref().map(|e| e.seq))
    }

    /// Tells the store a stored delivery completed; true if one did (stored or not).
    fn report_done(&self, id: PacketId, seq: Option<u64>) -> bool {
        match seq {
            Some(seq) => {
                if seq != 0 {
                    self.session
                        .store
                        .delivery_acked(&self.session.client_id, id.get());
                }
                true
            }
            None => false,
        }
    }

    /// Deliveries in flight.
    pub fn inflight_len(&self) -> usize {
        self.state().map_or(0, |st| st.inflight.len())
    }

    /// Deliveries queued.
    pub fn queued_len(&self) -> usize {
        self.state().map_or(0, |st| st.queue.len())
    }

    /// Inbound QoS 2: records the id of a received PUBLISH. False if it was already recorded (a duplicate:
    /// acknowledge again, do not route again).
    pub fn qos2_received(&self, id: PacketId) -> bool {
        self.state()
            .is_some_and(|mut st| st.inbound_qos2.insert(id.get()))
    }

    /// Inbound QoS 2: PUBREL released the id. False if it was unknown (5.0 answers PUBCOMP 0x92).
    pub fn qos2_released(&self, id: PacketId) -> bool {
        self.state()
            .is_some_and(|mut st| st.inbound_qos2.remove(&id.get()))
    }

    /// Inbound QoS 2: true if `id` was received and awaits PUBREL.
    pub fn qos2_is_pending(&self, id: PacketId) -> bool {
        self.state().is_some_and(|st| st.inbound_qos2.contains(&id.get()))
    }

    /// Gives up on an in-flight delivery that cannot be sent (larger than the client's maximum packet size).
    pub fn discard_inflight(&self, id: PacketId) {
        let gone = self.state().and_then(|mut st| st.inflight.remove(id));
        self.report_done(id, gone.map(|e| e.seq));
    }

    /// Inbound QoS 2 ids awaiting PUBREL (they count against our Receive Maximum).
    pub fn qos2_pending(&self) -> usize {
        self.state().map_or(0, |st| st.inbound_qos2.len())
    }

    /// Replaces the session expiry interval (DISCONNECT may change it on 5.0).
    pub fn set_expiry_interval(&self, secs: u32) {
        if let Some(mut st) = self.state() {
            st.expiry_interval = secs;
        }
    }

    /// The session expiry interval in force.
    pub fn expiry_interval(&self) -> u32 {
        self.state().map_or(0, |st| st.expiry_interval)
    }
}
