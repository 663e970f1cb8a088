//! Topic registration: REGISTER and REGACK.

use crate::return_code::ReturnCode;
use crate::utf8::Utf8Bytes;

/// REGISTER (§5.4.10): binds a topic name to a topic id (client to gateway,
/// or gateway to client before a PUBLISH on a wildcard subscription).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Register {
    /// Assigned id when the gateway sends it; 0x0000 when a client sends it.
    pub topic_id: u16,
    /// Id that pairs this REGISTER with its REGACK.
    pub msg_id: u16,
    /// The topic name being registered.
    pub topic_name: Utf8Bytes,
}

/// REGACK (§5.4.11): answer to REGISTER.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RegAck {
    /// The topic id assigned (meaningful when accepted).
    pub topic_id: u16,
    /// Message id of the REGISTER answered.
    pub msg_id: u16,
    /// Whether the registration was accepted.
    pub return_code: ReturnCode,
}
