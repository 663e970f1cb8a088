//! [`BrokerCore`]: the state every connection shares — sessions, router, retained store, counters, hooks —
//! and the broker-wide clock work (session expiry, delayed wills, retained expiry, `$SYS`).

mod fanout;
mod publish;
mod restore;
mod sessions;
mod subscribe;
mod sys;

pub use fanout::Fanout;
pub use publish::{PublishError, PublishOutcome};
pub use restore::{Recovered, RecoveredDelivery, RecoveredSession, RestoreCounts};
pub use sessions::{AttachRequest, Attached, DetachKind};
pub use subscribe::{SubscribeError, SubscribeRequest};

use crate::config::CoreConfig;
use crate::message::SessionId;
use crate::persistence::{MemoryPersistence, Persistence};
use crate::policy::{AllowAll, AuthPolicy};
use crate::retained::RetainedStore;
use crate::router::Router;
use crate::session::{Notifier, QueueLimits, Session, lock};
use crate::stats::{Stats, StatsSnapshot};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

/// The hooks a broker is built with: durability and policy.
#[derive(Clone)]
pub struct Hooks {
    /// Where durable state goes ([`MemoryPersistence`] by default).
    pub persistence: Arc<dyn Persistence>,
    /// Who may connect, publish and subscribe ([`AllowAll`] by default).
    pub policy: Arc<dyn AuthPolicy>,
}

impl Default for Hooks {
    fn default() -> Hooks {
        Hooks {
            persistence: Arc::new(MemoryPersistence),
            policy: Arc::new(AllowAll),
        }
    }
}

/// Sessions by client id and by session id, plus the offline-session timers.
#[derive(Default)]
pub(crate) struct SessionTable {
    pub(crate) by_client: HashMap<Arc<str>, Arc<Session>>,
    pub(crate) by_id: HashMap<SessionId, Arc<Session>>,
    /// (due, session) for offline sessions' expiry and delayed wills; stale entries are skipped when they fire.
    pub(crate) timers: BTreeSet<(Instant, SessionId)>,
}

/// The broker: shared as `Arc<BrokerCore>` by every connection task; `Send + Sync`.
///
/// Lock order (a thread holding one may only take those after it): `router` → `sessions` → a session's
/// `state` → `retained` → `sys_next`. `connections` is a leaf. No lock is held while calling a notifier or a
/// hook (persistence, policy).
pub struct BrokerCore {
    pub(crate) config: CoreConfig,
    pub(crate) hooks: Hooks,
    /// Subscriptions; routing takes the read lock.
    pub(crate) router: RwLock<Router>,
    /// Every session; held only for lookups, inserts and removals.
    pub(crate) sessions: Mutex<SessionTable>,
    /// Retained messages.
    pub(crate) retained: Mutex<RetainedStore>,
    /// Notifiers of every live connection (for shutdown), by connection id.
    pub(crate) connections: Mutex<HashMap<u64, Notifier>>,
    pub(crate) next_conn_id: AtomicU64,
    pub(crate) next_session_id: AtomicU64,
    /// Next durable sequence number: orders every session's stored queue (restored from the store).
    pub(crate) next_seq: AtomicU64,
    pub(crate) shutting_down: AtomicBool,
    pub(crate) stats: Stats,
    pub(crate) started: Instant,
    /// When `$SYS` is next published.
    pub(crate) sys_next: Mutex<Option<Instant>>,
    /// Connections per IP and flapping client ids (a leaf lock).
    pub(crate) conn_limits: Arc<crate::limits::ConnLimits>,
}

