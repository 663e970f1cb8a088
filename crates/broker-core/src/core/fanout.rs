//! Scratch space for routing and the batch of sessions to wake: a connection keeps one and reuses it, so a
//! whole read's worth of publishes is routed before any notifier runs, without allocating per message.

use crate::message::SessionId;
use crate::persistence::{CommitTicket, DurableDelivery};
use crate::router::Route;
use crate::session::{Notifier, Session};
use std::sync::Arc;

/// Reusable buffers for [`BrokerCore`](crate::BrokerCore) publishing plus the pending wake-ups.
#[derive(Default)]
pub struct Fanout {
    pub(crate) routes: Vec<Route>,
    pub(crate) targets: Vec<(Arc<Session>, Route)>,
    /// Copies queued for durable sessions by the publish in progress, for the persistence hook.
    pub(crate) durable: Vec<DurableDelivery>,
    /// Stored rows dropped from full queues, reported to the persistence hook after the locks are released.
    pub(crate) dropped: Vec<(Arc<str>, Vec<u64>)>,
    /// The commit the publish in progress waits for, made by its first durable copy; stored deliveries carry
    /// it and are held until it is done.
    pub(crate) commit: Option<CommitTicket>,
    /// Whether the publish in progress goes through the persistence hook (not for `$SYS`).
    pub(crate) persist: bool,
    wake: Vec<(SessionId, Notifier)>,
    /// The publishing connection (id, resume notifier, own session) when back-pressure applies to it: a
    /// target queue past its high watermark registers it and sets `congested`.
    pub(crate) publisher: Option<(u64, Notifier, Option<SessionId>)>,
    /// Set when a publish met an online session's queue past its high watermark.
    pub(crate) congested: bool,
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fanout")
            .field("pending_wakeups", &self.wake.len())
            .finish()
    }
}

impl Fanout {
    /// Remembers to wake a session's owner once the batch is done.
    pub(crate) fn wake(&mut self, session: SessionId, notifier: Notifier) {
        if self.wake.last().is_some_and(|(s, _)| *s == session) {
            return;
        }
        self.wake.push((session, notifier));
    }

    /// Calls every pending notifier once (no lock is held here).
    pub fn flush(&mut self) {
        if self.wake.is_empty() {
            return;
        }
        self.wake.sort_unstable_by_key(|(s, _)| *s);
        self.wake.dedup_by_key(|(s, _)| *s);
        for (_, n) in self.wake.drain(..) {
            n();
        }
    }
}

impl Drop for Fanout {
    fn drop(&mut self) {
        self.flush();
    }
}
