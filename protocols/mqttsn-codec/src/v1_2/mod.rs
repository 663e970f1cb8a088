//! MQTT-SN 1.2 wire format: framing, the Flags octet, and each message's layout.
//!
//! Everything specific to 1.2 lives here so a `v2_0` sibling can be added
//! without touching the shared model ([`crate::Message`] and its parts).
//!
//! Decoding is liberal where the spec allows it (unused flag bits are
//! ignored; the 3-octet length form is accepted even for short messages)
//! and strict about structure (the length must match the datagram; fixed
//! fields must be present; no trailing octets after fixed-size messages).
//! Encoding is canonical: shortest length form, unused flag bits zero.

mod body;
mod connect;
mod encapsulated;
mod flags;
mod gateway;
mod publish;
mod register;
mod subscribe;
mod will;

#[cfg(test)]
mod golden;
#[cfg(test)]
mod proptests;

use crate::error::{DecodeError, EncodeError};
use crate::message::{Message, MsgType};
use body::Body;
use bytes::{BufMut, Bytes, BytesMut};

/// Largest message the 16-bit length field can describe.
pub const MAX_MESSAGE_LEN: usize = u16::MAX as usize;

/// Marker octet that introduces the 3-octet length form.
const LONG_LENGTH_MARKER: u8 = 0x01;

/// The framing of the message at the front of a buffer, read without
/// decoding its body.
///
/// Lets a forwarder or the encapsulation path find where a message ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Value of the Length field: octets in the whole message, header
    /// included. For an Encapsulated Message it counts only the envelope
    /// (up to the end of the wireless node id), not the wrapped message.
    pub len: usize,
    /// Octets used by the Length field itself (1 or 3).
    pub length_field_len: usize,
    /// The MsgType octet, possibly reserved.
    pub msg_type: u8,
}

/// Reads the Length and MsgType fields at the front of `buf`.
///
/// `Ok(None)` means `buf` is too short to hold them yet; an error means
/// the Length field can never be valid.
pub fn peek_frame(buf: &[u8]) -> Result<Option<FrameHeader>, DecodeError> {
    match buf {
        [LONG_LENGTH_MARKER, hi, lo, msg_type, ..] => {
            let len = usize::from(u16::from_be_bytes([*hi, *lo]));
            if len < 4 {
                return Err(DecodeError::InvalidLength(len));
            }
            Ok(Some(FrameHeader {
                len,
                length_field_len: 3,
                msg_type: *msg_type,
            }))
        }
        [LONG_LENGTH_MARKER, ..] => Ok(None),
        [0, ..] => Err(DecodeError::InvalidLength(0)),
        [len, msg_type, ..] => Ok(Some(FrameHeader {
            len: usize::from(*len),
            length_field_len: 1,
            msg_type: *msg_type,
        })),
        _ => Ok(None),
    }
}

/// Decodes one MQTT-SN 1.2 message that fills `datagram` exactly.
///
/// Payloads, client ids and topic names in the result are slices of
/// `datagram` (no copies). Never panics; every malformed input yields a
/// [`DecodeError`].
pub fn decode(datagram: &Bytes) -> Result<Message, DecodeError> {
    decode_frame(datagram, true)
}

/// Decodes one message; `allow_encapsulated` is false inside an envelope.
fn decode_frame(datagram: &Bytes, allow_encapsulated: bool) -> Result<Message, DecodeError> {
    let header = peek_frame(datagram)?.ok_or(DecodeError::Truncated {
        needed: match datagram.first() {
            Some(&LONG_LENGTH_MARKER) => 4,
            _ => 2,
        },
        available: datagram.len(),
    })?;
    let msg_type =
        MsgType::from_u8(header.msg_type).ok_or(DecodeError::UnknownMessageType(header.msg_type))?;
    if msg_type == MsgType::Encapsulated {
        if !allow_encapsulated {
            return Err(DecodeError::NestedEncapsulation);
        }
        return encapsulated::decode(datagram, header);
    }
    if header.len != datagram.len() {
        return Err(DecodeError::LengthMismatch {
            declared: header.len,
            actual: datagram.len(),
        });
    }
    let data = datagram
        .get(header.length_field_len + 1..)
        .ok_or(DecodeError::InvalidLength(header.len))?;
    decode_body(&Body::new(datagram, data, msg_type))
}

