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
mod tests {
    use super::*;
    use crate::{ByteStr, PacketId, QoS, ReasonCode};

    const V311: ProtocolVersion = ProtocolVersion::V3_1_1;
    const V5: ProtocolVersion = ProtocolVersion::V5;

    fn decode(bytes: &[u8], v: ProtocolVersion) -> Result<Packet, DecodeError> {
        decode_one(Bytes::copy_from_slice(bytes), v, u32::MAX)
    }

    fn encode(p: &Packet, v: ProtocolVersion) -> Vec<u8> {
        let mut buf = BytesMut::new();
        encode_packet(p, v, &mut buf).unwrap();
        buf.to_vec()
    }

    #[test]
    fn pingreq_and_disconnect_golden() {
        assert_eq!(decode(&[0xC0, 0x00], V311), Ok(Packet::PingReq));
        assert_eq!(encode(&Packet::PingReq, V311), [0xC0, 0x00]);
        assert_eq!(encode(&Packet::PingResp, V5), [0xD0, 0x00]);
        let normal = Packet::Disconnect(Disconnect::new(ReasonCode::NormalDisconnection));
        assert_eq!(decode(&[0xE0, 0x00], V311), Ok(normal.clone()));
        assert_eq!(decode(&[0xE0, 0x00], V5), Ok(normal.clone()));
        assert_eq!(encode(&normal, V311), [0xE0, 0x00]);
        assert_eq!(encode(&normal, V5), [0xE0, 0x00]);
        let will = Packet::Disconnect(Disconnect::new(ReasonCode::DisconnectWithWillMessage));
        assert_eq!(encode(&will, V5), [0xE0, 0x01, 0x04]);
        assert_eq!(encode(&will, V311), [0xE0, 0x00]);
        assert_eq!(
            decode(&[0xE0, 0x01, 0x00], V311),
            Err(DecodeError::TrailingBytes(1))
        );
    }

    /// `mosquitto_sub -V mqttv311 -i test -t x`: clean session, keep alive 60, client id "test".
    #[test]
    fn mosquitto_v311_connect() {
        let bytes = [
            0x10, 0x10, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x04, b't', b'e',
            b's', b't',
        ];
        let expected = Packet::Connect(Box::new(Connect::new(V311, "test")));
        assert_eq!(
            decode(&bytes, V5),
            Ok(expected.clone()),
            "level comes from the packet"
        );
        assert_eq!(encode(&expected, V5), bytes);
    }

    /// The variable header example of 3.1.2.10 (5.0): flags 0xCE, keep alive 10, session expiry 10.
    #[test]
    fn spec_connect_variable_header_example() {
        let mut bytes = vec![0x10, 0x00];
        bytes.extend_from_slice(&[0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0xCE, 0x00, 0x0A]);
        bytes.extend_from_slice(&[0x05, 0x11, 0x00, 0x00, 0x00, 0x0A]);
        bytes.extend_from_slice(b"\x00\x02id"); // client id
        bytes.extend_from_slice(b"\x00\x00\x01w\x00\x03bye"); // will properties, topic, payload
        bytes.extend_from_slice(b"\x00\x01u\x00\x02pw"); // user name, password
        bytes[1] = (bytes.len() - 2) as u8;
        let Ok(Packet::Connect(c)) = decode(&bytes, V5) else {
            panic!("{:?}", decode(&bytes, V5))
        };
        assert_eq!(c.protocol, V5);
        assert!(c.clean_start);
        assert_eq!(c.keep_alive, 10);
        assert_eq!(c.properties.session_expiry_interval, Some(10));
        let will = c.will.as_ref().unwrap();
        assert_eq!(
            (&*will.topic, &will.payload[..], will.qos, will.retain),
            ("w", &b"bye"[..], QoS::AtLeastOnce, false)
        );
        assert_eq!(c.username.as_deref(), Some("u"));
        assert_eq!(c.password.as_deref(), Some(&b"pw"[..]));
        assert_eq!(encode(&Packet::Connect(c), V5), bytes);
    }

