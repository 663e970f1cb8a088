//! Golden bytes: concrete messages laid out by hand from the MQTT-SN 1.2
//! spec's field tables (§5.4), checked in both directions.

use super::{FrameHeader, decode, encode, peek_frame};
use crate::error::{DecodeError, EncodeError};
use crate::message::*;
use crate::{ProtocolVersion, QoS, ReturnCode, Topic, TopicFilter, Utf8Bytes};
use bytes::{Bytes, BytesMut};

/// `bytes` decodes to `message`, and `message` encodes to `bytes`.
fn golden(bytes: &[u8], message: Message) {
    let decoded = decode(&Bytes::copy_from_slice(bytes));
    assert_eq!(decoded.as_ref(), Ok(&message), "decoding {bytes:02X?}");
    let mut buf = BytesMut::new();
    encode(&message, &mut buf).unwrap();
    assert_eq!(&buf[..], bytes, "encoding {message:?}");
    assert_eq!(message.encoded_len(), bytes.len());
}

/// `bytes` fails to decode with `error`.
fn rejects(bytes: &[u8], error: DecodeError) {
    assert_eq!(decode(&Bytes::copy_from_slice(bytes)), Err(error), "{bytes:02X?}");
}

#[test]
fn connect_with_will_and_clean_session() {
    golden(
        &[0x09, 0x04, 0x0C, 0x01, 0x00, 0x1E, b'a', b'b', b'c'],
        Message::Connect(Connect {
            will: true,
            clean_session: true,
            version: ProtocolVersion::V1_2,
            duration: 30,
            client_id: Utf8Bytes::from_static("abc"),
        }),
    );
}

#[test]
fn connect_ignores_unused_flag_bits() {
    // DUP, QoS, Retain and TopicIdType set: not used in CONNECT.
    let m = decode(&Bytes::from_static(&[0x07, 0x04, 0xF3, 0x01, 0x00, 0x0A, b'x'])).unwrap();
    let Message::Connect(c) = m else { panic!("{m:?}") };
    assert!(!c.will && !c.clean_session);
}

#[test]
fn connect_rejections() {
    rejects(
        &[0x07, 0x04, 0x04, 0x02, 0x00, 0x0A, b'x'],
        DecodeError::UnsupportedProtocolId(0x02),
    );
    rejects(
        &[0x07, 0x04, 0x04, 0x01, 0x00, 0x0A, 0xFF],
        DecodeError::InvalidUtf8 {
            field: "CONNECT ClientId",
        },
    );
    rejects(
        &[0x05, 0x04, 0x04, 0x01, 0x00],
        DecodeError::BodyTooShort {
            msg_type: MsgType::Connect,
            actual: 3,
        },
    );
}

#[test]
fn publish_qos_minus_one_to_predefined_id() {
    golden(
        &[0x09, 0x0C, 0x61, 0x00, 0x01, 0x00, 0x00, b'o', b'n'],
        Message::Publish(Publish {
            dup: false,
            qos: QoS::MinusOne,
            retain: false,
            topic: Topic::Predefined(1),
            msg_id: 0,
            payload: Bytes::from_static(b"on"),
        }),
    );
}

#[test]
fn publish_short_topic_qos2_dup_retain() {
    golden(
        &[0x08, 0x0C, 0xD2, b't', b'p', 0x12, 0x34, 0x2A],
        Message::Publish(Publish {
            dup: true,
            qos: QoS::ExactlyOnce,
            retain: true,
            topic: Topic::Short(*b"tp"),
            msg_id: 0x1234,
            payload: Bytes::from_static(&[0x2A]),
        }),
    );
}

#[test]
fn publish_of_300_octets_uses_three_octet_length() {
    let payload = Bytes::from(vec![0xAB; 300 - 4 - 5]);
    let mut bytes = vec![0x01, 0x01, 0x2C, 0x0C, 0x20, 0x00, 0x05, 0x12, 0x34];
    bytes.extend_from_slice(&payload);
    assert_eq!(bytes.len(), 300);
    golden(
        &bytes,
        Message::Publish(Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: false,
            topic: Topic::Id(5),
            msg_id: 0x1234,
            payload,
        }),
    );
}

