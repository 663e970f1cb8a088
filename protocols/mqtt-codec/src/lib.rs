//! MQTT 3.1, 3.1.1 and 5.0 packets: the model, decoding, encoding and topic rules.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod codec;
pub mod error;
pub mod fuzzing;
pub mod packet;
mod properties;
pub mod reason;
pub mod topic;
pub mod types;
mod wire;

pub use codec::{decode_one, decode_packet, encode_packet, encoded_len};
pub use error::{DecodeError, EncodeError};
pub use packet::*;
pub use reason::ReasonCode;
pub use types::{ByteStr, PacketId, ProtocolVersion, QoS, UserProperty};
