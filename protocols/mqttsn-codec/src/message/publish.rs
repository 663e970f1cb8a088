//! Application data: PUBLISH and PUBACK (PUBREC/PUBREL/PUBCOMP carry only a message id).

use crate::qos::QoS;
use crate::return_code::ReturnCode;
use crate::topic::Topic;
use bytes::Bytes;
use std::fmt;

/// PUBLISH (§5.4.12).
///
/// `Debug` shows the payload length, never its content.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Publish {
    /// Retransmission of an earlier PUBLISH.
    pub dup: bool,
    /// Delivery level, including QoS -1.
    pub qos: QoS,
    /// Whether the gateway should retain the message.
    pub retain: bool,
    /// Target topic: registered id, predefined id or short name.
    pub topic: Topic,
    /// Message id (0x0000 for QoS 0 and -1).
    pub msg_id: u16,
    /// Application payload, a slice of the datagram it was decoded from.
    pub payload: Bytes,
}

impl fmt::Debug for Publish {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publish")
            .field("dup", &self.dup)
            .field("qos", &self.qos)
            .field("retain", &self.retain)
            .field("topic", &self.topic)
            .field("msg_id", &self.msg_id)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

/// PUBACK (§5.4.13): acknowledges a QoS 1 PUBLISH, or rejects any PUBLISH.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PubAck {
    /// TopicId field copied from the PUBLISH.
    pub topic_id: u16,
    /// Message id of the PUBLISH.
    pub msg_id: u16,
    /// Accepted, or why the PUBLISH was rejected.
    pub return_code: ReturnCode,
}