#[test]
fn length_form_boundary() {
    let publish = |n: usize| {
        Message::Publish(Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: Topic::Id(1),
            msg_id: 0,
            payload: Bytes::from(vec![0; n]),
        })
    };
    // Body 253 octets: 255 total, still the 1-octet form.
    assert_eq!(publish(248).encoded_len(), 255);
    // Body 254 octets: 256 would not fit one octet, so 3-octet form.
    assert_eq!(publish(249).encoded_len(), 258);
    let mut buf = BytesMut::new();
    encode(&publish(249), &mut buf).unwrap();
    assert_eq!(&buf[..3], &[0x01, 0x01, 0x02]);
    // The largest message that fits, and one octet more.
    assert!(encode(&publish(65535 - 9), &mut BytesMut::new()).is_ok());
    assert_eq!(
        encode(&publish(65535 - 8), &mut BytesMut::new()),
        Err(EncodeError::MessageTooLong { len: 65536 })
    );
}

#[test]
fn three_octet_form_accepted_for_short_messages() {
    assert_eq!(
        decode(&Bytes::from_static(&[0x01, 0x00, 0x04, 0x17])),
        Ok(Message::PingResp)
    );
}

#[test]
fn publish_reserved_topic_id_type() {
    rejects(
        &[0x07, 0x0C, 0x03, 0x00, 0x01, 0x00, 0x00],
        DecodeError::ReservedTopicIdType,
    );
}

#[test]
fn puback_rejected_invalid_topic_id() {
    golden(
        &[0x07, 0x0D, 0x00, 0x05, 0x00, 0x09, 0x02],
        Message::PubAck(PubAck {
            topic_id: 5,
            msg_id: 9,
            return_code: ReturnCode::InvalidTopicId,
        }),
    );
}

#[test]
fn qos2_handshake_and_unsuback() {
    golden(&[0x04, 0x0F, 0x00, 0x07], Message::PubRec { msg_id: 7 });
    golden(&[0x04, 0x10, 0x00, 0x07], Message::PubRel { msg_id: 7 });
    golden(&[0x04, 0x0E, 0x00, 0x07], Message::PubComp { msg_id: 7 });
    golden(&[0x04, 0x15, 0x01, 0x00], Message::UnsubAck { msg_id: 256 });
}

#[test]
fn searchgw_and_advertise() {
    golden(&[0x03, 0x01, 0x01], Message::SearchGw(SearchGw { radius: 1 }));
    golden(
        &[0x05, 0x00, 0x01, 0x03, 0x84],
        Message::Advertise(Advertise {
            gw_id: 1,
            duration: 900,
        }),
    );
}

#[test]
fn gwinfo_from_gateway_and_from_client() {
    golden(
        &[0x03, 0x02, 0x05],
        Message::GwInfo(GwInfo {
            gw_id: 5,
            gw_add: None,
        }),
    );
    golden(
        &[0x07, 0x02, 0x05, 0xC0, 0xA8, 0x00, 0x01],
        Message::GwInfo(GwInfo {
            gw_id: 5,
            gw_add: Some(Bytes::from_static(&[192, 168, 0, 1])),
        }),
    );
}

#[test]
fn connack_codes() {
    golden(
        &[0x03, 0x05, 0x00],
        Message::ConnAck {
            return_code: ReturnCode::Accepted,
        },
    );
    golden(
        &[0x03, 0x05, 0x01],
        Message::ConnAck {
            return_code: ReturnCode::Congestion,
        },
    );
    golden(
        &[0x03, 0x05, 0x03],
        Message::ConnAck {
            return_code: ReturnCode::NotSupported,
        },
    );
    golden(
        &[0x03, 0x05, 0x7F],
        Message::ConnAck {
            return_code: ReturnCode::Other(0x7F),
        },
    );
    rejects(
        &[0x04, 0x05, 0x00, 0x00],
        DecodeError::TrailingBytes {
            msg_type: MsgType::ConnAck,
            extra: 1,
        },
    );
}

