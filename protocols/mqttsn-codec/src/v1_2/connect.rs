//! CONNECT, PINGREQ and DISCONNECT layouts.

use super::body::Body;
use super::flags::Flags;
use crate::error::DecodeError;
use crate::message::{Connect, Disconnect, PingReq};
use crate::version::ProtocolVersion;
use bytes::{BufMut, BytesMut};
use nom::number::complete::{be_u8, be_u16};

/// CONNECT: Flags(1) ProtocolId(1) Duration(2) ClientId(n).
///
/// Only Will and CleanSession are read from the flags. A ProtocolId other
/// than 0x01 is rejected so the gateway can answer "not supported".
pub(super) fn decode_connect(b: &Body<'_>) -> Result<Connect, DecodeError> {
    let (rest, (flags, protocol_id, duration)) = b.parse((be_u8, be_u8, be_u16))?;
    let version = match ProtocolVersion::from_protocol_id(protocol_id) {
        Some(v @ ProtocolVersion::V1_2) => v,
        _ => return Err(DecodeError::UnsupportedProtocolId(protocol_id)),
    };
    let flags = Flags(flags);
    Ok(Connect {
        will: flags.will(),
        clean_session: flags.clean_session(),
        version,
        duration,
        client_id: b.utf8(rest, "CONNECT ClientId")?,
    })
}

/// CONNECT body length.
pub(super) fn connect_len(c: &Connect) -> usize {
    4 + c.client_id.len()
}

/// Writes a CONNECT body.
pub(super) fn put_connect(c: &Connect, buf: &mut BytesMut) {
    let flags = Flags::default()
        .with_will(c.will)
        .with_clean_session(c.clean_session);
    buf.put_u8(flags.0);
    buf.put_u8(c.version.protocol_id());
    buf.put_u16(c.duration);
    buf.put_slice(c.client_id.as_bytes());
}

/// PINGREQ: ClientId(n, optional).
pub(super) fn decode_pingreq(b: &Body<'_>) -> Result<PingReq, DecodeError> {
    let data = b.data();
    let client_id = if data.is_empty() {
        None
    } else {
        Some(b.utf8(data, "PINGREQ ClientId")?)
    };
    Ok(PingReq { client_id })
}

/// DISCONNECT: Duration(2, optional).
pub(super) fn decode_disconnect(b: &Body<'_>) -> Result<Disconnect, DecodeError> {
    if b.data().is_empty() {
        return Ok(Disconnect { duration: None });
    }
    b.exact(be_u16).map(|d| Disconnect { duration: Some(d) })
}
