//! MQTT 3.1, 3.1.1 and 5.0 packets: the model, decoding, encoding and topic rules. (Decode and encode are
//! being written; this commit holds the packet model other crates build against.)
#![forbid(unsafe_code)]

pub mod packet;
pub mod reason;
pub mod types;

pub use packet::*;
pub use reason::ReasonCode;
pub use types::{ByteStr, PacketId, ProtocolVersion, QoS, UserProperty};