#[test]
fn will_exchange() {
    golden(&[0x02, 0x06], Message::WillTopicReq);
    golden(&[0x02, 0x08], Message::WillMsgReq);
    // Empty WILLTOPIC: delete the will.
    golden(&[0x02, 0x07], Message::WillTopic(None));
    golden(
        &[0x04, 0x07, 0x30, b'w'],
        Message::WillTopic(Some(WillTopic {
            qos: QoS::AtLeastOnce,
            retain: true,
            topic: Utf8Bytes::from_static("w"),
        })),
    );
    golden(
        &[0x05, 0x09, b'b', b'y', b'e'],
        Message::WillMsg(WillMsg {
            message: Bytes::from_static(b"bye"),
        }),
    );
    golden(&[0x02, 0x1A], Message::WillTopicUpd(None));
    golden(
        &[0x03, 0x1B, 0x00],
        Message::WillTopicResp {
            return_code: ReturnCode::Accepted,
        },
    );
    golden(
        &[0x03, 0x1C, 0x00],
        Message::WillMsgUpd(WillMsg {
            message: Bytes::from_static(&[0]),
        }),
    );
    golden(
        &[0x03, 0x1D, 0x03],
        Message::WillMsgResp {
            return_code: ReturnCode::NotSupported,
        },
    );
    rejects(
        &[0x03, 0x06, 0x00],
        DecodeError::TrailingBytes {
            msg_type: MsgType::WillTopicReq,
            extra: 1,
        },
    );
}

#[test]
fn register_and_regack() {
    golden(
        &[0x09, 0x0A, 0x00, 0x00, 0x00, 0x01, b'a', b'/', b'b'],
        Message::Register(Register {
            topic_id: 0,
            msg_id: 1,
            topic_name: Utf8Bytes::from_static("a/b"),
        }),
    );
    golden(
        &[0x07, 0x0B, 0x00, 0x01, 0x00, 0x01, 0x00],
        Message::RegAck(RegAck {
            topic_id: 1,
            msg_id: 1,
            return_code: ReturnCode::Accepted,
        }),
    );
}

#[test]
fn subscribe_forms() {
    golden(
        &[0x08, 0x12, 0x20, 0x00, 0x02, b'a', b'/', b'#'],
        Message::Subscribe(Subscribe {
            dup: false,
            qos: QoS::AtLeastOnce,
            msg_id: 2,
            topic: TopicFilter::Name(Utf8Bytes::from_static("a/#")),
        }),
    );
    golden(
        &[0x07, 0x12, 0x02, 0x00, 0x03, b'a', b'b'],
        Message::Subscribe(Subscribe {
            dup: false,
            qos: QoS::AtMostOnce,
            msg_id: 3,
            topic: TopicFilter::Short(*b"ab"),
        }),
    );
    golden(
        &[0x07, 0x14, 0x01, 0x00, 0x04, 0x00, 0x09],
        Message::Unsubscribe(Unsubscribe {
            msg_id: 4,
            topic: TopicFilter::Predefined(9),
        }),
    );
    golden(
        &[0x08, 0x13, 0x40, 0x00, 0x01, 0x00, 0x02, 0x00],
        Message::SubAck(SubAck {
            qos: QoS::ExactlyOnce,
            topic_id: 1,
            msg_id: 2,
            return_code: ReturnCode::Accepted,
        }),
    );
    rejects(
        &[0x08, 0x12, 0x01, 0x00, 0x02, 0x00, 0x09, 0x00],
        DecodeError::TrailingBytes {
            msg_type: MsgType::Subscribe,
            extra: 1,
        },
    );
    rejects(
        &[0x06, 0x12, 0x02, 0x00, 0x02, b'a'],
        DecodeError::BodyTooShort {
            msg_type: MsgType::Subscribe,
            actual: 4,
        },
    );
}

#[test]
fn pingreq_with_and_without_client_id() {
    golden(&[0x02, 0x16], Message::PingReq(PingReq { client_id: None }));
    golden(
        &[0x05, 0x16, b'a', b'b', b'c'],
        Message::PingReq(PingReq {
            client_id: Some(Utf8Bytes::from_static("abc")),
        }),
    );
    golden(&[0x02, 0x17], Message::PingResp);
}

