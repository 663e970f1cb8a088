//! Tern's broker as I/O-free state machines: the topic router, sessions, retained messages and the MQTT
//! connection state machine. No sockets, no tokio, no clock: time is an argument, so every flow can be driven
//! by simulated clients on a fake clock. The async shell lives in `tern-broker`.
//!
//! Entry points: [`BrokerCore`] (shared state and broker-wide timers, the session manager API used by every
//! transport) and [`MqttConnection`] (one MQTT client's protocol state machine). Durability and policy are
//! traits ([`Persistence`], [`AuthPolicy`]) implemented by `tern-store` and `tern-auth`.

pub mod config;
pub mod connection;
mod core;
pub mod message;
pub mod persistence;
pub mod policy;
pub mod retained;
pub mod router;
pub mod session;
pub mod stats;

pub use crate::core::{
    AttachRequest, Attached, BrokerCore, DetachKind, Fanout, Hooks, PublishError, PublishOutcome,
    SubscribeError, SubscribeRequest,
};
pub use config::{CoreConfig, QueueDropPolicy};
pub use connection::Violation;
pub use connection::{ConnMeta, MqttConnection, TransportKind};
pub use message::{Message, SessionId};
pub use persistence::{CommitTicket, MemoryPersistence, Persistence, SessionRecord, SubscriptionRecord};
pub use policy::{AllowAll, AuthPolicy, Identity};
pub use session::{Delivery, Notifier, Outbound, PullStats, SessionHandle, WillMessage};
pub use stats::StatsSnapshot;
