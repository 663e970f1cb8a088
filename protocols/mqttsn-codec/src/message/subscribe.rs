//! Subscriptions: SUBSCRIBE, SUBACK, UNSUBSCRIBE (UNSUBACK carries only a message id).

use crate::qos::QoS;
use crate::return_code::ReturnCode;
use crate::topic::TopicFilter;

/// SUBSCRIBE (§5.4.15).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subscribe {
    /// Retransmission of an earlier SUBSCRIBE.
    pub dup: bool,
    /// Highest QoS the client wants to receive.
    pub qos: QoS,
    /// Id that pairs this SUBSCRIBE with its SUBACK.
    pub msg_id: u16,
    /// Topic name or filter, predefined id, or short name.
    pub topic: TopicFilter,
}

/// SUBACK (§5.4.16): answer to SUBSCRIBE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubAck {
    /// QoS granted.
    pub qos: QoS,
    /// Topic id assigned for a plain topic name; 0x0000 for wildcards and
    /// short names.
    pub topic_id: u16,
    /// Message id of the SUBSCRIBE answered.
    pub msg_id: u16,
    /// Whether the subscription was accepted.
    pub return_code: ReturnCode,
}

/// UNSUBSCRIBE (§5.4.17).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Unsubscribe {
    /// Id that pairs this UNSUBSCRIBE with its UNSUBACK.
    pub msg_id: u16,
    /// The subscription to drop, named as in SUBSCRIBE.
    pub topic: TopicFilter,
}
