//! PUBACK, PUBREC, PUBREL and PUBCOMP (3.4-3.7): the QoS 1 and QoS 2 handshakes share one shape.

use crate::reason::ReasonCode;
use crate::types::{ByteStr, PacketId, UserProperty};

/// Body of PUBACK, PUBREC, PUBREL and PUBCOMP: which packet, how it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubAck {
    /// The packet identifier being acknowledged.
    pub packet_id: PacketId,
    /// Reason code (5.0); always Success on 3.x.
    pub reason_code: ReasonCode,
    /// Reason string and user properties (5.0).
    pub properties: AckProperties,
}

impl PubAck {
    /// A successful acknowledgement with no properties.
    pub fn new(packet_id: PacketId) -> PubAck {
        PubAck { packet_id, reason_code: ReasonCode::Success, properties: AckProperties::default() }
    }
}

/// The properties every acknowledgement may carry: a reason string and user properties.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AckProperties {
    /// Reason String, for humans.
    pub reason_string: Option<ByteStr>,
    /// User properties, in order.
    pub user_properties: Vec<UserProperty>,
}
