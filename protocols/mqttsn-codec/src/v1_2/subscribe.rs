//! SUBSCRIBE, SUBACK and UNSUBSCRIBE layouts.

use super::body::Body;
use super::flags::Flags;
use crate::error::DecodeError;
use crate::message::{SubAck, Subscribe, Unsubscribe};
use crate::return_code::ReturnCode;
use crate::topic::{TopicFilter, TopicIdType};
use bytes::{BufMut, BytesMut};
use nom::number::complete::{be_u8, be_u16};

/// Reads the TopicName/TopicId field as the flags' TopicIdType says:
/// a name for 0b00, exactly two octets otherwise.
fn decode_filter(b: &Body<'_>, flags: Flags, field: &[u8]) -> Result<TopicFilter, DecodeError> {
    Ok(match flags.topic_id_type()? {
        TopicIdType::Normal => TopicFilter::Name(b.utf8(field, "TopicName")?),
        TopicIdType::Predefined => TopicFilter::Predefined(u16::from_be_bytes(b.two(field)?)),
        TopicIdType::Short => TopicFilter::Short(b.two(field)?),
    })
}

/// Length of the TopicName/TopicId field.
pub(super) fn filter_len(t: &TopicFilter) -> usize {
    match t {
        TopicFilter::Name(n) => n.len(),
        TopicFilter::Predefined(_) | TopicFilter::Short(_) => 2,
    }
}

/// Writes the TopicName/TopicId field.
fn put_filter(t: &TopicFilter, buf: &mut BytesMut) {
    match t {
        TopicFilter::Name(n) => buf.put_slice(n.as_bytes()),
        TopicFilter::Predefined(id) => buf.put_u16(*id),
        TopicFilter::Short(s) => buf.put_slice(s),
    }
}

/// SUBSCRIBE: Flags(1) MsgId(2) TopicName or TopicId.
///
/// DUP, QoS and TopicIdType are read from the flags.
pub(super) fn decode_subscribe(b: &Body<'_>) -> Result<Subscribe, DecodeError> {
    let (rest, (flags, msg_id)) = b.parse((be_u8, be_u16))?;
    let flags = Flags(flags);
    Ok(Subscribe {
        dup: flags.dup(),
        qos: flags.qos(),
        msg_id,
        topic: decode_filter(b, flags, rest)?,
    })
}

/// Writes a SUBSCRIBE body.
pub(super) fn put_subscribe(s: &Subscribe, buf: &mut BytesMut) {
    let flags = Flags::default()
        .with_dup(s.dup)
        .with_qos(s.qos)
        .with_topic_id_type(s.topic.id_type());
    buf.put_u8(flags.0);
    buf.put_u16(s.msg_id);
    put_filter(&s.topic, buf);
}

/// SUBACK: Flags(1) TopicId(2) MsgId(2) ReturnCode(1); only QoS is read from the flags.
pub(super) fn decode_suback(b: &Body<'_>) -> Result<SubAck, DecodeError> {
    let (flags, topic_id, msg_id, rc) = b.exact((be_u8, be_u16, be_u16, be_u8))?;
    Ok(SubAck {
        qos: Flags(flags).qos(),
        topic_id,
        msg_id,
        return_code: ReturnCode::from(rc),
    })
}

/// Writes a SUBACK body.
pub(super) fn put_suback(s: &SubAck, buf: &mut BytesMut) {
    buf.put_u8(Flags::default().with_qos(s.qos).0);
    buf.put_u16(s.topic_id);
    buf.put_u16(s.msg_id);
    buf.put_u8(u8::from(s.return_code));
}

/// UNSUBSCRIBE: Flags(1) MsgId(2) TopicName or TopicId; only TopicIdType is read.
pub(super) fn decode_unsubscribe(b: &Body<'_>) -> Result<Unsubscribe, DecodeError> {
    let (rest, (flags, msg_id)) = b.parse((be_u8, be_u16))?;
    Ok(Unsubscribe {
        msg_id,
        topic: decode_filter(b, Flags(flags), rest)?,
    })
}

/// Writes an UNSUBSCRIBE body.
pub(super) fn put_unsubscribe(u: &Unsubscribe, buf: &mut BytesMut) {
    buf.put_u8(Flags::default().with_topic_id_type(u.topic.id_type()).0);
    buf.put_u16(u.msg_id);
    put_filter(&u.topic, buf);
}
