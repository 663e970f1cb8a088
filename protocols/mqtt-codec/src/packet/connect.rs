//! CONNECT (3.1): the first packet of every connection.

use crate::types::{ByteStr, ProtocolVersion, QoS, UserProperty};
use bytes::Bytes;

/// CONNECT: who the client is, how it wants its session kept, and its will.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// Protocol level from the variable header; the decoder accepts 3, 4 and 5.
    pub protocol: ProtocolVersion,
    /// Clean Start (5.0) / Clean Session (3.1.1).
    pub clean_start: bool,
    /// Keep alive in seconds; 0 turns the mechanism off.
    pub keep_alive: u16,
    /// Client identifier; may be empty (the server then assigns one, rules per level).
    pub client_id: ByteStr,
    /// The will message, if the Will Flag was set.
    pub will: Option<Will>,
    /// User name, if the User Name Flag was set.
    pub username: Option<ByteStr>,
    /// Password (binary data), if the Password Flag was set.
    pub password: Option<Bytes>,
    /// CONNECT properties (5.0 only; default for earlier levels).
    pub properties: ConnectProperties,
}

/// The will: published by the server when the connection ends abnormally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    /// Topic to publish the will on.
    pub topic: ByteStr,
    /// Will payload (binary).
    pub payload: Bytes,
    /// Will QoS.
    pub qos: QoS,
    /// Will Retain.
    pub retain: bool,
    /// Will properties (5.0 only).
    pub properties: WillProperties,
}

/// CONNECT properties (3.1.2.11).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectProperties {
    /// Session Expiry Interval in seconds; absent means 0 (session ends with the connection).
    pub session_expiry_interval: Option<u32>,
    /// Receive Maximum: QoS 1/2 publishes the client will process at once; absent means 65,535.
    pub receive_maximum: Option<u16>,
    /// Maximum Packet Size the client accepts.
    pub maximum_packet_size: Option<u32>,
    /// Topic Alias Maximum the client accepts from the server; absent means 0.
    pub topic_alias_maximum: Option<u16>,
    /// Request Response Information (0 or 1).
    pub request_response_information: Option<bool>,
    /// Request Problem Information (0 or 1); absent means 1.
    pub request_problem_information: Option<bool>,
    /// User properties, in order.
    pub user_properties: Vec<UserProperty>,
    /// Authentication Method for enhanced authentication.
    pub authentication_method: Option<ByteStr>,
    /// Authentication Data (binary).
    pub authentication_data: Option<Bytes>,
}

/// Will properties (3.1.3.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WillProperties {
    /// Will Delay Interval in seconds.
    pub will_delay_interval: Option<u32>,
    /// Payload Format Indicator: true when the payload is UTF-8.
    pub payload_format_indicator: Option<bool>,
    /// Message Expiry Interval in seconds.
    pub message_expiry_interval: Option<u32>,
    /// Content Type.
    pub content_type: Option<ByteStr>,
    /// Response Topic.
    pub response_topic: Option<ByteStr>,
    /// Correlation Data (binary).
    pub correlation_data: Option<Bytes>,
    /// User properties, in order.
    pub user_properties: Vec<UserProperty>,
}
