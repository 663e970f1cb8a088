//! CONNACK (3.2): the server's answer to CONNECT.

use crate::reason::ReasonCode;
use crate::types::{ByteStr, QoS, UserProperty};
use bytes::Bytes;

/// CONNACK: accepted or refused, whether a session was resumed, and the server's limits (5.0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnAck {
    /// Session Present.
    pub session_present: bool,
    /// Connect reason code; on 3.x mapped to return codes 0-5 by the wire code.
    pub reason_code: ReasonCode,
    /// CONNACK properties (5.0 only).
    pub properties: ConnAckProperties,
}

/// CONNACK properties (3.2.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnAckProperties {
    /// Session Expiry Interval the server will use, when it differs from the client's.
    pub session_expiry_interval: Option<u32>,
    /// Receive Maximum of the server.
    pub receive_maximum: Option<u16>,
    /// Maximum QoS the server supports (absent means 2).
    pub maximum_qos: Option<QoS>,
    /// Retain Available (absent means true).
    pub retain_available: Option<bool>,
    /// Maximum Packet Size the server accepts.
    pub maximum_packet_size: Option<u32>,
    /// Assigned Client Identifier, when the client sent an empty one.
    pub assigned_client_identifier: Option<ByteStr>,
    /// Topic Alias Maximum the server accepts from the client.
    pub topic_alias_maximum: Option<u16>,
    /// Reason String.
    pub reason_string: Option<ByteStr>,
    /// User properties, in order.
    pub user_properties: Vec<UserProperty>,
    /// Wildcard Subscription Available (absent means true).
    pub wildcard_subscription_available: Option<bool>,
    /// Subscription Identifiers Available (absent means true).
    pub subscription_identifiers_available: Option<bool>,
    /// Shared Subscription Available (absent means true).
    pub shared_subscription_available: Option<bool>,
    /// Server Keep Alive: the keep alive the client must use instead of its own.
    pub server_keep_alive: Option<u16>,
    /// Response Information.
    pub response_information: Option<ByteStr>,
    /// Server Reference.
    pub server_reference: Option<ByteStr>,
    /// Authentication Method.
    pub authentication_method: Option<ByteStr>,
    /// Authentication Data (binary).
    pub authentication_data: Option<Bytes>,
}
