//! MQTT 5.0 reason codes (spec section 2.4), one table for every packet that carries one.
//!
//! MQTT 3.1.1 return codes (CONNACK 0-5, SUBACK 0x00-0x02 and 0x80) are mapped to and from this table by the
//! v3 wire code, so the broker reasons in one vocabulary for every protocol level.

use crate::packet::PacketType;

/// Declares the enum, its byte values and names from one table so they cannot drift apart.
macro_rules! reason_codes {
    ($($(#[$doc:meta])* $name:ident = $value:literal,)*) => {
        /// An MQTT 5.0 reason code. Several names share a byte value (0x00 is Success, Normal disconnection and
        /// Granted QoS 0); those are distinct variants that encode alike, and decoding picks by packet type.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ReasonCode {
            $($(#[$doc])* $name,)*
        }

        impl ReasonCode {
            /// The byte sent on the wire.
            pub fn value(self) -> u8 {
                match self { $(ReasonCode::$name => $value,)* }
            }

            /// The spec's name for the code, for logs and error messages.
            pub fn name(self) -> &'static str {
                match self { $(ReasonCode::$name => stringify!($name),)* }
            }
        }
    };
}

reason_codes! {
    /// 0x00 in CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK, AUTH.
    Success = 0x00,
    /// 0x00 in DISCONNECT: close without sending the will.
    NormalDisconnection = 0x00,
    /// 0x00 in SUBACK.
    GrantedQoS0 = 0x00,
    /// 0x01 in SUBACK.
    GrantedQoS1 = 0x01,
    /// 0x02 in SUBACK.
    GrantedQoS2 = 0x02,
    /// 0x04 in DISCONNECT from a client: close and publish the will.
    DisconnectWithWillMessage = 0x04,
    /// 0x10: accepted, but nobody subscribes to the topic.
    NoMatchingSubscribers = 0x10,
    /// 0x11 in UNSUBACK: there was no such subscription.
    NoSubscriptionExisted = 0x11,
    /// 0x18 in AUTH: continue the authentication exchange.
    ContinueAuthentication = 0x18,
    /// 0x19 in AUTH: start re-authentication.
    ReAuthenticate = 0x19,
    /// 0x80: unspecified error (and the 3.1.1 SUBACK failure code).
    UnspecifiedError = 0x80,
    /// 0x81: the packet could not be parsed.
    MalformedPacket = 0x81,
    /// 0x82: the packet was well formed but broke the protocol.
    ProtocolError = 0x82,
    /// 0x83: valid but refused by the implementation.
    ImplementationSpecificError = 0x83,
    /// 0x84 in CONNACK: protocol level not supported.
    UnsupportedProtocolVersion = 0x84,
    /// 0x85 in CONNACK: client identifier refused.
    ClientIdentifierNotValid = 0x85,
    /// 0x86 in CONNACK: bad user name or password.
    BadUserNameOrPassword = 0x86,
    /// 0x87: not authorized.
    NotAuthorized = 0x87,
    /// 0x88: server unavailable.
    ServerUnavailable = 0x88,
    /// 0x89: server busy.
    ServerBusy = 0x89,
    /// 0x8A in CONNACK: client banned.
    Banned = 0x8A,
    /// 0x8B in DISCONNECT: server shutting down.
    ServerShuttingDown = 0x8B,
    /// 0x8C: bad authentication method.
    BadAuthenticationMethod = 0x8C,
    /// 0x8D in DISCONNECT: keep alive timeout.
    KeepAliveTimeout = 0x8D,
    /// 0x8E in DISCONNECT: another connection took the session over.
    SessionTakenOver = 0x8E,
    /// 0x8F: topic filter invalid.
    TopicFilterInvalid = 0x8F,
    /// 0x90: topic name invalid.
    TopicNameInvalid = 0x90,
    /// 0x91: packet identifier in use.
    PacketIdentifierInUse = 0x91,
    /// 0x92: packet identifier not found.
    PacketIdentifierNotFound = 0x92,
    /// 0x93: receive maximum exceeded.
    ReceiveMaximumExceeded = 0x93,
    /// 0x94: topic alias invalid.
    TopicAliasInvalid = 0x94,
    /// 0x95: packet too large.
    PacketTooLarge = 0x95,
    /// 0x96: message rate too high.
    MessageRateTooHigh = 0x96,
    /// 0x97: quota exceeded.
    QuotaExceeded = 0x97,
    /// 0x98: administrative action.
    AdministrativeAction = 0x98,
    /// 0x99: payload format invalid.
    PayloadFormatInvalid = 0x99,
    /// 0x9A: retain not supported.
    RetainNotSupported = 0x9A,
    /// 0x9B: QoS not supported.
    QoSNotSupported = 0x9B,
    /// 0x9C: use another server (temporarily).
    UseAnotherServer = 0x9C,
    /// 0x9D: server moved (permanently).
    ServerMoved = 0x9D,
    /// 0x9E: shared subscriptions not supported.
    SharedSubscriptionsNotSupported = 0x9E,
    /// 0x9F: connection rate exceeded.
    ConnectionRateExceeded = 0x9F,
    /// 0xA0: maximum connect time.
    MaximumConnectTime = 0xA0,
    /// 0xA1: subscription identifiers not supported.
    SubscriptionIdentifiersNotSupported = 0xA1,
    /// 0xA2: wildcard subscriptions not supported.
    WildcardSubscriptionsNotSupported = 0xA2,
}

impl ReasonCode {
    /// True for codes below 0x80, which report success of some kind.
    pub fn is_success(self) -> bool {
        self.value() < 0x80
    }
}

impl std::fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (0x{:02X})", self.name(), self.value())
    }
}

