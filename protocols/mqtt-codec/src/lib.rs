//! MQTT 3.1, 3.1.1 and 5.0 packets: the model, decoding, encoding and topic rules.
//!
//! # What this crate owns
//! - The wire format of every control packet at every level: [`decode_packet`] (incremental, two-phase: fixed
//!   header and remaining length first, then the body parsed as complete input), [`decode_one`],
//!   [`encode_packet`] and [`encoded_len`]. One packet model ([`Packet`]) serves all levels; 5.0 is the superset,
//!   and on 3.x properties are omitted and reason codes map to return codes.
//! - Every rule of the spec that is visible in a single packet: reserved flags, QoS 3, DUP on QoS 0, UTF-8
//!   strings, topic names and filters, packet identifier 0, which properties a packet may carry and how often,
//!   property values, reason codes per packet type, CONNECT flags, the maximum packet size. Violations are
//!   [`DecodeError`]s that name the normative statement and map to the reason code to send
//!   ([`DecodeError::reason_code`]).
//! - Topic rules ([`topic`]): name and filter validation, matching, `$share/{group}/{filter}`.
//! - Zero copy: decoded strings, binary fields and payloads are `Bytes` slices of the receive buffer.
//!
//! # What it does not own
//! Anything that spans packets belongs to the broker (`tern-broker-core`) or the client: sessions and packet
//! identifier bookkeeping, flow control (receive maximum, inflight windows), topic alias mapping, keep alive,
//! the direction a packet may travel in, authentication exchanges, and what to answer to an error. No I/O, no
//! clock.
//!
//! # Example
//! Encode a CONNECT, then decode it from a buffer that fills up in two reads:
//! ```
//! use bytes::BytesMut;
//! use tern_mqtt_codec::{Connect, Packet, ProtocolVersion, decode_packet, encode_packet};
//!
//! let connect = Packet::Connect(Box::new(Connect::new(ProtocolVersion::V5, "sensor-1")));
//! let mut wire = BytesMut::new();
//! encode_packet(&connect, ProtocolVersion::V5, &mut wire)?;
//!
//! let mut received = BytesMut::new();
//! received.extend_from_slice(&wire[..5]);
//! // Not a whole packet yet: nothing is returned and the buffer is kept as it is.
//! assert_eq!(decode_packet(&mut received, ProtocolVersion::V5, 1 << 20)?, None);
//! received.extend_from_slice(&wire[5..]);
//! assert_eq!(decode_packet(&mut received, ProtocolVersion::V5, 1 << 20)?, Some(connect));
//! assert!(received.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
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
