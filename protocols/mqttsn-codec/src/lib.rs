//! MQTT-SN wire codec for Tern: every MQTT-SN 1.2 message, decoded from and
//! encoded to datagrams.
//!
//! This crate owns the message model ([`Message`] and its parts), the
//! MQTT-SN 1.2 wire layout ([`v1_2`]), and typed errors. It does **not** own
//! sessions, topic registries, retransmission, timers or sockets: those
//! belong to `tern-broker-core` (the `SnGateway` state machine) and
//! `tern-transport-mqttsn` (the UDP loop). No I/O, no clock, no async.
//!
//! Decoding takes a whole datagram as [`Bytes`](bytes::Bytes) and returns one message whose
//! payloads, client ids and topic names are slices of that buffer, never
//! copies. Malformed input yields a [`DecodeError`]; decoding never panics.
//! Encoding computes the exact length first and reserves once.
//!
//! MQTT-SN 2.0 will be a sibling wire module sharing this model; pick the
//! layout with [`ProtocolVersion`] via [`Message::decode_as`] and
//! [`Message::encode_as`]. The plain [`Message::decode`] and
//! [`Message::encode`] speak 1.2.
//!
//! # Example
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use tern_mqttsn_codec::{Connect, Message, ProtocolVersion, QoS, Topic, Utf8Bytes};
//!
//! // A QoS -1 PUBLISH of "hi" to predefined topic 7.
//! let datagram = Bytes::from_static(&[0x09, 0x0C, 0x61, 0x00, 0x07, 0x00, 0x00, b'h', b'i']);
//! let Message::Publish(publish) = Message::decode(&datagram)? else {
//!     panic!("expected PUBLISH");
//! };
//! assert_eq!(publish.qos, QoS::MinusOne);
//! assert_eq!(publish.topic, Topic::Predefined(7));
//! assert_eq!(&publish.payload[..], b"hi"); // a slice of `datagram`
//!
//! // A CONNECT with clean session, keep-alive 60 s, client id "dev1".
//! let connect = Message::Connect(Connect {
//!     will: false,
//!     clean_session: true,
//!     version: ProtocolVersion::V1_2,
//!     duration: 60,
//!     client_id: Utf8Bytes::from_static("dev1"),
//! });
//! let mut buf = BytesMut::new();
//! connect.encode(&mut buf)?;
//! assert_eq!(&buf[..], &[0x0A, 0x04, 0x04, 0x01, 0x00, 0x3C, b'd', b'e', b'v', b'1']);
//! assert_eq!(buf.len(), connect.encoded_len());
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

mod error;
pub mod fuzzing;
mod message;
mod qos;
mod return_code;
mod topic;
mod utf8;
pub mod v1_2;
mod version;

pub use error::{DecodeError, EncodeError};
pub use message::{
    Advertise, Connect, Disconnect, Encapsulated, GwInfo, Message, MsgType, PingReq, PubAck, Publish, RegAck,
    Register, SearchGw, SubAck, Subscribe, Unsubscribe, WillMsg, WillTopic,
};
pub use qos::QoS;
pub use return_code::ReturnCode;
pub use topic::{Topic, TopicFilter, TopicIdType};
pub use utf8::Utf8Bytes;
pub use version::ProtocolVersion;

/// Decodes one MQTT-SN 1.2 datagram; shorthand for [`v1_2::decode`].
pub fn decode(datagram: &bytes::Bytes) -> Result<Message, DecodeError> {
    v1_2::decode(datagram)
}