/// The reason codes each packet type may carry (2.4 and each packet's section), with the variant a byte value
/// decodes to in that packet.
fn allowed(packet: PacketType) -> &'static [ReasonCode] {
    use ReasonCode::*;
    match packet {
        PacketType::ConnAck => &[
            Success,
            UnspecifiedError,
            MalformedPacket,
            ProtocolError,
            ImplementationSpecificError,
            UnsupportedProtocolVersion,
            ClientIdentifierNotValid,
            BadUserNameOrPassword,
            NotAuthorized,
            ServerUnavailable,
            ServerBusy,
            Banned,
            BadAuthenticationMethod,
            TopicNameInvalid,
            PacketTooLarge,
            QuotaExceeded,
            PayloadFormatInvalid,
            RetainNotSupported,
            QoSNotSupported,
            UseAnotherServer,
            ServerMoved,
            ConnectionRateExceeded,
        ],
        PacketType::PubAck | PacketType::PubRec => &[
            Success,
            NoMatchingSubscribers,
            UnspecifiedError,
            ImplementationSpecificError,
            NotAuthorized,
            TopicNameInvalid,
            PacketIdentifierInUse,
            QuotaExceeded,
            PayloadFormatInvalid,
        ],
        PacketType::PubRel | PacketType::PubComp => &[Success, PacketIdentifierNotFound],
        PacketType::SubAck => &[
            GrantedQoS0,
            GrantedQoS1,
            GrantedQoS2,
            UnspecifiedError,
            ImplementationSpecificError,
            NotAuthorized,
            TopicFilterInvalid,
            PacketIdentifierInUse,
            QuotaExceeded,
            SharedSubscriptionsNotSupported,
            SubscriptionIdentifiersNotSupported,
            WildcardSubscriptionsNotSupported,
        ],
        PacketType::UnsubAck => &[
            Success,
            NoSubscriptionExisted,
            UnspecifiedError,
            ImplementationSpecificError,
            NotAuthorized,
            TopicFilterInvalid,
            PacketIdentifierInUse,
        ],
        PacketType::Disconnect => &[
            NormalDisconnection,
            DisconnectWithWillMessage,
            UnspecifiedError,
            MalformedPacket,
            ProtocolError,
            ImplementationSpecificError,
            NotAuthorized,
            ServerBusy,
            ServerShuttingDown,
            KeepAliveTimeout,
            SessionTakenOver,
            TopicFilterInvalid,
            TopicNameInvalid,
            ReceiveMaximumExceeded,
            TopicAliasInvalid,
            PacketTooLarge,
            MessageRateTooHigh,
            QuotaExceeded,
            AdministrativeAction,
            PayloadFormatInvalid,
            RetainNotSupported,
            QoSNotSupported,
            UseAnotherServer,
            ServerMoved,
            SharedSubscriptionsNotSupported,
            ConnectionRateExceeded,
            MaximumConnectTime,
            SubscriptionIdentifiersNotSupported,
            WildcardSubscriptionsNotSupported,
        ],
        PacketType::Auth => &[Success, ContinueAuthentication, ReAuthenticate],
        _ => &[],
    }
}

