//! The message model shared by every MQTT-SN version.
//!
//! Types here say *what* a message carries; the `v1_2` module says how those
//! fields are laid out on the wire. A future MQTT-SN 2.0 wire module reuses
//! these types, adding fields or variants where 2.0 is a superset.

mod connect;
mod encapsulated;
mod gateway;
mod msg_type;
mod publish;
mod register;
mod subscribe;
mod will;

#[cfg(test)]
pub(crate) mod arbitrary;

pub use connect::{Connect, Disconnect, PingReq};
pub use encapsulated::Encapsulated;
pub use gateway::{Advertise, GwInfo, SearchGw};
pub use msg_type::MsgType;
pub use publish::{PubAck, Publish};
pub use register::{RegAck, Register};
pub use subscribe::{SubAck, Subscribe, Unsubscribe};
pub use will::{WillMsg, WillTopic};

use crate::error::{DecodeError, EncodeError};
use crate::return_code::ReturnCode;
use crate::version::ProtocolVersion;
use bytes::{Bytes, BytesMut};

/// One MQTT-SN message, as exchanged between client, forwarder and gateway.
///
/// Non-exhaustive because MQTT-SN 2.0 adds messages (AUTH) to this model.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// ADVERTISE: a gateway announces itself.
    Advertise(Advertise),
    /// SEARCHGW: a client looks for a gateway.
    SearchGw(SearchGw),
    /// GWINFO: answer to SEARCHGW.
    GwInfo(GwInfo),
    /// CONNECT: a client opens a session.
    Connect(Connect),
    /// CONNACK: the gateway's answer to CONNECT.
    ConnAck {
        /// Whether the connection was accepted.
        return_code: ReturnCode,
    },
    /// WILLTOPICREQ: the gateway asks for the will topic.
    WillTopicReq,
    /// WILLTOPIC: the will topic; `None` is the empty form that deletes the will.
    WillTopic(Option<WillTopic>),
    /// WILLMSGREQ: the gateway asks for the will message.
    WillMsgReq,
    /// WILLMSG: the will message.
    WillMsg(WillMsg),
    /// REGISTER: maps a topic name to a topic id.
    Register(Register),
    /// REGACK: answer to REGISTER.
    RegAck(RegAck),
    /// PUBLISH: application data on a topic.
    Publish(Publish),
    /// PUBACK: QoS 1 acknowledgement, or a rejection of a PUBLISH.
    PubAck(PubAck),
    /// PUBCOMP: last step of the QoS 2 handshake.
    PubComp {
        /// Message id of the PUBLISH being completed.
        msg_id: u16,
    },
    /// PUBREC: first answer in the QoS 2 handshake.
    PubRec {
        /// Message id of the PUBLISH received.
        msg_id: u16,
    },
    /// PUBREL: release step of the QoS 2 handshake.
    PubRel {
        /// Message id of the PUBLISH released.
        msg_id: u16,
    },
    /// SUBSCRIBE: a client subscribes to a topic.
    Subscribe(Subscribe),
    /// SUBACK: answer to SUBSCRIBE.
    SubAck(SubAck),
    /// UNSUBSCRIBE: a client drops a subscription.
    Unsubscribe(Unsubscribe),
    /// UNSUBACK: answer to UNSUBSCRIBE.
    UnsubAck {
        /// Message id of the UNSUBSCRIBE acknowledged.
        msg_id: u16,
    },
    /// PINGREQ: keep-alive, or a sleeping client waking up (with its client id).
    PingReq(PingReq),
    /// PINGRESP: answer to PINGREQ.
    PingResp,
    /// DISCONNECT: close a session, or go to sleep (with a duration).
    Disconnect(Disconnect),
    /// WILLTOPICUPD: change the will topic; `None` is the empty form that deletes the will.
    WillTopicUpd(Option<WillTopic>),
    /// WILLTOPICRESP: answer to WILLTOPICUPD.
    WillTopicResp {
        /// Whether the update was accepted.
        return_code: ReturnCode,
    },
    /// WILLMSGUPD: change the will message.
    WillMsgUpd(WillMsg),
    /// WILLMSGRESP: answer to WILLMSGUPD.
    WillMsgResp {
        /// Whether the update was accepted.
        return_code: ReturnCode,
    },
    /// Encapsulated Message: a forwarder's envelope around another message.
    Encapsulated(Encapsulated),
}

impl Message {
    /// The message type octet this message is sent with.
    pub const fn msg_type(&self) -> MsgType {
        match self {
            Self::Advertise(_) => MsgType::Advertise,
            Self::SearchGw(_) => MsgType::SearchGw,
            Self::GwInfo(_) => MsgType::GwInfo,
            Self::Connect(_) => MsgType::Connect,
            Self::ConnAck { .. } => MsgType::ConnAck,
            Self::WillTopicReq => MsgType::WillTopicReq,
            Self::WillTopic(_) => MsgType::WillTopic,
            Self::WillMsgReq => MsgType::WillMsgReq,
            Self::WillMsg(_) => MsgType::WillMsg,
            Self::Register(_) => MsgType::Register,
            Self::RegAck(_) => MsgType::RegAck,
            Self::Publish(_) => MsgType::Publish,
            Self::PubAck(_) => MsgType::PubAck,
            Self::PubComp { .. } => MsgType::PubComp,
            Self::PubRec { .. } => MsgType::PubRec,
            Self::PubRel { .. } => MsgType::PubRel,
            Self::Subscribe(_) => MsgType::Subscribe,
            Self::SubAck(_) => MsgType::SubAck,
            Self::Unsubscribe(_) => MsgType::Unsubscribe,
            Self::UnsubAck { .. } => MsgType::UnsubAck,
            Self::PingReq(_) => MsgType::PingReq,
            Self::PingResp => MsgType::PingResp,
            Self::Disconnect(_) => MsgType::Disconnect,
            Self::WillTopicUpd(_) => MsgType::WillTopicUpd,
            Self::WillTopicResp { .. } => MsgType::WillTopicResp,
            Self::WillMsgUpd(_) => MsgType::WillMsgUpd,
            Self::WillMsgResp { .. } => MsgType::WillMsgResp,
            Self::Encapsulated(_) => MsgType::Encapsulated,
        }
    }

    /// Decodes one MQTT-SN 1.2 datagram; see [`crate::v1_2::decode`].
    pub fn decode(datagram: &Bytes) -> Result<Self, DecodeError> {
        crate::v1_2::decode(datagram)
    }

    /// Decodes one datagram in the wire layout of `version`.
    pub fn decode_as(version: ProtocolVersion, datagram: &Bytes) -> Result<Self, DecodeError> {
        match version {
            ProtocolVersion::V1_2 => crate::v1_2::decode(datagram),
        }
    }

    /// Octets [`Message::encode`] will write (MQTT-SN 1.2 layout).
    pub fn encoded_len(&self) -> usize {
        crate::v1_2::encoded_len(self)
    }

    /// Octets [`Message::encode_as`] will write for `version`.
    pub fn encoded_len_as(&self, version: ProtocolVersion) -> usize {
        match version {
            ProtocolVersion::V1_2 => crate::v1_2::encoded_len(self),
        }
    }

    /// Appends the MQTT-SN 1.2 encoding to `buf`, reserving space once.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        crate::v1_2::encode(self, buf)
    }

    /// Appends the encoding for `version` to `buf`, reserving space once.
    pub fn encode_as(&self, version: ProtocolVersion, buf: &mut BytesMut) -> Result<(), EncodeError> {
        match version {
            ProtocolVersion::V1_2 => crate::v1_2::encode(self, buf),
        }
    }
}
