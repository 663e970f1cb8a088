//! Typed decode and encode errors.
//!
//! Each message names the MQTT-SN 1.2 section whose layout was violated, so a
//! gateway log line points straight at the rule.

use crate::message::MsgType;

/// Why a datagram could not be decoded.
///
/// Returned instead of panicking for every malformed input; the gateway
/// drops the datagram (or, for CONNECT, answers with a rejection).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The datagram ends before its header (length and message type) does.
    #[error("[MQTT-SN 1.2 §5.2] truncated header: need {needed} octets, have {available}")]
    Truncated {
        /// Octets the header needs.
        needed: usize,
        /// Octets the datagram holds.
        available: usize,
    },
    /// The length field is below the smallest possible message.
    #[error("[MQTT-SN 1.2 §5.2.1] length field {0} is smaller than the header it counts")]
    InvalidLength(usize),
    /// The length field disagrees with the datagram size.
    #[error("[MQTT-SN 1.2 §5.2.1] length field says {declared} octets, datagram has {actual}")]
    LengthMismatch {
        /// Value of the length field.
        declared: usize,
        /// Octets actually present.
        actual: usize,
    },
    /// The message type octet is reserved or unknown.
    #[error("[MQTT-SN 1.2 §5.2.2] unknown or reserved message type 0x{0:02X}")]
    UnknownMessageType(u8),
    /// The body ends before the message's fixed fields do.
    #[error("[MQTT-SN 1.2 §5.4] {msg_type} body of {actual} octets is shorter than its fixed fields")]
    BodyTooShort {
        /// Message being decoded.
        msg_type: MsgType,
        /// Body octets present.
        actual: usize,
    },
    /// Octets follow the last field of a fixed-size message.
    #[error("[MQTT-SN 1.2 §5.4] {msg_type} has {extra} unexpected octets after its last field")]
    TrailingBytes {
        /// Message being decoded.
        msg_type: MsgType,
        /// Number of surplus octets.
        extra: usize,
    },
    /// A string field (client id, topic name, will topic) is not UTF-8.
    #[error("[MQTT-SN 1.2 §5.3] {field} is not valid UTF-8")]
    InvalidUtf8 {
        /// Name of the offending field.
        field: &'static str,
    },
    /// The flags' TopicIdType is the reserved value 0b11.
    #[error("[MQTT-SN 1.2 §5.3.4] reserved TopicIdType 0b11")]
    ReservedTopicIdType,
    /// CONNECT carries a protocol id this decoder does not speak.
    #[error("[MQTT-SN 1.2 §5.3.8] unsupported protocol id 0x{0:02X}")]
    UnsupportedProtocolId(u8),
    /// An Encapsulated Message wraps another Encapsulated Message.
    #[error("[MQTT-SN 1.2 §5.5] encapsulated message may not contain another encapsulation")]
    NestedEncapsulation,
}

/// Why a message could not be encoded.
///
/// The model can hold values the wire cannot express (a payload longer than
/// the 16-bit length field); encode reports that instead of truncating.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The message does not fit the 16-bit length field.
    #[error("[MQTT-SN 1.2 §5.2.1] message of {len} octets exceeds the 65535-octet maximum")]
    MessageTooLong {
        /// Octets the message would need.
        len: usize,
    },
}
