//! REGISTER and REGACK layouts.

use super::body::Body;
use crate::error::DecodeError;
use crate::message::{RegAck, Register};
use crate::return_code::ReturnCode;
use bytes::{BufMut, BytesMut};
use nom::number::complete::{be_u8, be_u16};

/// REGISTER: TopicId(2) MsgId(2) TopicName(n).
pub(super) fn decode_register(b: &Body<'_>) -> Result<Register, DecodeError> {
    let (rest, (topic_id, msg_id)) = b.parse((be_u16, be_u16))?;
    Ok(Register {
        topic_id,
        msg_id,
        topic_name: b.utf8(rest, "REGISTER TopicName")?,
    })
}

/// REGISTER body length.
pub(super) fn register_len(r: &Register) -> usize {
    4 + r.topic_name.len()
}

/// Writes a REGISTER body.
pub(super) fn put_register(r: &Register, buf: &mut BytesMut) {
    buf.put_u16(r.topic_id);
    buf.put_u16(r.msg_id);
    buf.put_slice(r.topic_name.as_bytes());
}

/// REGACK: TopicId(2) MsgId(2) ReturnCode(1).
pub(super) fn decode_regack(b: &Body<'_>) -> Result<RegAck, DecodeError> {
    let (topic_id, msg_id, rc) = b.exact((be_u16, be_u16, be_u8))?;
    Ok(RegAck {
        topic_id,
        msg_id,
        return_code: ReturnCode::from(rc),
    })
}

/// Writes a REGACK body.
pub(super) fn put_regack(r: &RegAck, buf: &mut BytesMut) {
    buf.put_u16(r.topic_id);
    buf.put_u16(r.msg_id);
    buf.put_u8(u8::from(r.return_code));
}
