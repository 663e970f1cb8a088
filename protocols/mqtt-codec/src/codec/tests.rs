//! Golden bytes from the spec and hand-made violations, one per decode error class.

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
        0x10, 0x10, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x04, b't', b'e', b's',
        b't',
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

#[test]
fn debug_redacts_password_and_payloads() {
    let mut c = Connect::new(V311, "c");
    c.username = Some("u".into());
    c.password = Some(Bytes::from_static(b"hunter2"));
    let text = format!("{c:?}");
    assert!(text.contains("<redacted>") && !text.contains("hunter2"), "{text}");
    let p = crate::Publish::new("t", Bytes::from_static(b"secret-payload"));
    let text = format!("{p:?}");
    assert!(text.contains("<14 bytes>") && !text.contains("secret"), "{text}");
}

#[test]
fn authentication_method_required() {
    // AUTH with a reason code and empty properties; CONNECT 5.0 with authentication data only.
    assert_eq!(
        decode(&[0xF0, 0x02, 0x18, 0x00], V5),
        Err(DecodeError::AuthenticationMethodMissing)
    );
    let mut b = vec![
        0x10, 0x00, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x3C,
    ];
    b.extend_from_slice(&[0x04, 0x16, 0x00, 0x01, 0xAA, 0x00, 0x01, b'c']);
    b[1] = (b.len() - 2) as u8;
    assert_eq!(decode(&b, V5), Err(DecodeError::AuthenticationMethodMissing));
}