#[test]
fn disconnect_with_and_without_duration() {
    golden(&[0x02, 0x18], Message::Disconnect(Disconnect { duration: None }));
    golden(
        &[0x04, 0x18, 0x01, 0x2C],
        Message::Disconnect(Disconnect { duration: Some(300) }),
    );
    rejects(
        &[0x03, 0x18, 0x01],
        DecodeError::BodyTooShort {
            msg_type: MsgType::Disconnect,
            actual: 1,
        },
    );
}

#[test]
fn encapsulated_pingreq() {
    golden(
        &[0x05, 0xFE, 0x01, 0xAA, 0xBB, 0x02, 0x16],
        Message::Encapsulated(Encapsulated {
            radius: 1,
            wireless_node_id: Bytes::from_static(&[0xAA, 0xBB]),
            message: Box::new(Message::PingReq(PingReq::default())),
        }),
    );
    rejects(
        &[0x03, 0xFE, 0x00, 0x03, 0xFE, 0x00, 0x02, 0x16],
        DecodeError::NestedEncapsulation,
    );
    rejects(
        &[0x03, 0xFE, 0x00],
        DecodeError::Truncated {
            needed: 2,
            available: 0,
        },
    );
    rejects(&[0x02, 0xFE, 0x02, 0x16], DecodeError::InvalidLength(2));
    rejects(
        &[0x09, 0xFE, 0x00, 0x02, 0x16],
        DecodeError::LengthMismatch {
            declared: 9,
            actual: 5,
        },
    );
}

#[test]
fn framing_errors() {
    rejects(
        &[],
        DecodeError::Truncated {
            needed: 2,
            available: 0,
        },
    );
    rejects(
        &[0x05],
        DecodeError::Truncated {
            needed: 2,
            available: 1,
        },
    );
    rejects(
        &[0x01, 0x00],
        DecodeError::Truncated {
            needed: 4,
            available: 2,
        },
    );
    rejects(&[0x00, 0x16], DecodeError::InvalidLength(0));
    rejects(&[0x01, 0x00, 0x03, 0x16], DecodeError::InvalidLength(3));
    rejects(
        &[0x03, 0x16],
        DecodeError::LengthMismatch {
            declared: 3,
            actual: 2,
        },
    );
    rejects(
        &[0x02, 0x16, 0x00],
        DecodeError::LengthMismatch {
            declared: 2,
            actual: 3,
        },
    );
    rejects(&[0x02, 0x03], DecodeError::UnknownMessageType(0x03));
    rejects(&[0x02, 0x11], DecodeError::UnknownMessageType(0x11));
}

#[test]
fn peek_frame_reads_headers() {
    assert_eq!(peek_frame(&[]), Ok(None));
    assert_eq!(peek_frame(&[0x09]), Ok(None));
    assert_eq!(peek_frame(&[0x01, 0x01]), Ok(None));
    assert_eq!(
        peek_frame(&[0x09, 0x0C, 0xFF]),
        Ok(Some(FrameHeader {
            len: 9,
            length_field_len: 1,
            msg_type: 0x0C
        }))
    );
    assert_eq!(
        peek_frame(&[0x01, 0x01, 0x2C, 0x0C]),
        Ok(Some(FrameHeader {
            len: 300,
            length_field_len: 3,
            msg_type: 0x0C
        }))
    );
    assert_eq!(peek_frame(&[0x00, 0x0C]), Err(DecodeError::InvalidLength(0)));
}

#[test]
fn debug_redacts_payloads() {
    let publish = Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic: Topic::Id(1),
        msg_id: 0,
        payload: Bytes::from_static(b"secret"),
    };
    let shown = format!(
        "{publish:?}{:?}",
        WillMsg {
            message: Bytes::from_static(b"secret")
        }
    );
    assert!(
        !shown.contains("secret") && shown.contains("payload_len: 6"),
        "{shown}"
    );
}

#[test]
fn errors_name_the_spec_section() {
    let e = DecodeError::LengthMismatch {
        declared: 3,
        actual: 2,
    };
    assert_eq!(
        e.to_string(),
        "[MQTT-SN 1.2 §5.2.1] length field says 3 octets, datagram has 2"
    );
    let e = DecodeError::BodyTooShort {
        msg_type: MsgType::Publish,
        actual: 2,
    };
    assert!(e.to_string().contains("PUBLISH body of 2 octets"));
}
