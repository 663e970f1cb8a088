//! Decode and encode errors: one variant per class of violation, each convertible to the reason code a broker
//! sends back (CONNACK or DISCONNECT in 5.0; on 3.x the connection is simply closed).

use crate::packet::PacketType;
use crate::reason::ReasonCode;
use crate::topic::TopicError;

/// Why received bytes are not an acceptable MQTT packet. Messages name the spec's normative statement where
/// there is one; [`DecodeError::reason_code`] gives the code to answer with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The remaining length (or another variable byte integer) ran past 4 bytes.
    #[error("[MQTT-1.5.5-1] malformed variable byte integer: more than 4 bytes")]
    MalformedRemainingLength,
    /// The whole packet is larger than the receiver's Maximum Packet Size.
    #[error("[MQTT-3.2.2-15] packet of {size} bytes exceeds the maximum packet size of {max} bytes")]
    PacketTooLarge {
        /// Total packet size announced by the fixed header.
        size: usize,
        /// The limit in force.
        max: u32,
    },
    /// Packet type 0, or AUTH (15) on 3.x, where it is reserved.
    #[error("reserved or unknown control packet type {0} (section 2.1.2)")]
    InvalidPacketType(u8),
    /// The low nibble of the first byte does not have the value the packet type requires.
    #[error("[MQTT-2.2.2-1] reserved flags 0b{flags:04b} of {packet:?} must be 0b{expected:04b}")]
    InvalidHeaderFlags {
        /// The packet type.
        packet: PacketType,
        /// Flags received.
        flags: u8,
        /// Flags required.
        expected: u8,
    },
    /// A QoS field held 3.
    #[error("[MQTT-3.3.1-4] QoS 3 is not a quality of service")]
    InvalidQoS,
    /// DUP was set on a QoS 0 PUBLISH.
    #[error("[MQTT-3.3.1-2] DUP flag set on a QoS 0 PUBLISH")]
    DupWithQoS0,
    /// A field ran past the end of the packet (string length, binary length, fixed-size integer).
    #[error("a field extends past the end of the packet body")]
    Truncated,
    /// Bytes were left over after the last field of the packet.
    #[error("{0} unexpected bytes after the end of the packet body")]
    TrailingBytes(usize),
    /// A UTF-8 string field was not well-formed UTF-8 or contained U+0000.
    #[error("[MQTT-1.5.4-1] [MQTT-1.5.4-2] string is not well-formed UTF-8 or contains U+0000")]
    InvalidUtf8,
    /// A topic name was empty, held a wildcard, or was otherwise invalid.
    #[error("[MQTT-3.3.2-2] invalid topic name: {0}")]
    InvalidTopicName(TopicError),
    /// A topic filter in SUBSCRIBE or UNSUBSCRIBE was invalid.
    #[error("[MQTT-4.7.1-1] invalid topic filter: {0}")]
    InvalidTopicFilter(TopicError),
    /// A SUBSCRIBE or UNSUBSCRIBE carried no topic filter.
    #[error("[MQTT-3.8.3-2] [MQTT-3.10.3-2] {0:?} without any topic filter")]
    EmptyPayload(PacketType),
    /// A packet identifier was 0 where a non-zero one is required.
    #[error("[MQTT-2.2.1-3] packet identifier 0 in {0:?}")]
    ZeroPacketId(PacketType),
    /// A property identifier that does not exist.
    #[error("unknown property identifier 0x{0:02X} (section 2.2.2.2)")]
    UnknownProperty(u8),
    /// A property that is defined, but not for this packet.
    #[error("property 0x{id:02X} is not allowed in {packet} (section 2.2.2.2)")]
    PropertyNotAllowed {
        /// Property identifier.
        id: u8,
        /// Where it appeared (packet type or `will`).
        packet: &'static str,
    },
    /// A property that may appear once appeared again.
    #[error("property 0x{0:02X} included more than once (section 2.2.2.2)")]
    DuplicateProperty(u8),
    /// A property had a value outside its range (receive maximum 0, a boolean above 1, ...).
    #[error("property 0x{id:02X} has invalid value {value} (section 2.2.2.2)")]
    InvalidPropertyValue {
        /// Property identifier.
        id: u8,
        /// The value received.
        value: u32,
    },
    /// Topic Alias 0.
    #[error("[MQTT-3.3.2-8] topic alias 0 is not permitted")]
    TopicAliasZero,
    /// A 5.0 PUBLISH with an empty topic name and no topic alias.
    #[error("[MQTT-3.3.2-1] empty topic name without a topic alias")]
    TopicNameRequired,
    /// A reason code value that is not defined for this packet type.
    #[error("reason code 0x{code:02X} is not valid in {packet:?} (section 2.4)")]
    InvalidReasonCode {
        /// The packet type.
        packet: PacketType,
        /// The byte received.
        code: u8,
    },
    /// The protocol name of CONNECT was neither `MQTT` nor `MQIsdp`.
    #[error("[MQTT-3.1.2-1] protocol name is not MQTT")]
    InvalidProtocolName,
    /// CONNECT announced a protocol level this codec does not speak.
    #[error("[MQTT-3.1.2-2] unsupported protocol level {0}")]
    UnsupportedProtocolVersion(u8),
    /// The reserved bit 0 of the CONNECT flags was set.
    #[error("[MQTT-3.1.2-3] reserved CONNECT flag bit is set")]
    ConnectReservedFlag,
    /// Will QoS or Will Retain set without the Will Flag.
    #[error("[MQTT-3.1.2-11] [MQTT-3.1.2-13] will QoS or will retain set while the will flag is 0")]
    WillFlagsWithoutWill,
    /// Password flag set without the user name flag, on 3.x.
    #[error("[MQTT-3.1.2-22] password flag set without the user name flag")]
    PasswordWithoutUsername,
    /// Reserved bits of the CONNACK acknowledge flags were set.
    #[error("[MQTT-3.2.2-1] reserved CONNACK flag bits are set")]
    ConnAckReservedFlags,
    /// Reserved bits of a subscription options byte were set.
    #[error("[MQTT-3.8.3-5] reserved subscription option bits are set")]
    SubscriptionOptionsReserved,
    /// Retain Handling 3.
    #[error("retain handling 3 is a protocol error (section 3.8.3.1)")]
    InvalidRetainHandling,
    /// Authentication Data without an Authentication Method (CONNECT), or an AUTH body without a method.
    #[error("authentication data or AUTH without an authentication method (section 3.1.2.11.10, 3.15.2.2.2)")]
    AuthenticationMethodMissing,
    /// No Local set on a shared subscription.
    #[error("[MQTT-3.8.3-4] no local set on a shared subscription")]
    NoLocalOnSharedSubscription,
}

