//! Protocol violations by a client: one variant per rule, each naming the spec's normative statement and
//! mapping to the reason code of the DISCONNECT sent on 5.0 (3.x connections are simply closed).

use tern_mqtt_codec::{DecodeError, ReasonCode};

/// Why the broker closes a connection on the client's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
    /// The bytes were not a valid packet.
    #[error("malformed packet: {0}")]
    Malformed(#[from] DecodeError),
    /// CONNECT on a connection that already sent one.
    #[error("[MQTT-3.1.0-2] second CONNECT on the connection")]
    SecondConnect,
    /// AUTH although CONNECT carried no Authentication Method.
    #[error("AUTH without an authentication method in CONNECT (section 4.12)")]
    UnexpectedAuth,
    /// AUTH whose Authentication Method differs from CONNECT's.
    #[error("[MQTT-4.12.0-5] AUTH with an authentication method other than CONNECT's")]
    AuthMethodChanged,
    /// AUTH with a reason code that does not fit the exchange (0x18 to continue, 0x19 to re-authenticate).
    #[error("AUTH reason code does not fit the exchange's state (section 4.12)")]
    AuthReasonCode,
    /// A packet other than AUTH or DISCONNECT while CONNECT's enhanced authentication runs.
    #[error("[MQTT-3.1.2-30] packet other than AUTH or DISCONNECT before CONNACK")]
    PacketDuringAuth,
    /// A packet only servers send (CONNACK, SUBACK, UNSUBACK, PINGRESP).
    #[error("server-to-client packet received from a client (section 2.1.2)")]
    ServerPacket,
    /// DISCONNECT set a session expiry interval after CONNECT had 0.
    #[error("[MQTT-3.14.2-2] session expiry interval set in DISCONNECT after 0 in CONNECT")]
    ExpiryRaisedFromZero,
    /// PUBLISH with a QoS above the Maximum QoS we announced.
    #[error("[MQTT-3.2.2-11] PUBLISH QoS above the announced Maximum QoS")]
    QoSNotSupported,
    /// PUBLISH with RETAIN although Retain Available is 0.
    #[error("[MQTT-3.2.2-14] RETAIN set although Retain Available is 0")]
    RetainNotSupported,
    /// A topic alias above the Topic Alias Maximum we announced (or any alias when we announced none).
    #[error("[MQTT-3.3.2-9] topic alias above the announced Topic Alias Maximum")]
    TopicAliasTooLarge,
    /// An empty topic with an alias never set on this connection.
    #[error("topic alias used before it was set on this connection (section 3.3.2.3.4)")]
    UnknownTopicAlias,
    /// An empty topic name without a topic alias.
    #[error("[MQTT-3.3.2-1] empty topic name without a topic alias")]
    EmptyTopic,
    /// More QoS 1/2 publishes unacknowledged than the Receive Maximum we announced.
    #[error("[MQTT-3.3.4-7] more QoS 1/2 publishes in flight than the announced Receive Maximum")]
    ReceiveMaximumExceeded,
    /// No Local on a shared subscription.
    #[error("[MQTT-3.8.3-4] No Local set on a shared subscription")]
    NoLocalOnShared,
}

impl Violation {
    /// The reason code of the DISCONNECT sent on 5.0.
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            Violation::Malformed(e) => e.reason_code(),
            Violation::QoSNotSupported => ReasonCode::QoSNotSupported,
            Violation::RetainNotSupported => ReasonCode::RetainNotSupported,
            Violation::TopicAliasTooLarge => ReasonCode::TopicAliasInvalid,
            Violation::ReceiveMaximumExceeded => ReasonCode::ReceiveMaximumExceeded,
            Violation::SecondConnect
            | Violation::UnexpectedAuth
            | Violation::AuthMethodChanged
            | Violation::AuthReasonCode
            | Violation::PacketDuringAuth
            | Violation::ServerPacket
            | Violation::ExpiryRaisedFromZero
            | Violation::UnknownTopicAlias
            | Violation::EmptyTopic
            | Violation::NoLocalOnShared => ReasonCode::ProtocolError,
        }
    }
}
