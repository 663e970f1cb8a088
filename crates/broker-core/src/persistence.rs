//! The durability hook. The core calls a [`Persistence`] at every point where state must survive a restart
//! (message accepted for a durable session or the retained store, session created/changed/removed, delivery
//! acknowledged); `tern-store` implements it over redb. A publisher's PUBACK/PUBREC waits for the commit:
//! [`Persistence::message_accepted`] may hand back a [`CommitTicket`] that the store completes later (after a
//! group fsync), and the connection parks the ack until then. [`MemoryPersistence`] completes at once.
//! A store hands its recovered state back through [`crate::Recovered`] and [`crate::BrokerCore::restore`].

use crate::message::Message;
use crate::session::{Delivery, WillMessage};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Deliveries of an offline session kept in memory when the store can hold the rest
/// ([`Persistence::spills`]): the head of the queue; later ones are read back as it drains.
pub const QUEUE_HEAD: usize = 1000;

/// Called when a commit completes; the connection's notifier, so the shell polls and sends the parked ack.
pub type CommitWaker = Arc<dyn Fn() + Send + Sync>;

/// One pending commit: the store keeps a clone and calls [`CommitTicket::complete`] once the data is durable.
#[derive(Clone, Default)]
pub struct CommitTicket(Arc<TicketInner>);

#[derive(Default)]
struct TicketInner {
    done: AtomicBool,
    /// The commit failed (disk full): the message is refused, not acknowledged.
    failed: AtomicBool,
    /// Who to wake on completion; locked only to swap the waker in or out, never while calling it.
    waker: Mutex<Option<CommitWaker>>,
    /// Sessions whose stored deliveries of this message wait for the commit before being sent.
    watchers: Mutex<Vec<CommitWaker>>,
}

impl CommitTicket {
    /// A ticket not yet committed.
    pub fn new() -> CommitTicket {
        CommitTicket::default()
    }

    /// True once the store reported the commit durable.
    pub fn is_done(&self) -> bool {
        self.0.done.load(Ordering::Acquire)
    }

    /// Marks the commit durable and wakes whoever waits for it. Called by the store, from any thread.
    pub fn complete(&self) {
        self.0.done.store(true, Ordering::Release);
        let waker = self.0.waker.lock().ok().and_then(|mut w| w.take());
        if let Some(waker) = waker {
            waker();
        }
        let watchers = self
            .0
            .watchers
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default();
        for w in watchers {
            w();
        }
    }

    /// Marks the commit failed (the store could not make it durable, e.g. disk full) and wakes whoever
    /// waits: the publisher is refused (0x97 Quota exceeded on MQTT 5) and the message is not delivered.
    pub fn fail(&self) {
        self.0.failed.store(true, Ordering::Release);
        self.complete();
    }

    /// True if the store reported the commit failed.
    pub fn is_failed(&self) -> bool {
        self.0.failed.load(Ordering::Acquire)
    }

    /// Adds a function to call on completion, besides the one [`CommitTicket::set_waker`] sets (calls it at
    /// once if already done). Used for subscribers whose copy of the message waits for the commit.
    pub fn add_watcher(&self, watcher: CommitWaker) {
        if let Ok(mut w) = self.0.watchers.lock() {
            w.push(watcher);
        }
        if self.is_done() {
            let watchers = self
                .0
                .watchers
                .lock()
                .map(|mut w| std::mem::take(&mut *w))
                .unwrap_or_default();
            for w in watchers {
                w();
            }
        }
    }

    /// Registers the function to call on completion (calls it at once if already done).
    pub fn set_waker(&self, waker: CommitWaker) {
        if let Ok(mut slot) = self.0.waker.lock() {
            *slot = Some(waker);
        }
        if self.is_done() {
            let waker = self.0.waker.lock().ok().and_then(|mut w| w.take());
            if let Some(waker) = waker {
                waker();
            }
        }
    }
}

impl fmt::Debug for CommitTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommitTicket")
            .field("done", &self.is_done())
            .finish()
    }
}

/// The durable picture of a session, written whenever it changes (attach, subscribe, unsubscribe, detach,
/// will fired). Queued and in-flight messages are written separately, one row each, as they move.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    /// The client identifier that keys the session.
    pub client_id: Arc<str>,
    /// Session expiry interval in seconds.
    pub expiry_interval: u32,
    /// Subscriptions: filter, maximum QoS, No Local, Retain As Published, subscription identifier.
    pub subscriptions: Vec<SubscriptionRecord>,
    /// The will still to publish (the attached connection's, or a delayed one pending while offline).
    pub will: Option<WillMessage>,
    /// True while a connection is attached: a restart then counts as that connection's abnormal end.
    pub online: bool,
}

/// One subscription as persisted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRecord {
    /// Topic filter as subscribed (including any `$share/{group}/` prefix).
    pub filter: Arc<str>,
    /// Subscription options as granted.
    pub options: tern_mqtt_codec::SubscriptionOptions,
    /// Subscription identifier, if any.
    pub subscription_id: Option<std::num::NonZeroU32>,
}