impl DecodeError {
    /// The reason code a 5.0 broker sends (in CONNACK or DISCONNECT) before closing the connection.
    pub fn reason_code(&self) -> ReasonCode {
        use DecodeError::*;
        match self {
            PacketTooLarge { .. } => ReasonCode::PacketTooLarge,
            InvalidProtocolName | UnsupportedProtocolVersion(_) => ReasonCode::UnsupportedProtocolVersion,
            TopicAliasZero => ReasonCode::TopicAliasInvalid,
            InvalidTopicName(_) => ReasonCode::TopicNameInvalid,
            InvalidTopicFilter(_) => ReasonCode::TopicFilterInvalid,
            DuplicateProperty(_)
            | InvalidPropertyValue { .. }
            | TopicNameRequired
            | InvalidRetainHandling
            | NoLocalOnSharedSubscription
            | AuthenticationMethodMissing
            | DupWithQoS0
            | ZeroPacketId(_)
            | PasswordWithoutUsername => ReasonCode::ProtocolError,
            MalformedRemainingLength
            | InvalidPacketType(_)
            | InvalidHeaderFlags { .. }
            | InvalidQoS
            | Truncated
            | TrailingBytes(_)
            | InvalidUtf8
            | EmptyPayload(_)
            | UnknownProperty(_)
            | PropertyNotAllowed { .. }
            | InvalidReasonCode { .. }
            | ConnectReservedFlag
            | WillFlagsWithoutWill
            | ConnAckReservedFlags
            | SubscriptionOptionsReserved => ReasonCode::MalformedPacket,
        }
    }
}

impl<I> nom::error::ParseError<I> for DecodeError {
    /// The only nom failures our parsers can produce are "not enough input" on complete data.
    fn from_error_kind(_input: I, _kind: nom::error::ErrorKind) -> Self {
        DecodeError::Truncated
    }

    fn append(_input: I, _kind: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

/// Why a packet cannot be encoded at the requested protocol level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// AUTH exists only in 5.0.
    #[error("AUTH cannot be sent on MQTT 3.x")]
    AuthOnV3,
    /// The remaining length would exceed 268,435,455 bytes.
    #[error("remaining length {0} exceeds the 268,435,455-byte limit")]
    PacketTooLarge(usize),
    /// A UTF-8 string or binary field longer than 65,535 bytes.
    #[error("string or binary field of {0} bytes exceeds 65,535 bytes")]
    FieldTooLong(usize),
    /// A QoS 1/2 PUBLISH without a packet identifier.
    #[error("QoS > 0 PUBLISH without a packet identifier")]
    MissingPacketId,
    /// An empty topic on 3.x, where topic aliases do not exist.
    #[error("PUBLISH with an empty topic cannot be sent on MQTT 3.x")]
    EmptyTopic,
    /// A password without a user name, which 3.x cannot express.
    #[error("[MQTT-3.1.2-22] password without a user name cannot be sent on MQTT 3.x")]
    PasswordWithoutUsername,
    /// A reason code whose value is not defined for the packet type.
    #[error("reason code {code} is not valid in {packet:?}")]
    InvalidReasonCode {
        /// The packet type.
        packet: PacketType,
        /// The reason code.
        code: ReasonCode,
    },
    /// A SUBACK or UNSUBACK (5.0) whose reason codes do not match one per filter, or a SUBSCRIBE /
    /// UNSUBSCRIBE without filters.
    #[error("{0:?} needs at least one entry")]
    EmptyPayload(PacketType),
    /// A property value that cannot be represented (subscription identifier above 268,435,455).
    #[error("property 0x{0:02X} value cannot be encoded")]
    InvalidPropertyValue(u8),
}
