//! ADVERTISE, SEARCHGW and GWINFO layouts.

use super::body::Body;
use crate::error::DecodeError;
use crate::message::{Advertise, GwInfo, SearchGw};
use bytes::{BufMut, BytesMut};
use nom::number::complete::{be_u8, be_u16};

/// ADVERTISE: GwId(1) Duration(2).
pub(super) fn decode_advertise(b: &Body<'_>) -> Result<Advertise, DecodeError> {
    let (gw_id, duration) = b.exact((be_u8, be_u16))?;
    Ok(Advertise { gw_id, duration })
}

/// Writes an ADVERTISE body.
pub(super) fn put_advertise(a: &Advertise, buf: &mut BytesMut) {
    buf.put_u8(a.gw_id);
    buf.put_u16(a.duration);
}

/// SEARCHGW: Radius(1).
pub(super) fn decode_searchgw(b: &Body<'_>) -> Result<SearchGw, DecodeError> {
    b.exact(be_u8).map(|radius| SearchGw { radius })
}

/// GWINFO: GwId(1) GwAdd(n, only when sent by a client).
pub(super) fn decode_gwinfo(b: &Body<'_>) -> Result<GwInfo, DecodeError> {
    let (rest, gw_id) = b.parse(be_u8)?;
    let gw_add = (!rest.is_empty()).then(|| b.bytes(rest));
    Ok(GwInfo { gw_id, gw_add })
}

/// GWINFO body length.
pub(super) fn gwinfo_len(g: &GwInfo) -> usize {
    1 + g.gw_add.as_ref().map_or(0, |a| a.len())
}

/// Writes a GWINFO body.
pub(super) fn put_gwinfo(g: &GwInfo, buf: &mut BytesMut) {
    buf.put_u8(g.gw_id);
    if let Some(add) = &g.gw_add {
        buf.put_slice(add);
    }
}
