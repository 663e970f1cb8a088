//! Tern's broker as I/O-free state machines: the topic router, sessions, retained messages and the MQTT
//! connection state machine. No sockets, no tokio, no clock: time is an argument, so every flow can be driven
//! by simulated clients on a fake clock. The async shell lives in `tern-broker`.

pub mod message;
pub mod retained;
pub mod router;

pub use message::{Message, SessionId};