/// Decodes the body of a non-encapsulated message.
fn decode_body(b: &Body<'_>) -> Result<Message, DecodeError> {
    let empty = |m: Message| b.end(b.data()).map(|()| m);
    match b.msg_type() {
        MsgType::Advertise => gateway::decode_advertise(b).map(Message::Advertise),
        MsgType::SearchGw => gateway::decode_searchgw(b).map(Message::SearchGw),
        MsgType::GwInfo => gateway::decode_gwinfo(b).map(Message::GwInfo),
        MsgType::Connect => connect::decode_connect(b).map(Message::Connect),
        MsgType::ConnAck => return_code(b).map(|return_code| Message::ConnAck { return_code }),
        MsgType::WillTopicReq => empty(Message::WillTopicReq),
        MsgType::WillTopic => will::decode_will_topic(b).map(Message::WillTopic),
        MsgType::WillMsgReq => empty(Message::WillMsgReq),
        MsgType::WillMsg => Ok(Message::WillMsg(will::decode_will_msg(b))),
        MsgType::Register => register::decode_register(b).map(Message::Register),
        MsgType::RegAck => register::decode_regack(b).map(Message::RegAck),
        MsgType::Publish => publish::decode_publish(b).map(Message::Publish),
        MsgType::PubAck => publish::decode_puback(b).map(Message::PubAck),
        MsgType::PubComp => msg_id(b).map(|msg_id| Message::PubComp { msg_id }),
        MsgType::PubRec => msg_id(b).map(|msg_id| Message::PubRec { msg_id }),
        MsgType::PubRel => msg_id(b).map(|msg_id| Message::PubRel { msg_id }),
        MsgType::Subscribe => subscribe::decode_subscribe(b).map(Message::Subscribe),
        MsgType::SubAck => subscribe::decode_suback(b).map(Message::SubAck),
        MsgType::Unsubscribe => subscribe::decode_unsubscribe(b).map(Message::Unsubscribe),
        MsgType::UnsubAck => msg_id(b).map(|msg_id| Message::UnsubAck { msg_id }),
        MsgType::PingReq => connect::decode_pingreq(b).map(Message::PingReq),
        MsgType::PingResp => empty(Message::PingResp),
        MsgType::Disconnect => connect::decode_disconnect(b).map(Message::Disconnect),
        MsgType::WillTopicUpd => will::decode_will_topic(b).map(Message::WillTopicUpd),
        MsgType::WillTopicResp => return_code(b).map(|return_code| Message::WillTopicResp { return_code }),
        MsgType::WillMsgUpd => Ok(Message::WillMsgUpd(will::decode_will_msg(b))),
        MsgType::WillMsgResp => return_code(b).map(|return_code| Message::WillMsgResp { return_code }),
        MsgType::Encapsulated => Err(DecodeError::NestedEncapsulation),
    }
}

/// A body that is exactly one ReturnCode octet.
fn return_code(b: &Body<'_>) -> Result<crate::ReturnCode, DecodeError> {
    b.exact(nom::number::complete::be_u8).map(crate::ReturnCode::from)
}

/// A body that is exactly one MsgId.
fn msg_id(b: &Body<'_>) -> Result<u16, DecodeError> {
    b.exact(nom::number::complete::be_u16)
}

/// Total message length for a body of `body_len` octets, using the
/// shortest Length form.
pub(crate) fn frame_len(body_len: usize) -> usize {
    let short = body_len.saturating_add(2);
    if short <= usize::from(u8::MAX) {
        short
    } else {
        body_len.saturating_add(4)
    }
}

/// Writes the Length and MsgType fields for a message of `total` octets
/// (`total` must not exceed [`MAX_MESSAGE_LEN`]).
pub(crate) fn put_header(total: usize, msg_type: MsgType, buf: &mut BytesMut) {
    match u8::try_from(total) {
        Ok(short) => buf.put_u8(short),
        Err(_) => {
            buf.put_u8(LONG_LENGTH_MARKER);
            buf.put_u16(u16::try_from(total).unwrap_or(u16::MAX));
        }
    }
    buf.put_u8(msg_type.code());
}

/// Octets `msg` encodes to in MQTT-SN 1.2.
pub fn encoded_len(msg: &Message) -> usize {
    match msg {
        Message::Encapsulated(e) => encapsulated::encoded_len(e),
        other => frame_len(body_len(other)),
    }
}