    #[test]
    fn connect_errors() {
        let base = |name: &[u8], level: u8, flags: u8| {
            let mut b = vec![0x10, 0x00, 0x00, name.len() as u8];
            b.extend_from_slice(name);
            b.extend_from_slice(&[level, flags, 0x00, 0x3C, 0x00, 0x01, b'c']);
            b[1] = (b.len() - 2) as u8;
            b
        };
        assert!(decode(&base(b"MQTT", 4, 0x02), V311).is_ok());
        assert!(decode(&base(b"MQIsdp", 3, 0x02), V311).is_ok());
        let e = decode(&base(b"MQTT", 6, 0x02), V311).unwrap_err();
        assert_eq!(e, DecodeError::UnsupportedProtocolVersion(6));
        assert_eq!(e.reason_code(), ReasonCode::UnsupportedProtocolVersion);
        assert_eq!(
            decode(&base(b"HTTP", 4, 0x02), V311),
            Err(DecodeError::InvalidProtocolName)
        );
        assert_eq!(
            decode(&base(b"MQTT", 4, 0x03), V311),
            Err(DecodeError::ConnectReservedFlag)
        );
        assert_eq!(
            decode(&base(b"MQTT", 4, 0x08), V311),
            Err(DecodeError::WillFlagsWithoutWill)
        );
        assert_eq!(
            decode(&base(b"MQTT", 4, 0x20), V311),
            Err(DecodeError::WillFlagsWithoutWill)
        );
        assert_eq!(
            decode(&base(b"MQTT", 4, 0x1C), V311),
            Err(DecodeError::InvalidQoS)
        );
        assert_eq!(
            decode(&base(b"MQTT", 4, 0x40), V311),
            Err(DecodeError::PasswordWithoutUsername)
        );
        // 5.0 allows a password without a user name (the body then lacks properties and password: truncated).
        assert_eq!(decode(&base(b"MQTT", 5, 0x40), V5), Err(DecodeError::Truncated));
    }

    #[test]
    fn fixed_header_errors() {
        assert_eq!(decode(&[0x00, 0x00], V5), Err(DecodeError::InvalidPacketType(0)));
        assert_eq!(
            decode(&[0xF0, 0x00], V311),
            Err(DecodeError::InvalidPacketType(15))
        );
        assert_eq!(
            decode(&[0xF0, 0x00], V5),
            Ok(Packet::Auth(Auth {
                reason_code: ReasonCode::Success,
                properties: Default::default()
            }))
        );
        let e = decode(&[0x60, 0x02, 0x00, 0x01], V311).unwrap_err();
        assert!(matches!(
            e,
            DecodeError::InvalidHeaderFlags {
                packet: PacketType::PubRel,
                flags: 0,
                expected: 2
            }
        ));
        assert!(e.to_string().starts_with("[MQTT-2.2.2-1]"));
        assert_eq!(
            decode(&[0x62, 0x02, 0x00, 0x01], V311).map(|p| p.packet_type()),
            Ok(PacketType::PubRel)
        );
        assert!(matches!(
            decode(&[0x80, 0x02, 0x00, 0x01], V311),
            Err(DecodeError::InvalidHeaderFlags { .. })
        ));
        assert!(matches!(
            decode(&[0xA0, 0x02, 0x00, 0x01], V311),
            Err(DecodeError::InvalidHeaderFlags { .. })
        ));
        assert!(matches!(
            decode(&[0xC1, 0x00], V311),
            Err(DecodeError::InvalidHeaderFlags { .. })
        ));
        assert_eq!(
            decode(&[0xC0, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], V5),
            Err(DecodeError::MalformedRemainingLength)
        );
        assert_eq!(
            decode(&[0xC0, 0x01, 0x00], V5),
            Err(DecodeError::TrailingBytes(1))
        );
    }

    #[test]
    fn too_large_is_reported_before_the_body_arrives() {
        let mut buf = BytesMut::from(&[0x30, 0xFF, 0x7F][..]);
        let e = decode_packet(&mut buf, V5, 1024).unwrap_err();
        assert_eq!(
            e,
            DecodeError::PacketTooLarge {
                size: 3 + 16_383,
                max: 1024
            }
        );
        assert_eq!(e.reason_code(), ReasonCode::PacketTooLarge);
        assert_eq!(buf.len(), 3, "buffer untouched");
        let mut ok = BytesMut::from(&[0xC0, 0x00][..]);
        assert_eq!(decode_packet(&mut ok, V5, 2), Ok(Some(Packet::PingReq)));
    }

