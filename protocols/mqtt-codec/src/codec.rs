//! Framing: the fixed header (2.1), then the body of each packet type parsed as complete input; and the
//! reverse, measuring a packet once and writing it into a buffer reserved once.

use crate::error::{DecodeError, EncodeError};
use crate::packet::{
    Auth, ConnAck, Connect, Disconnect, Packet, PacketType, PubAck, Publish, SubAck, Subscribe,
};
use crate::packet::{UnsubAck, Unsubscribe, subscribe};
use crate::types::ProtocolVersion;
use crate::wire::{self, MAX_VBI};
use bytes::{BufMut, Bytes, BytesMut};

/// What the fixed header announced: type, flags, header size and total size.
struct FixedHeader {
    packet: PacketType,
    flags: u8,
    header_len: usize,
    total_len: usize,
}

/// Maps the high nibble of the first byte to a packet type; 0 is reserved, and so is 15 before 5.0.
fn packet_type(nibble: u8, version: ProtocolVersion) -> Result<PacketType, DecodeError> {
    use PacketType::*;
    Ok(match nibble {
        1 => Connect,
        2 => ConnAck,
        3 => Publish,
        4 => PubAck,
        5 => PubRec,
        6 => PubRel,
        7 => PubComp,
        8 => Subscribe,
        9 => SubAck,
        10 => Unsubscribe,
        11 => UnsubAck,
        12 => PingReq,
        13 => PingResp,
        14 => Disconnect,
        15 if version.is_v5() => Auth,
        other => return Err(DecodeError::InvalidPacketType(other)),
    })
}

/// The low nibble of the first byte every packet type but PUBLISH must carry ([MQTT-2.2.2-1]).
fn required_flags(packet: PacketType) -> u8 {
    match packet {
        PacketType::PubRel | PacketType::Subscribe | PacketType::Unsubscribe => 0b0010,
        _ => 0,
    }
}

/// Reads and checks the fixed header; `Ok(None)` until the remaining length is complete.
fn fixed_header(
    data: &[u8],
    version: ProtocolVersion,
    max_packet_size: u32,
) -> Result<Option<FixedHeader>, DecodeError> {
    let Some(&first) = data.first() else {
        return Ok(None);
    };
    let Some((remaining, len_bytes)) = wire::peek_remaining_length(data)? else {
        return Ok(None);
    };
    let header_len = 1 + len_bytes;
    let total_len = header_len + remaining;
    if total_len > max_packet_size as usize {
        return Err(DecodeError::PacketTooLarge {
            size: total_len,
            max: max_packet_size,
        });
    }
    let packet = packet_type(first >> 4, version)?;
    let flags = first & 0x0F;
    if packet != PacketType::Publish && flags != required_flags(packet) {
        return Err(DecodeError::InvalidHeaderFlags {
            packet,
            flags,
            expected: required_flags(packet),
        });
    }
    Ok(Some(FixedHeader {
        packet,
        flags,
        header_len,
        total_len,
    }))
}

/// Parses a complete body of the announced type.
fn decode_body(h: &FixedHeader, body: &Bytes, version: ProtocolVersion) -> Result<Packet, DecodeError> {
    Ok(match h.packet {
        PacketType::Connect => Packet::Connect(Box::new(Connect::decode(body)?)),
        PacketType::ConnAck => Packet::ConnAck(Box::new(ConnAck::decode(body, version)?)),
        PacketType::Publish => Packet::Publish(Publish::decode(body, h.flags, version)?),
        PacketType::PubAck => Packet::PubAck(PubAck::decode(body, version, h.packet)?),
        PacketType::PubRec => Packet::PubRec(PubAck::decode(body, version, h.packet)?),
        PacketType::PubRel => Packet::PubRel(PubAck::decode(body, version, h.packet)?),
        PacketType::PubComp => Packet::PubComp(PubAck::decode(body, version, h.packet)?),
        PacketType::Subscribe => Packet::Subscribe(Subscribe::decode(body, version)?),
        PacketType::SubAck => Packet::SubAck(SubAck::decode(body, version)?),
        PacketType::Unsubscribe => Packet::Unsubscribe(Unsubscribe::decode(body, version)?),
        PacketType::UnsubAck => Packet::UnsubAck(UnsubAck::decode(body, version)?),
        PacketType::PingReq | PacketType::PingResp if !body.is_empty() => {
            return Err(DecodeError::TrailingBytes(body.len()));
        }
        PacketType::PingReq => Packet::PingReq,
        PacketType::PingResp => Packet::PingResp,
        PacketType::Disconnect => Packet::Disconnect(Disconnect::decode(body, version)?),
        PacketType::Auth => Packet::Auth(Auth::decode(body)?),
    })
}

/// Decodes the packet at the front of `buf`, if it is complete.
///
/// - `Ok(None)`: more bytes are needed; `buf` is untouched.
/// - `Ok(Some(packet))`: the packet's bytes were split off the front of `buf`; strings, binary fields and the
///   payload of the packet are slices of them (no copies).
/// - `Err`: the bytes are not a valid packet. Errors found in the fixed header (including
///   [`DecodeError::PacketTooLarge`], reported as soon as the remaining length is known) leave `buf` untouched;
///   errors in the body are reported after the packet's bytes were split off. Either way the connection should
///   be closed, after sending [`DecodeError::reason_code`] on 5.0.
///
/// `version` is the connection's protocol level; it is ignored for CONNECT, whose level is read from the packet.
/// `max_packet_size` bounds the whole packet, fixed header included.
pub fn decode_packet(
    buf: &mut BytesMut,
    version: ProtocolVersion,
    max_packet_size: u32,
) -> Result<Option<Packet>, DecodeError> {
    let Some(h) = fixed_header(buf, version, max_packet_size)? else {
        return Ok(None);
    };
    if buf.len() < h.total_len {
        return Ok(None);
    }
    let frame = buf.split_to(h.total_len).freeze();
    let body = frame.slice(h.header_len..);
    decode_body(&h, &body, version).map(Some)
}

