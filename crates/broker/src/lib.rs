//! Tern's async shell around the I/O-free core (`tern-broker-core`): one tokio task per connection that
//! owns its `MqttConnection`, the core's timer task, and graceful shutdown.
//!
//! Frontends (TCP, TLS, WebSocket, QUIC) only turn their transport into an `AsyncRead + AsyncWrite` byte
//! stream and call [`Broker::serve_stream`]; no MQTT logic lives in a frontend. This crate owns no sockets of
//! its own: listeners live in the `tern-transport-*` crates.

mod driver;
mod handle;
mod timer;
mod wakeup;

pub use driver::DriverConfig;
pub use handle::{Broker, ConnectionGuard, ShutdownSignal};
pub use tern_broker_core::{ConnMeta, CoreConfig, TokenBucket, TransportKind};