    #[test]
    fn publish_rules() {
        // QoS 3, DUP on QoS 0, packet id 0, wildcard topic, empty topic without alias.
        assert_eq!(
            decode(&[0x36, 0x05, 0x00, 0x01, b'a', 0x00, 0x01], V311),
            Err(DecodeError::InvalidQoS)
        );
        assert_eq!(
            decode(&[0x38, 0x03, 0x00, 0x01, b'a'], V311),
            Err(DecodeError::DupWithQoS0)
        );
        assert_eq!(
            decode(&[0x32, 0x05, 0x00, 0x01, b'a', 0x00, 0x00], V311),
            Err(DecodeError::ZeroPacketId(PacketType::Publish))
        );
        let e = decode(&[0x30, 0x03, 0x00, 0x01, b'#'], V311).unwrap_err();
        assert_eq!(e.reason_code(), ReasonCode::TopicNameInvalid);
        assert_eq!(
            decode(&[0x30, 0x03, 0x00, 0x00, 0x00], V5),
            Err(DecodeError::TopicNameRequired)
        );
        // Topic alias 0, and a property PUBLISH may not carry (session expiry).
        let e = decode(&[0x30, 0x07, 0x00, 0x01, b'a', 0x03, 0x23, 0x00, 0x00], V5).unwrap_err();
        assert_eq!(e.reason_code(), ReasonCode::TopicAliasInvalid);
        let e = decode(
            &[0x30, 0x09, 0x00, 0x01, b'a', 0x05, 0x11, 0x00, 0x00, 0x00, 0x01],
            V5,
        )
        .unwrap_err();
        assert_eq!(
            e,
            DecodeError::PropertyNotAllowed {
                id: 0x11,
                packet: "PUBLISH"
            }
        );
        // Duplicate payload format indicator; payload format indicator 2.
        let e = decode(&[0x30, 0x08, 0x00, 0x01, b'a', 0x04, 0x01, 0x00, 0x01, 0x01], V5).unwrap_err();
        assert_eq!(e, DecodeError::DuplicateProperty(0x01));
        assert_eq!(e.reason_code(), ReasonCode::ProtocolError);
        let e = decode(&[0x30, 0x06, 0x00, 0x01, b'a', 0x02, 0x01, 0x02], V5).unwrap_err();
        assert_eq!(e, DecodeError::InvalidPropertyValue { id: 0x01, value: 2 });
        // Subscription identifier 0; property length past the end; invalid UTF-8 topic.
        let e = decode(&[0x30, 0x06, 0x00, 0x01, b'a', 0x02, 0x0B, 0x00], V5).unwrap_err();
        assert_eq!(e, DecodeError::InvalidPropertyValue { id: 0x0B, value: 0 });
        assert_eq!(
            decode(&[0x30, 0x05, 0x00, 0x01, b'a', 0x09, 0x01], V5),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            decode(&[0x30, 0x03, 0x00, 0x01, 0xFF], V311),
            Err(DecodeError::InvalidUtf8)
        );
        assert_eq!(
            decode(&[0x30, 0x03, 0x00, 0x05, b'a'], V311),
            Err(DecodeError::Truncated)
        );
    }

    #[test]
    fn v5_ack_short_forms_and_reason_codes() {
        let ack = |code| {
            Packet::PubAck(PubAck {
                reason_code: code,
                ..PubAck::new(PacketId::new(7).unwrap())
            })
        };
        assert_eq!(
            decode(&[0x40, 0x02, 0x00, 0x07], V5),
            Ok(ack(ReasonCode::Success))
        );
        assert_eq!(
            decode(&[0x40, 0x03, 0x00, 0x07, 0x10], V5),
            Ok(ack(ReasonCode::NoMatchingSubscribers))
        );
        assert_eq!(
            decode(&[0x40, 0x04, 0x00, 0x07, 0x10, 0x00], V5),
            Ok(ack(ReasonCode::NoMatchingSubscribers))
        );
        assert_eq!(encode(&ack(ReasonCode::Success), V5), [0x40, 0x02, 0x00, 0x07]);
        assert_eq!(
            encode(&ack(ReasonCode::NoMatchingSubscribers), V5),
            [0x40, 0x03, 0x00, 0x07, 0x10]
        );
        assert_eq!(
            encode(&ack(ReasonCode::NoMatchingSubscribers), V311),
            [0x40, 0x02, 0x00, 0x07]
        );
        assert_eq!(
            decode(&[0x40, 0x03, 0x00, 0x07, 0x92], V5),
            Err(DecodeError::InvalidReasonCode {
                packet: PacketType::PubAck,
                code: 0x92
            })
        );
        assert_eq!(
            decode(&[0x40, 0x02, 0x00, 0x00], V5),
            Err(DecodeError::ZeroPacketId(PacketType::PubAck))
        );
        let suback = decode(&[0x90, 0x04, 0x00, 0x01, 0x00, 0x00], V5);
        assert!(matches!(suback, Ok(Packet::SubAck(s)) if s.reason_codes == [ReasonCode::GrantedQoS0]));
        let suback = decode(&[0x90, 0x04, 0x00, 0x01, 0x01, 0x80], V311);
        assert!(
            matches!(suback, Ok(Packet::SubAck(s)) if s.reason_codes == [ReasonCode::GrantedQoS1, ReasonCode::UnspecifiedError])
        );
        assert!(
            encode(
                &Packet::Auth(Auth::new(ReasonCode::Success, ByteStr::from("x"), None)),
                V5
            )
            .len()
                > 2
        );
        let mut buf = BytesMut::new();
        assert_eq!(
            encode_packet(
                &Packet::Auth(Auth::new(ReasonCode::Success, ByteStr::from("x"), None)),
                V311,
                &mut buf
            ),
            Err(EncodeError::AuthOnV3)
        );
    }