/// Decodes `bytes`, which must hold exactly one complete packet.
pub fn decode_one(
    bytes: Bytes,
    version: ProtocolVersion,
    max_packet_size: u32,
) -> Result<Packet, DecodeError> {
    let h = fixed_header(&bytes, version, max_packet_size)?.ok_or(DecodeError::Truncated)?;
    match bytes.len().cmp(&h.total_len) {
        std::cmp::Ordering::Less => Err(DecodeError::Truncated),
        std::cmp::Ordering::Greater => Err(DecodeError::TrailingBytes(bytes.len() - h.total_len)),
        std::cmp::Ordering::Equal => decode_body(&h, &bytes.slice(h.header_len..), version),
    }
}

/// Size of the body (everything after the remaining length), checked against the 268,435,455 limit.
fn body_len(packet: &Packet, version: ProtocolVersion) -> Result<usize, EncodeError> {
    let n = match packet {
        Packet::Connect(c) => c.body_len()?,
        Packet::ConnAck(c) => c.body_len(version)?,
        Packet::Publish(p) => p.body_len(version)?,
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            a.body_len(version, packet.packet_type())?
        }
        Packet::Subscribe(s) => s.body_len(version)?,
        Packet::SubAck(s) => {
            if s.reason_codes.is_empty() {
                return Err(EncodeError::EmptyPayload(PacketType::SubAck));
            }
            subscribe::ack_list_len(&s.properties, &s.reason_codes, version, PacketType::SubAck)?
        }
        Packet::Unsubscribe(u) => u.body_len(version)?,
        Packet::UnsubAck(u) => {
            if version.is_v5() && u.reason_codes.is_empty() {
                return Err(EncodeError::EmptyPayload(PacketType::UnsubAck));
            }
            subscribe::ack_list_len(&u.properties, &u.reason_codes, version, PacketType::UnsubAck)?
        }
        Packet::PingReq | Packet::PingResp => 0,
        Packet::Disconnect(d) => d.body_len(version)?,
        Packet::Auth(_) if !version.is_v5() => return Err(EncodeError::AuthOnV3),
        Packet::Auth(a) => a.body_len()?,
    };
    if n > MAX_VBI {
        Err(EncodeError::PacketTooLarge(n))
    } else {
        Ok(n)
    }
}

/// The first byte: packet type and flags.
fn first_byte(packet: &Packet) -> u8 {
    let ty = packet.packet_type();
    let flags = match packet {
        Packet::Publish(p) => p.flags(),
        _ => required_flags(ty),
    };
    ((ty as u8) << 4) | flags
}

/// Total encoded size of `packet` at `version`, fixed header included (what [`encode_packet`] appends).
///
/// For CONNECT, the packet's own `protocol` decides the wire format and `version` is ignored.
pub fn encoded_len(packet: &Packet, version: ProtocolVersion) -> Result<usize, EncodeError> {
    let n = body_len(packet, version)?;
    Ok(1 + wire::vbi_len(n) + n)
}

/// Appends `packet`, encoded for `version`, to `buf` (reserving the space once).
///
/// On 3.x, properties are not representable and are omitted, 5.0 reason codes become 3.x return codes
/// ([`crate::ReasonCode::to_v3_connack`], [`crate::ReasonCode::to_v3_suback`]), and acknowledgement reason codes
/// are dropped. On 5.0, acknowledgements, DISCONNECT and AUTH use the short forms the spec allows. A QoS 0
/// PUBLISH is sent without DUP. For CONNECT, the packet's own `protocol` decides the wire format.
/// On error nothing is written.
pub fn encode_packet(
    packet: &Packet,
    version: ProtocolVersion,
    buf: &mut BytesMut,
) -> Result<(), EncodeError> {
    let n = body_len(packet, version)?;
    buf.reserve(1 + wire::vbi_len(n) + n);
    buf.put_u8(first_byte(packet));
    wire::put_vbi(buf, n);
    match packet {
        Packet::Connect(c) => c.write_body(buf),
        Packet::ConnAck(c) => c.write_body(version, buf),
        Packet::Publish(p) => p.write_body(version, buf),
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            a.write_body(n, buf)
        }
        Packet::Subscribe(s) => s.write_body(version, buf),
        Packet::SubAck(s) => {
            subscribe::write_ack_list(
                s.packet_id,
                &s.properties,
                &s.reason_codes,
                version,
                PacketType::SubAck,
                buf,
            );
        }
        Packet::Unsubscribe(u) => u.write_body(version, buf),
        Packet::UnsubAck(u) => {
            subscribe::write_ack_list(
                u.packet_id,
                &u.properties,
                &u.reason_codes,
                version,
                PacketType::UnsubAck,
                buf,
            );
        }
        Packet::PingReq | Packet::PingResp => {}
        Packet::Disconnect(d) => d.write_body(n, buf),
        Packet::Auth(a) => a.write_body(n, buf),
    }
    Ok(())
}

impl Packet {
    /// Appends this packet encoded for `version` to `buf`; see [`encode_packet`].
    pub fn encode(&self, version: ProtocolVersion, buf: &mut BytesMut) -> Result<(), EncodeError> {
        encode_packet(self, version, buf)
    }

    /// Total encoded size at `version`; see [`encoded_len`].
    pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        encoded_len(self, version)
    }
}

#[cfg(test)]
mod tests;