impl ReasonCode {
    /// Decodes a reason code byte as it appears in `packet` (5.0), picking the variant that packet uses for
    /// shared values (0x00 is Success, NormalDisconnection or GrantedQoS0). `None` if not valid there.
    pub fn from_wire(packet: PacketType, value: u8) -> Option<ReasonCode> {
        allowed(packet).iter().copied().find(|c| c.value() == value)
    }

    /// Whether this code's byte value may be sent in `packet` (by value: Success is accepted in DISCONNECT
    /// since it encodes as Normal disconnection).
    pub fn is_valid_for(self, packet: PacketType) -> bool {
        Self::from_wire(packet, self.value()).is_some()
    }

    /// The variants valid in `packet`, for tests and generators.
    pub fn all_for(packet: PacketType) -> &'static [ReasonCode] {
        allowed(packet)
    }

    /// The MQTT 3.1/3.1.1 CONNACK return code for this reason (3.2.2.3 of 3.1.1). Codes with no 3.x
    /// counterpart map to the closest refusal:
    ///
    /// | 5.0 reason | 3.x return code |
    /// |---|---|
    /// | any success code (< 0x80) | 0 accepted |
    /// | UnsupportedProtocolVersion | 1 unacceptable protocol version |
    /// | ClientIdentifierNotValid | 2 identifier rejected |
    /// | BadUserNameOrPassword, BadAuthenticationMethod | 4 bad user name or password |
    /// | NotAuthorized, Banned | 5 not authorized |
    /// | every other error (server busy or unavailable, use another server, quota, malformed, ...) | 3 server unavailable |
    pub fn to_v3_connack(self) -> u8 {
        use ReasonCode::*;
        match self {
            c if c.is_success() => 0,
            UnsupportedProtocolVersion => 1,
            ClientIdentifierNotValid => 2,
            BadUserNameOrPassword | BadAuthenticationMethod => 4,
            NotAuthorized | Banned => 5,
            _ => 3,
        }
    }

    /// The reason for a 3.x CONNACK return code; `None` for values above 5.
    pub fn from_v3_connack(code: u8) -> Option<ReasonCode> {
        use ReasonCode::*;
        Some(match code {
            0 => Success,
            1 => UnsupportedProtocolVersion,
            2 => ClientIdentifierNotValid,
            3 => ServerUnavailable,
            4 => BadUserNameOrPassword,
            5 => NotAuthorized,
            _ => return None,
        })
    }

    /// The 3.x SUBACK return code: granted QoS 0-2, or 0x80 for every failure.
    pub fn to_v3_suback(self) -> u8 {
        match self {
            ReasonCode::GrantedQoS1 => 0x01,
            ReasonCode::GrantedQoS2 => 0x02,
            c if c.is_success() => 0x00,
            _ => 0x80,
        }
    }

    /// The reason for a 3.x SUBACK return code; `None` for values other than 0, 1, 2 and 0x80.
    pub fn from_v3_suback(code: u8) -> Option<ReasonCode> {
        Some(match code {
            0x00 => ReasonCode::GrantedQoS0,
            0x01 => ReasonCode::GrantedQoS1,
            0x02 => ReasonCode::GrantedQoS2,
            0x80 => ReasonCode::UnspecifiedError,
            _ => return None,
        })
    }
}
