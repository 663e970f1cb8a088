//! Writes seed datagrams (valid encodings of varied MQTT-SN 1.2 messages)
//! for the `mqttsn_decode` fuzz target.
//!
//! `cargo run -p tern-mqttsn-codec --example write_mqttsn_corpus [DIR]`; DIR
//! defaults to `fuzz/corpus/mqttsn_decode` at the workspace root.

use bytes::{Bytes, BytesMut};
use std::path::PathBuf;
use tern_mqttsn_codec::*;

/// The seeds, each named for what it exercises.
fn seeds() -> Vec<(&'static str, Message)> {
    let publish = |qos, topic, msg_id, payload: Vec<u8>| {
        Message::Publish(Publish {
            dup: false,
            qos,
            retain: false,
            topic,
            msg_id,
            payload: Bytes::from(payload),
        })
    };
    vec![
        (
            "advertise",
            Message::Advertise(Advertise {
                gw_id: 1,
                duration: 900,
            }),
        ),
        ("searchgw_radius1", Message::SearchGw(SearchGw { radius: 1 })),
        (
            "gwinfo_from_client_with_gwadd",
            Message::GwInfo(GwInfo {
                gw_id: 5,
                gw_add: Some(Bytes::from_static(&[192, 168, 0, 1])),
            }),
        ),
        (
            "connect_will_clean_session",
            Message::Connect(Connect {
                will: true,
                clean_session: true,
                version: ProtocolVersion::V1_2,
                duration: 30,
                client_id: Utf8Bytes::from_static("sensor-1"),
            }),
        ),
        (
            "connack_congestion",
            Message::ConnAck {
                return_code: ReturnCode::Congestion,
            },
        ),
        ("willtopic_empty_deletes_will", Message::WillTopic(None)),
        (
            "willtopic_qos1_retain",
            Message::WillTopic(Some(WillTopic {
                qos: QoS::AtLeastOnce,
                retain: true,
                topic: Utf8Bytes::from_static("dev/1/status"),
            })),
        ),
        (
            "willmsg",
            Message::WillMsg(WillMsg {
                message: Bytes::from_static(b"offline"),
            }),
        ),
        (
            "register_topic_name",
            Message::Register(Register {
                topic_id: 0,
                msg_id: 1,
                topic_name: Utf8Bytes::from_static("dev/1/temp"),
            }),
        ),
        (
            "publish_qos_minus1_predefined",
            publish(QoS::MinusOne, Topic::Predefined(1), 0, b"on".to_vec()),
        ),
        (
            "publish_qos1_topic_id",
            publish(QoS::AtLeastOnce, Topic::Id(5), 9, b"21.5".to_vec()),
        ),
        (
            "publish_300_octets_long_length",
            publish(QoS::ExactlyOnce, Topic::Short(*b"tp"), 3, vec![0xAB; 291]),
        ),
        (
            "puback_invalid_topic_id",
            Message::PubAck(PubAck {
                topic_id: 5,
                msg_id: 9,
                return_code: ReturnCode::InvalidTopicId,
            }),
        ),
        ("pubrel", Message::PubRel { msg_id: 3 }),
        (
            "subscribe_wildcard_name",
            Message::Subscribe(Subscribe {
                dup: false,
                qos: QoS::AtLeastOnce,
                msg_id: 2,
                topic: TopicFilter::Name(Utf8Bytes::from_static("dev/+/temp")),
            }),
        ),
        (
            "suback_granted_qos2",
            Message::SubAck(SubAck {
                qos: QoS::ExactlyOnce,
                topic_id: 1,
                msg_id: 2,
                return_code: ReturnCode::Accepted,
            }),
        ),
        (
            "unsubscribe_short_name",
            Message::Unsubscribe(Unsubscribe {
                msg_id: 4,
                topic: TopicFilter::Short(*b"ab"),
            }),
        ),
        (
            "pingreq_with_client_id",
            Message::PingReq(PingReq {
                client_id: Some(Utf8Bytes::from_static("sensor-1")),
            }),
        ),
        (
            "disconnect_sleep_300s",
            Message::Disconnect(Disconnect { duration: Some(300) }),
        ),
        (
            "encapsulated_publish",
            Message::Encapsulated(Encapsulated {
                radius: 1,
                wireless_node_id: Bytes::from_static(&[0x00, 0x13, 0xA2, 0x00, 0x40, 0x8B, 0x2C, 0x01]),
                message: Box::new(publish(QoS::AtMostOnce, Topic::Id(5), 0, b"x".to_vec())),
            }),
        ),
    ]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args_os().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/mqttsn_decode"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir)?;
    for (name, message) in seeds() {
        let mut buf = BytesMut::new();
        message.encode(&mut buf)?;
        let bytes = buf.freeze();
        // A seed that does not decode back would mislead the fuzzer.
        if decode(&bytes)? != message {
            return Err(format!("seed {name} does not round-trip").into());
        }
        std::fs::write(dir.join(format!("{name}.bin")), &bytes)?;
    }
    println!("wrote seeds to {}", dir.display());
    Ok(())
}