/// Appends the MQTT-SN 1.2 encoding of `msg` to `buf`, reserving once.
///
/// Fails only when a length exceeds [`MAX_MESSAGE_LEN`]; `buf` is then
/// left unchanged.
pub fn encode(msg: &Message, buf: &mut BytesMut) -> Result<(), EncodeError> {
    if let Message::Encapsulated(e) = msg {
        return encapsulated::encode(e, buf);
    }
    let total = frame_len(body_len(msg));
    if total > MAX_MESSAGE_LEN {
        return Err(EncodeError::MessageTooLong { len: total });
    }
    buf.reserve(total);
    put_header(total, msg.msg_type(), buf);
    put_body(msg, buf);
    Ok(())
}

/// Body octets of a non-encapsulated message.
fn body_len(msg: &Message) -> usize {
    match msg {
        Message::Advertise(_) => 3,
        Message::SearchGw(_) => 1,
        Message::GwInfo(g) => gateway::gwinfo_len(g),
        Message::Connect(c) => connect::connect_len(c),
        Message::ConnAck { .. } | Message::WillTopicResp { .. } | Message::WillMsgResp { .. } => 1,
        Message::WillTopicReq | Message::WillMsgReq | Message::PingResp => 0,
        Message::WillTopic(w) | Message::WillTopicUpd(w) => will::will_topic_len(w.as_ref()),
        Message::WillMsg(w) | Message::WillMsgUpd(w) => w.message.len(),
        Message::Register(r) => register::register_len(r),
        Message::RegAck(_) | Message::PubAck(_) => 5,
        Message::Publish(p) => publish::publish_len(p),
        Message::PubComp { .. }
        | Message::PubRec { .. }
        | Message::PubRel { .. }
        | Message::UnsubAck { .. } => 2,
        Message::Subscribe(s) => subscribe::filter_len(&s.topic) + 3,
        Message::SubAck(_) => 6,
        Message::Unsubscribe(u) => subscribe::filter_len(&u.topic) + 3,
        Message::PingReq(p) => p.client_id.as_ref().map_or(0, |c| c.len()),
        Message::Disconnect(d) => d.duration.map_or(0, |_| 2),
        Message::Encapsulated(e) => encapsulated::encoded_len(e),
    }
}

/// Writes the body of a non-encapsulated message.
fn put_body(msg: &Message, buf: &mut BytesMut) {
    match msg {
        Message::Advertise(a) => gateway::put_advertise(a, buf),
        Message::SearchGw(s) => buf.put_u8(s.radius),
        Message::GwInfo(g) => gateway::put_gwinfo(g, buf),
        Message::Connect(c) => connect::put_connect(c, buf),
        Message::ConnAck { return_code }
        | Message::WillTopicResp { return_code }
        | Message::WillMsgResp { return_code } => buf.put_u8(u8::from(*return_code)),
        Message::WillTopicReq | Message::WillMsgReq | Message::PingResp => {}
        Message::WillTopic(w) | Message::WillTopicUpd(w) => will::put_will_topic(w.as_ref(), buf),
        Message::WillMsg(w) | Message::WillMsgUpd(w) => buf.put_slice(&w.message),
        Message::Register(r) => register::put_register(r, buf),
        Message::RegAck(r) => register::put_regack(r, buf),
        Message::Publish(p) => publish::put_publish(p, buf),
        Message::PubAck(p) => publish::put_puback(p, buf),
        Message::PubComp { msg_id }
        | Message::PubRec { msg_id }
        | Message::PubRel { msg_id }
        | Message::UnsubAck { msg_id } => buf.put_u16(*msg_id),
        Message::Subscribe(s) => subscribe::put_subscribe(s, buf),
        Message::SubAck(s) => subscribe::put_suback(s, buf),
        Message::Unsubscribe(u) => subscribe::put_unsubscribe(u, buf),
        Message::PingReq(p) => {
            if let Some(id) = &p.client_id {
                buf.put_slice(id.as_bytes());
            }
        }
        Message::Disconnect(d) => {
            if let Some(duration) = d.duration {
                buf.put_u16(duration);
            }
        }
        // Handled by `encode` before the header is written.
        Message::Encapsulated(_) => {}
    }
}
