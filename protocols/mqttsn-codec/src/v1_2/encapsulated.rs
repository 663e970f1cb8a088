//! The Encapsulated Message envelope (§5.5):
//! Length(1) MsgType(0xFE) Ctrl(1) WirelessNodeId(n), then a whole MQTT-SN message.

use super::{FrameHeader, MAX_MESSAGE_LEN, decode_frame, frame_len, put_header};
use crate::error::{DecodeError, EncodeError};
use crate::message::{Encapsulated, Message, MsgType};
use bytes::{BufMut, Bytes, BytesMut};

/// Ctrl octet bits that carry the broadcast radius.
const RADIUS_MASK: u8 = 0b11;

/// Decodes an envelope whose header was read as `header`.
///
/// The Length field counts only the envelope; the wrapped message fills
/// the rest of the datagram and may not be another envelope.
pub(super) fn decode(datagram: &Bytes, header: FrameHeader) -> Result<Message, DecodeError> {
    let ctrl_at = header.length_field_len + 1;
    if header.len <= ctrl_at {
        return Err(DecodeError::InvalidLength(header.len));
    }
    let (envelope, inner) = datagram
        .split_at_checked(header.len)
        .ok_or(DecodeError::LengthMismatch {
            declared: header.len,
            actual: datagram.len(),
        })?;
    let (ctrl, node_id) = match envelope.get(ctrl_at..) {
        Some([ctrl, node_id @ ..]) => (*ctrl, node_id),
        _ => return Err(DecodeError::InvalidLength(header.len)),
    };
    let inner = decode_frame(&datagram.slice_ref(inner), false)?;
    Ok(Message::Encapsulated(Encapsulated {
        radius: ctrl & RADIUS_MASK,
        wireless_node_id: datagram.slice_ref(node_id),
        message: Box::new(inner),
    }))
}

/// Envelope length (the value of its Length field).
fn envelope_len(e: &Encapsulated) -> usize {
    frame_len(1 + e.wireless_node_id.len())
}

/// Envelope plus wrapped message.
pub(super) fn encoded_len(e: &Encapsulated) -> usize {
    envelope_len(e).saturating_add(super::encoded_len(&e.message))
}

/// Writes the envelope, then the wrapped message.
pub(super) fn encode(e: &Encapsulated, buf: &mut BytesMut) -> Result<(), EncodeError> {
    let envelope = envelope_len(e);
    if envelope > MAX_MESSAGE_LEN {
        return Err(EncodeError::MessageTooLong { len: envelope });
    }
    let inner = super::encoded_len(&e.message);
    if inner > MAX_MESSAGE_LEN {
        return Err(EncodeError::MessageTooLong { len: inner });
    }
    buf.reserve(envelope + inner);
    let start = buf.len();
    put_header(envelope, MsgType::Encapsulated, buf);
    buf.put_u8(e.radius & RADIUS_MASK);
    buf.put_slice(&e.wireless_node_id);
    let result = super::encode(&e.message, buf);
    if result.is_err() {
        buf.truncate(start);
    }
    result
}