/// One durable session's copy of an accepted message: a row in that session's on-disk queue.
#[derive(Debug, Clone)]
pub struct DurableDelivery {
    /// The session's client identifier.
    pub client_id: Arc<str>,
    /// Broker-wide sequence number: orders the session's queue and names the row in later calls.
    pub seq: u64,
    /// The delivery as queued (per-subscriber QoS, RETAIN, subscription ids).
    pub delivery: Delivery,
}

/// What [`Persistence::message_accepted`] must make durable in one commit.
#[derive(Debug)]
pub struct Accepted<'a> {
    /// The message.
    pub msg: &'a Arc<Message>,
    /// The core's ticket for this commit: the stored copies in `deliveries` are not sent to their
    /// subscribers before it completes (a message lost in a crash was then never seen, so its retransmission
    /// is not a duplicate). Return a clone to complete it once durable, or `None` to have the core complete
    /// it at once.
    pub ticket: &'a CommitTicket,
    /// Its copies queued for durable sessions.
    pub deliveries: &'a [DurableDelivery],
    /// It changed the retained store: set or replaced, or deleted when its payload is empty.
    pub retained: bool,
    /// A QoS 2 publish from a durable session: (client id, packet id) now awaiting PUBREL. Committed with
    /// the message, so a retransmission after a restart is recognised and not routed twice.
    pub inbound_qos2: Option<(&'a Arc<str>, u16)>,
}

/// Where durable state goes. Every method is called without any core lock held and must not block for
/// long: a store that needs I/O queues the work and completes tickets from its own thread. Calls for one
/// session arrive in the order the session's state changed.
pub trait Persistence: Send + Sync {
    /// A message was accepted. `None` = already durable; `Some(ticket)` = the publisher's PUBACK/PUBREC
    /// waits for completion.
    fn message_accepted(&self, accepted: &Accepted<'_>) -> Option<CommitTicket>;
    /// A session was created or its subscriptions, expiry, will or online state changed.
    fn session_saved(&self, record: &SessionRecord);
    /// A session ended (expired, clean start, or expiry 0 at disconnect): forget it and its queue.
    fn session_removed(&self, client_id: &str);
    /// A delivery to `client_id` with `packet_id` completed (PUBACK, PUBCOMP, or PUBREC refusing it).
    fn delivery_acked(&self, client_id: &str, packet_id: u16);
    /// Queued row `seq` was sent as `packet_id`: after a restart it is re-sent with DUP and that id.
    fn delivery_sent(&self, _client_id: &str, _seq: u64, _packet_id: u16) {}
    /// The client sent PUBREC for `packet_id`: after a restart the PUBREL is re-sent, not the PUBLISH.
    /// `Some(ticket)` = the PUBREL waits for the commit (once the client has the PUBREL it may forget the
    /// id, and a PUBLISH re-sent after a restart would then be a new message to it).
    fn delivery_released(&self, _client_id: &str, _packet_id: u16) -> Option<CommitTicket> {
        None
    }
    /// Queued rows left the session without being delivered (dropped, expired, handed to another member).
    fn deliveries_dropped(&self, _client_id: &str, _seqs: &[u64]) {}
    /// PUBREL released inbound QoS 2 `packet_id`; `Some(ticket)` = the PUBCOMP waits for the commit, so the
    /// publisher never reuses an id that a restarted broker would still treat as a duplicate.
    fn inbound_released(&self, _client_id: &str, _packet_id: u16) -> Option<CommitTicket> {
        None
    }
    /// True if the store can give queued rows back ([`Persistence::load_queued`]): the core then keeps only
    /// the head of a long queue in memory and leaves the rest on disk.
    fn spills(&self) -> bool {
        false
    }
    /// A ticket completed once everything handed to the store so far is durable (`None`: already is).
    fn sync_point(&self) -> Option<CommitTicket> {
        None
    }
    /// Up to `limit` unsent queued rows of `client_id` after sequence number `after_seq`, in order, with
    /// expiry deadlines on the core's clock `now`, and how many expired rows were skipped (and forgotten).
    fn load_queued(
        &self,
        _client_id: &str,
        _after_seq: u64,
        _limit: usize,
        _now: Instant,
    ) -> (Vec<(u64, Delivery)>, usize) {
        (Vec::new(), 0)
    }
}

/// In-memory persistence: nothing survives a restart, every commit is done at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemoryPersistence;

impl Persistence for MemoryPersistence {
    fn message_accepted(&self, _: &Accepted<'_>) -> Option<CommitTicket> {
        None
    }
    fn session_saved(&self, _: &SessionRecord) {}
    fn session_removed(&self, _: &str) {}
    fn delivery_acked(&self, _: &str, _: u16) {}
}
