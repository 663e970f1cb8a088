//! Tern's broker as I/O-free state machines: the topic router, sessions, retained messages and the MQTT
//! connection state machine. No sockets, no tokio, no clock: time is an argument, so every flow can be driven
//! by simulated clients on a fake clock. The async shell lives in `tern-broker`.
//!
//! Entry points: [`BrokerCore`] (shared state and broker-wide timers, plus the transport-agnostic session
//! manager API: [`BrokerCore::attach`], [`SessionHandle::pull`], acks, [`BrokerCore::detach`],
//! [`BrokerCore::publish`], [`BrokerCore::subscribe`]) and [`MqttConnection`] (one MQTT client's protocol
//! state machine built on that API). Durability and policy are traits ([`Persistence`], [`AuthPolicy`])
//! implemented by `tern-store` and `tern-auth`.
//!
//! # Locks
//! Order: router (`RwLock`) → session table (`Mutex`) → one session's state (`Mutex`) → retained store →
//! `$SYS` clock; the connection registry is a leaf. Notifiers, persistence and policy are called with no lock
//! held. Routing holds the router's read lock and the table lock only to collect `(session, route)` pairs;
//! queueing then takes each target session's lock alone.
//!
//! # Choices where the specification leaves room
//! - QoS 0 messages are not queued for offline sessions, and queued QoS 0 is dropped at disconnect (counted).
//! - A full session queue drops new QoS 0; QoS 1/2 per [`QueueDropPolicy`]; every drop is counted in
//!   [`StatsSnapshot::dropped`] and logged at debug.
//! - Retained store full: a 5.0 QoS 1/2 publish is refused as a whole with Quota exceeded (0x97); QoS 0 and
//!   3.x publishes are routed but not retained (warned).
//! - Clients may not publish to `$SYS` (the broker's) or `$share/...` (a subscription form): 5.0 acks carry
//!   Not authorized (0x87); 3.x acks normally and drops the message (as Mosquitto does for `$SYS`). Other
//!   `$` topics (such as cloud-style `$aws/...`) belong to applications; leading wildcards never match them.
//! - Keep alive above `max_keepalive` (or 0) is replaced through Server Keep Alive on 5.0; 3.x clients
//!   cannot be told, so their own value stands.
//! - Session takeover publishes the old connection's will at once if its delay is 0; a delayed will is
//!   cancelled by the takeover (the session was resumed in time) unless Clean Start ends the old session.
//! - Server shutdown closes without the client's DISCONNECT 0x00, so wills are published (3.1.2.5).
//! - Outbound topic aliases: first come, first served up to the client's maximum, never evicted.
//! - No reason strings or user properties are ever sent on acks, so Request Problem Information = 0 needs no
//!   special case; Response Information is not offered; enhanced authentication (AUTH) runs whatever methods the
//!   policy offers ([`AuthPolicy::start_exchange`]); others get CONNACK 0x8C.
//! - Unacknowledged shared-subscription messages of a member that disconnects go to another member at once
//!   (re-delivered without DUP); if none is left they stay with the session.

pub mod config;
pub mod connection;
mod core;
mod limits;
pub mod message;
pub mod mqttsn;
pub mod persistence;
pub mod policy;
pub mod retained;
pub mod router;
pub mod session;
pub mod stats;

pub use crate::core::{
    AttachRequest, Attached, BrokerCore, DetachKind, Fanout, Hooks, PublishError, PublishOutcome, Recovered,
    RecoveredDelivery, RecoveredSession, RestoreCounts, SubscribeError, SubscribeRequest,
};
pub use config::{CoreConfig, QueueDropPolicy};
pub use connection::Violation;
pub use connection::{ConnMeta, MqttConnection, TransportKind};
pub use limits::TokenBucket;
pub use message::{Message, SessionId};
pub use persistence::{
    Accepted, CommitTicket, DurableDelivery, MemoryPersistence, Persistence, SessionRecord,
    SubscriptionRecord,
};
pub use policy::{AllowAll, AuthExchange, AuthPolicy, AuthStep, ConnectDecision, Identity, PendingAuth};
pub use session::{Delivery, Notifier, Outbound, PullStats, SessionHandle, WillMessage};
pub use stats::StatsSnapshot;
