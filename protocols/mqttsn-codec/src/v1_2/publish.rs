//! PUBLISH and PUBACK layouts.

use super::body::Body;
use super::flags::Flags;
use crate::error::DecodeError;
use crate::message::{PubAck, Publish};
use crate::return_code::ReturnCode;
use crate::topic::Topic;
use bytes::{BufMut, BytesMut};
use nom::bytes::complete::take;
use nom::number::complete::{be_u8, be_u16};

/// PUBLISH: Flags(1) TopicId(2) MsgId(2) Data(n).
///
/// DUP, QoS, Retain and TopicIdType are read from the flags; the payload
/// is a slice of the datagram.
pub(super) fn decode_publish(b: &Body<'_>) -> Result<Publish, DecodeError> {
    let (payload, (flags, topic, msg_id)) = b.parse((be_u8, take(2usize), be_u16))?;
    let flags = Flags(flags);
    let topic = Topic::from_wire(flags.topic_id_type()?, b.two(topic)?);
    Ok(Publish {
        dup: flags.dup(),
        qos: flags.qos(),
        retain: flags.retain(),
        topic,
        msg_id,
        payload: b.bytes(payload),
    })
}

/// PUBLISH body length.
pub(super) fn publish_len(p: &Publish) -> usize {
    5 + p.payload.len()
}

/// Writes a PUBLISH body.
pub(super) fn put_publish(p: &Publish, buf: &mut BytesMut) {
    let flags = Flags::default()
        .with_dup(p.dup)
        .with_qos(p.qos)
        .with_retain(p.retain)
        .with_topic_id_type(p.topic.id_type());
    buf.put_u8(flags.0);
    buf.put_slice(&p.topic.to_wire());
    buf.put_u16(p.msg_id);
    buf.put_slice(&p.payload);
}

/// PUBACK: TopicId(2) MsgId(2) ReturnCode(1).
pub(super) fn decode_puback(b: &Body<'_>) -> Result<PubAck, DecodeError> {
    let (topic_id, msg_id, rc) = b.exact((be_u16, be_u16, be_u8))?;
    Ok(PubAck {
        topic_id,
        msg_id,
        return_code: ReturnCode::from(rc),
    })
}

/// Writes a PUBACK body.
pub(super) fn put_puback(p: &PubAck, buf: &mut BytesMut) {
    buf.put_u16(p.topic_id);
    buf.put_u16(p.msg_id);
    buf.put_u8(u8::from(p.return_code));
}
