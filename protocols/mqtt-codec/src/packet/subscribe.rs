//! SUBSCRIBE (3.8), SUBACK (3.9), UNSUBSCRIBE (3.10) and UNSUBACK (3.11).

use super::ack::AckProperties;
use crate::reason::ReasonCode;
use crate::types::{ByteStr, PacketId, QoS, UserProperty};
use std::num::NonZeroU32;

/// SUBSCRIBE: one or more topic filters with their options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// Packet identifier, echoed in SUBACK.
    pub packet_id: PacketId,
    /// SUBSCRIBE properties (5.0).
    pub properties: SubscribeProperties,
    /// Topic filters in order; at least one ([MQTT-3.8.3-2]).
    pub filters: Vec<SubscribeFilter>,
}

/// One topic filter of a SUBSCRIBE and its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeFilter {
    /// The topic filter, possibly `$share/{group}/{filter}`.
    pub filter: ByteStr,
    /// Subscription options.
    pub options: SubscriptionOptions,
}

/// Subscription options (3.8.3.1); on 3.x only the QoS is on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SubscriptionOptions {
    /// Maximum QoS the client accepts on this subscription.
    pub qos: QoS,
    /// No Local: don't send the client its own publishes.
    pub no_local: bool,
    /// Retain As Published: keep the RETAIN flag on forwarded messages.
    pub retain_as_published: bool,
    /// When retained messages are sent for this subscription.
    pub retain_handling: RetainHandling,
}

/// Retain Handling option of a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RetainHandling {
    /// 0: send retained messages at subscribe.
    #[default]
    SendAtSubscribe,
    /// 1: send them only if the subscription did not already exist.
    SendAtSubscribeIfNew,
    /// 2: never send retained messages at subscribe.
    DoNotSend,
}

/// SUBSCRIBE properties (3.8.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubscribeProperties {
    /// Subscription Identifier, delivered with matching messages.
    pub subscription_identifier: Option<NonZeroU32>,
    /// User properties, in order.
    pub user_properties: Vec<UserProperty>,
}

/// SUBACK: one reason code per filter, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    /// Packet identifier of the SUBSCRIBE.
    pub packet_id: PacketId,
    /// Reason string and user properties (5.0).
    pub properties: AckProperties,
    /// Granted QoS or failure, one per filter; on 3.x only GrantedQoS0-2 and UnspecifiedError exist.
    pub reason_codes: Vec<ReasonCode>,
}

/// UNSUBSCRIBE: topic filters to remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    /// Packet identifier, echoed in UNSUBACK.
    pub packet_id: PacketId,
    /// User properties (5.0).
    pub user_properties: Vec<UserProperty>,
    /// Topic filters in order; at least one ([MQTT-3.10.3-2]).
    pub filters: Vec<ByteStr>,
}

/// UNSUBACK: one reason code per filter in 5.0, none in 3.x.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    /// Packet identifier of the UNSUBSCRIBE.
    pub packet_id: PacketId,
    /// Reason string and user properties (5.0).
    pub properties: AckProperties,
    /// One reason code per filter (5.0); empty on 3.x.
    pub reason_codes: Vec<ReasonCode>,
}
