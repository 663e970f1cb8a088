//! The MsgType octet.

use std::fmt;

/// Message type codes of MQTT-SN 1.2 (§5.2.2); reserved codes have no variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
#[allow(missing_docs, reason = "variant names are the spec's message names")]
pub enum MsgType {
    Advertise = 0x00,
    SearchGw = 0x01,
    GwInfo = 0x02,
    Connect = 0x04,
    ConnAck = 0x05,
    WillTopicReq = 0x06,
    WillTopic = 0x07,
    WillMsgReq = 0x08,
    WillMsg = 0x09,
    Register = 0x0A,
    RegAck = 0x0B,
    Publish = 0x0C,
    PubAck = 0x0D,
    PubComp = 0x0E,
    PubRec = 0x0F,
    PubRel = 0x10,
    Subscribe = 0x12,
    SubAck = 0x13,
    Unsubscribe = 0x14,
    UnsubAck = 0x15,
    PingReq = 0x16,
    PingResp = 0x17,
    Disconnect = 0x18,
    WillTopicUpd = 0x1A,
    WillTopicResp = 0x1B,
    WillMsgUpd = 0x1C,
    WillMsgResp = 0x1D,
    Encapsulated = 0xFE,
}

/// Lookup table from code to variant and spec name (checked against the discriminants in tests).
const TABLE: [(u8, MsgType, &str); 28] = [
    (0x00, MsgType::Advertise, "ADVERTISE"),
    (0x01, MsgType::SearchGw, "SEARCHGW"),
    (0x02, MsgType::GwInfo, "GWINFO"),
    (0x04, MsgType::Connect, "CONNECT"),
    (0x05, MsgType::ConnAck, "CONNACK"),
    (0x06, MsgType::WillTopicReq, "WILLTOPICREQ"),
    (0x07, MsgType::WillTopic, "WILLTOPIC"),
    (0x08, MsgType::WillMsgReq, "WILLMSGREQ"),
    (0x09, MsgType::WillMsg, "WILLMSG"),
    (0x0A, MsgType::Register, "REGISTER"),
    (0x0B, MsgType::RegAck, "REGACK"),
    (0x0C, MsgType::Publish, "PUBLISH"),
    (0x0D, MsgType::PubAck, "PUBACK"),
    (0x0E, MsgType::PubComp, "PUBCOMP"),
    (0x0F, MsgType::PubRec, "PUBREC"),
    (0x10, MsgType::PubRel, "PUBREL"),
    (0x12, MsgType::Subscribe, "SUBSCRIBE"),
    (0x13, MsgType::SubAck, "SUBACK"),
    (0x14, MsgType::Unsubscribe, "UNSUBSCRIBE"),
    (0x15, MsgType::UnsubAck, "UNSUBACK"),
    (0x16, MsgType::PingReq, "PINGREQ"),
    (0x17, MsgType::PingResp, "PINGRESP"),
    (0x18, MsgType::Disconnect, "DISCONNECT"),
    (0x1A, MsgType::WillTopicUpd, "WILLTOPICUPD"),
    (0x1B, MsgType::WillTopicResp, "WILLTOPICRESP"),
    (0x1C, MsgType::WillMsgUpd, "WILLMSGUPD"),
    (0x1D, MsgType::WillMsgResp, "WILLMSGRESP"),
    (0xFE, MsgType::Encapsulated, "ENCAPSULATED"),
];

impl MsgType {
    /// Every message type, in code order.
    pub fn all() -> impl Iterator<Item = MsgType> {
        TABLE.iter().map(|(_, t, _)| *t)
    }

    /// The type named by a MsgType octet, or `None` for reserved codes.
    pub fn from_u8(code: u8) -> Option<Self> {
        TABLE.iter().find(|(c, _, _)| *c == code).map(|(_, t, _)| *t)
    }

    /// The MsgType octet.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The spec's upper-case name, e.g. `"PUBLISH"`.
    pub fn name(self) -> &'static str {
        TABLE
            .iter()
            .find(|(_, t, _)| *t == self)
            .map_or("?", |(_, _, n)| n)
    }
}

impl fmt::Display for MsgType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for t in MsgType::all() {
            assert_eq!(MsgType::from_u8(t.code()), Some(t));
            assert!(TABLE.iter().any(|(c, v, _)| *c == t.code() && *v == t));
        }
        for reserved in [0x03, 0x11, 0x19, 0x1E, 0xFD, 0xFF] {
            assert_eq!(MsgType::from_u8(reserved), None);
        }
        assert_eq!(MsgType::Publish.to_string(), "PUBLISH");
    }
}
