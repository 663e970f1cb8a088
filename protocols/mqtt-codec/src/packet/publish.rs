//! PUBLISH (3.3): an application message in either direction.

use crate::types::{ByteStr, PacketId, QoS, UserProperty};
use bytes::Bytes;
use std::num::{NonZeroU16, NonZeroU32};

/// PUBLISH: topic, payload and delivery flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// DUP: this may be a re-delivery.
    pub dup: bool,
    /// QoS of this delivery.
    pub qos: QoS,
    /// RETAIN.
    pub retain: bool,
    /// Topic name; empty only in 5.0 when a topic alias stands in for it.
    pub topic: ByteStr,
    /// Packet identifier: `Some` exactly when QoS > 0.
    pub packet_id: Option<PacketId>,
    /// PUBLISH properties (5.0 only).
    pub properties: PublishProperties,
    /// Application payload, a slice of the received buffer.
    pub payload: Bytes,
}

/// PUBLISH properties (3.3.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublishProperties {
    /// Payload Format Indicator: true when the payload is UTF-8.
    pub payload_format_indicator: Option<bool>,
    /// Message Expiry Interval in seconds (the broker forwards the remaining time).
    pub message_expiry_interval: Option<u32>,
    /// Topic Alias.
    pub topic_alias: Option<NonZeroU16>,
    /// Response Topic.
    pub response_topic: Option<ByteStr>,
    /// Correlation Data (binary).
    pub correlation_data: Option<Bytes>,
    /// User properties, in order.
    pub user_properties: Vec<UserProperty>,
    /// Subscription Identifiers (server to client only; one per matching subscription).
    pub subscription_identifiers: Vec<NonZeroU32>,
    /// Content Type.
    pub content_type: Option<ByteStr>,
}