impl std::fmt::Debug for BrokerCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerCore")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl BrokerCore {
    /// A broker with in-memory persistence and the allow-all policy.
    pub fn new(config: CoreConfig, now: Instant) -> Arc<BrokerCore> {
        BrokerCore::with_hooks(config, Hooks::default(), now)
    }

    /// A broker with the given persistence and policy.
    pub fn with_hooks(config: CoreConfig, hooks: Hooks, now: Instant) -> Arc<BrokerCore> {
        let retained = RetainedStore::new(config.max_retained_messages, config.max_retained_bytes);
        let sys_next = config.sys_interval.map(|_| now);
        Arc::new(BrokerCore {
            hooks,
            router: RwLock::new(Router::new()),
            sessions: Mutex::new(SessionTable::default()),
            retained: Mutex::new(retained),
            connections: Mutex::new(HashMap::new()),
            next_conn_id: AtomicU64::new(1),
            next_session_id: AtomicU64::new(1),
            next_seq: AtomicU64::new(1),
            shutting_down: AtomicBool::new(false),
            stats: Stats::default(),
            started: now,
            sys_next: Mutex::new(sys_next),
            conn_limits: Arc::default(),
            config,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &CoreConfig {
        &self.config
    }

    pub(crate) fn queue_limits(&self) -> QueueLimits {
        QueueLimits {
            max_messages: self.config.max_queued_messages,
            max_bytes: self.config.max_queued_bytes,
            policy: self.config.queue_drop_policy,
        }
    }

    /// The earliest instant `handle_timeout` has work: session expiry, a delayed will, retained expiry,
    /// the next `$SYS` publication.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let sessions = lock(&self.sessions).timers.first().map(|(at, _)| *at);
        let retained = lock(&self.retained).next_expiry();
        let sys = *lock(&self.sys_next);
        [sessions, retained, sys].into_iter().flatten().min()
    }

    /// Does the clock work due at `now`: expires offline sessions (publishing their wills), fires delayed
    /// wills, drops expired retained messages, publishes `$SYS`.
    pub fn handle_timeout(&self, now: Instant) {
        let mut fanout = Fanout::default();
        self.fire_session_timers(now, &mut fanout);
        lock(&self.retained).remove_expired(now);
        self.publish_sys_if_due(now, &mut fanout);
        fanout.flush();
    }

    /// A snapshot of the counters and sizes.
    pub fn stats(&self) -> StatsSnapshot {
        let s = &self.stats;
        let subscriptions = self.router.read().map_or(0, |r| r.subscription_count()) as u64;
        let sessions = lock(&self.sessions).by_id.len() as u64;
        let (retained_messages, retained_bytes) = {
            let r = lock(&self.retained);
            (r.len() as u64, r.bytes() as u64)
        };
        StatsSnapshot {
            connections: Stats::get(&s.connections),
            connections_total: Stats::get(&s.connections_total),
            sessions,
            subscriptions,
            retained_messages,
            retained_bytes,
            messages_in: Stats::get(&s.messages_in),
            messages_out: Stats::get(&s.messages_out),
            bytes_in: Stats::get(&s.bytes_in),
            bytes_out: Stats::get(&s.bytes_out),
            dropped: Stats::get(&s.dropped),
            expired: Stats::get(&s.expired),
            violations: Stats::get(&s.violations),
            wills: Stats::get(&s.wills),
            auth_refused: Stats::get(&s.auth_refused),
            publish_denied: Stats::get(&s.publish_denied),
            subscribe_denied: Stats::get(&s.subscribe_denied),
            publish_rate_limited: Stats::get(&s.publish_rate_limited),
            per_ip_refused: Stats::get(&s.per_ip_refused),
            flap_bans: Stats::get(&s.flap_bans),
            flap_refused: Stats::get(&s.flap_refused),
            connection_rate_refused: Stats::get(&s.connection_rate_refused),
            handshake_failures: Stats::get(&s.handshake_failures),
        }
    }

    /// A listener refused a new connection for its `connection_rate`: counted broker-wide for `$SYS`.
    pub fn note_connection_rate_refused(&self) {
        Stats::add(&self.stats.connection_rate_refused, 1);
    }

    /// A connection failed before MQTT began (PROXY header, TLS, WebSocket or QUIC handshake): counted
    /// broker-wide for `$SYS`.
    pub fn note_handshake_failure(&self) {
        Stats::add(&self.stats.handshake_failures, 1);
    }

    /// Asks every connection to close: each sends DISCONNECT 0x8B (5.0) on its next `poll_transmit`.
    pub fn shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
        let notifiers: Vec<Notifier> = lock(&self.connections).values().cloned().collect();
        for n in notifiers {
            n();
        }
    }

    /// True once [`BrokerCore::shutdown`] was called.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    pub(crate) fn register_connection(&self, notifier: Notifier) -> u64 {
        let id = self.next_conn_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.connections).insert(id, notifier);
        id
    }

    pub(crate) fn unregister_connection(&self, id: u64) {
        lock(&self.connections).remove(&id);
    }
}