    #[test]
    fn v3_connack_return_codes() {
        for (code, reason) in [
            (0u8, ReasonCode::Success),
            (1, ReasonCode::UnsupportedProtocolVersion),
            (2, ReasonCode::ClientIdentifierNotValid),
            (3, ReasonCode::ServerUnavailable),
            (4, ReasonCode::BadUserNameOrPassword),
            (5, ReasonCode::NotAuthorized),
        ] {
            let p = Packet::ConnAck(Box::new(ConnAck::new(reason, false)));
            assert_eq!(decode(&[0x20, 0x02, 0x00, code], V311), Ok(p.clone()));
            assert_eq!(encode(&p, V311), [0x20, 0x02, 0x00, code]);
        }
        assert!(decode(&[0x20, 0x02, 0x00, 0x06], V311).is_err());
        assert_eq!(
            decode(&[0x20, 0x02, 0x02, 0x00], V311),
            Err(DecodeError::ConnAckReservedFlags)
        );
        let banned = Packet::ConnAck(Box::new(ConnAck::new(ReasonCode::Banned, false)));
        assert_eq!(encode(&banned, V311), [0x20, 0x02, 0x00, 0x05]);
        let busy = Packet::ConnAck(Box::new(ConnAck::new(ReasonCode::ServerBusy, false)));
        assert_eq!(encode(&busy, V311), [0x20, 0x02, 0x00, 0x03]);
        assert_eq!(encode(&busy, V5), [0x20, 0x03, 0x00, 0x89, 0x00]);
    }

    #[test]
    fn subscribe_rules() {
        let sub = |v: ProtocolVersion, body: &[u8]| {
            let mut b = vec![0x82, body.len() as u8];
            b.extend_from_slice(body);
            decode(&b, v)
        };
        assert!(sub(V311, &[0x00, 0x01, 0x00, 0x01, b'a', 0x01]).is_ok());
        assert_eq!(
            sub(V311, &[0x00, 0x01]),
            Err(DecodeError::EmptyPayload(PacketType::Subscribe))
        );
        assert_eq!(
            sub(V311, &[0x00, 0x01, 0x00, 0x01, b'a', 0x04]),
            Err(DecodeError::SubscriptionOptionsReserved)
        );
        assert_eq!(
            sub(V311, &[0x00, 0x01, 0x00, 0x01, b'a', 0x03]),
            Err(DecodeError::InvalidQoS)
        );
        assert_eq!(
            sub(V5, &[0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x30]),
            Err(DecodeError::InvalidRetainHandling)
        );
        assert_eq!(
            sub(V5, &[0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x40]),
            Err(DecodeError::SubscriptionOptionsReserved)
        );
        let e = sub(V311, &[0x00, 0x01, 0x00, 0x02, b'a', b'#', 0x00]).unwrap_err();
        assert_eq!(e.reason_code(), ReasonCode::TopicFilterInvalid);
        let shared = b"\x00\x01\x00\x00\x0A$share/g/a\x04";
        assert_eq!(sub(V5, shared), Err(DecodeError::NoLocalOnSharedSubscription));
        assert_eq!(
            sub(V311, &[0x00, 0x00, 0x00, 0x01, b'a', 0x00]),
            Err(DecodeError::ZeroPacketId(PacketType::Subscribe))
        );
        assert_eq!(
            decode(&[0xA2, 0x02, 0x00, 0x01], V311),
            Err(DecodeError::EmptyPayload(PacketType::Unsubscribe))
        );
    }

    #[test]
    fn encode_errors() {
        let mut buf = BytesMut::new();
        let long = Packet::Publish(Publish::new(ByteStr::from("a".repeat(70_000)), Bytes::new()));
        assert_eq!(
            encode_packet(&long, V5, &mut buf),
            Err(EncodeError::FieldTooLong(70_000))
        );
        let huge = Packet::Publish(Publish::new("t", vec![0u8; MAX_VBI]));
        assert!(matches!(
            encoded_len(&huge, V5),
            Err(EncodeError::PacketTooLarge(_))
        ));
        let mut q1 = Publish::new("t", Bytes::new());
        q1.qos = QoS::AtLeastOnce;
        assert_eq!(
            encoded_len(&Packet::Publish(q1), V5),
            Err(EncodeError::MissingPacketId)
        );
        assert!(buf.is_empty(), "nothing written on error");
        let mut c = Connect::new(V311, "c");
        c.password = Some(Bytes::from_static(b"pw"));
        assert_eq!(
            encoded_len(&Packet::Connect(Box::new(c)), V311),
            Err(EncodeError::PasswordWithoutUsername)
        );
    }
}
