//! The durability hook. The core calls a [`Persistence`] at every point where state must survive a restart
//! (message accepted for a durable session or the retained store, session created/changed/removed, delivery
//! acknowledged); `tern-store` implements it over redb. A publisher's PUBACK/PUBREC waits for the commit:
//! [`Persistence::message_accepted`] may hand back a [`CommitTicket`] that the store completes later (after a
//! group fsync), and the connection parks the ack until then. [`MemoryPersistence`] completes at once.

use crate::message::Message;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Called when a commit completes; the connection's notifier, so the shell polls and sends the parked ack.
pub type CommitWaker = Arc<dyn Fn() + Send + Sync>;

/// One pending commit: the store keeps a clone and calls [`CommitTicket::complete`] once the data is durable.
#[derive(Clone, Default)]
pub struct CommitTicket(Arc<TicketInner>);

#[derive(Default)]
struct TicketInner {
    done: AtomicBool,
    /// Who to wake on completion; locked only to swap the waker in or out, never while calling it.
    waker: Mutex<Option<CommitWaker>>,
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

/// The durable picture of a session, written whenever it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The client identifier that keys the session.
    pub client_id: Arc<str>,
    /// Session expiry interval in seconds.
    pub expiry_interval: u32,
    /// Subscriptions: filter, maximum QoS, No Local, Retain As Published, subscription identifier.
    pub subscriptions: Vec<SubscriptionRecord>,
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

/// Where durable state goes. Every method is called without any core lock held and must not block for
/// long: a store that needs I/O queues the work and completes tickets from its own thread.
pub trait Persistence: Send + Sync {
    /// A message was accepted: QoS 1/2 queued for the durable sessions named in `durable_sessions`, and/or
    /// (`retained`) it changed the retained store — set or replaced, or deleted when its payload is empty.
    /// `None` = already durable; `Some(ticket)` = the publisher's PUBACK/PUBREC waits for completion.
    fn message_accepted(
        &self,
        msg: &Arc<Message>,
        durable_sessions: &[Arc<str>],
        retained: bool,
    ) -> Option<CommitTicket>;
    /// A session was created or its subscriptions / expiry changed.
    fn session_saved(&self, record: &SessionRecord);
    /// A session ended (expired, clean start, or expiry 0 at disconnect).
    fn session_removed(&self, client_id: &str);
    /// A delivery to `client_id` with `packet_id` completed (PUBACK or PUBCOMP): the store may forget it.
    fn delivery_acked(&self, client_id: &str, packet_id: u16);
}

/// In-memory persistence: nothing survives a restart, every commit is done at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemoryPersistence;

impl Persistence for MemoryPersistence {
    fn message_accepted(&self, _: &Arc<Message>, _: &[Arc<str>], _: bool) -> Option<CommitTicket> {
        None
    }
    fn session_saved(&self, _: &SessionRecord) {}
    fn session_removed(&self, _: &str) {}
    fn delivery_acked(&self, _: &str, _: u16) {}
}
