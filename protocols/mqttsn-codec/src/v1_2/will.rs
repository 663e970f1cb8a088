//! WILLTOPIC/WILLTOPICUPD and WILLMSG/WILLMSGUPD layouts.

use super::body::Body;
use super::flags::Flags;
use crate::error::DecodeError;
use crate::message::{WillMsg, WillTopic};
use bytes::{BufMut, BytesMut};
use nom::number::complete::be_u8;

/// WILLTOPIC / WILLTOPICUPD: Flags(1) WillTopic(n), or an empty body
/// (the message is exactly its 2-octet header) to delete the will.
///
/// Only QoS and Retain are read from the flags.
pub(super) fn decode_will_topic(b: &Body<'_>) -> Result<Option<WillTopic>, DecodeError> {
    if b.data().is_empty() {
        return Ok(None);
    }
    let (rest, flags) = b.parse(be_u8)?;
    let flags = Flags(flags);
    Ok(Some(WillTopic {
        qos: flags.qos(),
        retain: flags.retain(),
        topic: b.utf8(rest, "WillTopic")?,
    }))
}

/// WILLTOPIC / WILLTOPICUPD body length.
pub(super) fn will_topic_len(w: Option<&WillTopic>) -> usize {
    w.map_or(0, |w| 1 + w.topic.len())
}

/// Writes a WILLTOPIC / WILLTOPICUPD body.
pub(super) fn put_will_topic(w: Option<&WillTopic>, buf: &mut BytesMut) {
    if let Some(w) = w {
        buf.put_u8(Flags::default().with_qos(w.qos).with_retain(w.retain).0);
        buf.put_slice(w.topic.as_bytes());
    }
}

/// WILLMSG / WILLMSGUPD: WillMsg(n), any octets.
pub(super) fn decode_will_msg(b: &Body<'_>) -> WillMsg {
    WillMsg {
        message: b.bytes(b.data()),
    }
}
