//! Writes the seed corpus of the `mqtt_decode` fuzz target: valid encodings of varied packets at all three
//! protocol levels. Run from the workspace root: `cargo run -p tern-mqtt-codec --example write_corpus`.

use bytes::{Bytes, BytesMut};
use std::num::{NonZeroU16, NonZeroU32};
use std::path::PathBuf;
use tern_mqtt_codec::*;

fn id(v: u16) -> PacketId {
    NonZeroU16::new(v).unwrap_or(NonZeroU16::MIN)
}

fn seeds() -> Vec<(&'static str, ProtocolVersion, Packet)> {
    use ProtocolVersion::*;
    let user = || vec![(ByteStr::from("k"), ByteStr::from("v"))];

    let v31 = Connect::new(V3_1, "mqtt31-client");
    let mut v311 = Connect::new(V3_1_1, "mqtt311");
    v311.username = Some("user".into());
    v311.password = Some(Bytes::from_static(b"secret"));
    v311.will = Some(Will {
        topic: "status/mqtt311".into(),
        payload: Bytes::from_static(b"offline"),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: WillProperties::default(),
    });
    let mut v5 = Connect::new(V5, "mqtt5");
    v5.properties = ConnectProperties {
        session_expiry_interval: Some(3600),
        receive_maximum: Some(20),
        maximum_packet_size: Some(65_536),
        topic_alias_maximum: Some(10),
        request_problem_information: Some(false),
        user_properties: user(),
        authentication_method: Some("SCRAM-SHA-256".into()),
        authentication_data: Some(Bytes::from_static(b"n,,n=user,r=abc")),
        ..Default::default()
    };
    v5.will = Some(Will {
        topic: "status/mqtt5".into(),
        payload: Bytes::from_static(b"gone"),
        qos: QoS::ExactlyOnce,
        retain: false,
        properties: WillProperties {
            will_delay_interval: Some(30),
            payload_format_indicator: Some(true),
            content_type: Some("text/plain".into()),
            response_topic: Some("replies/1".into()),
            correlation_data: Some(Bytes::from_static(b"\x01\x02")),
            user_properties: user(),
            ..Default::default()
        },
    });

    let mut pub_q1 = Publish::new("sensors/kitchen/temp", Bytes::from_static(b"21.5"));
    pub_q1.qos = QoS::AtLeastOnce;
    pub_q1.packet_id = Some(id(10));
    let mut pub_v5 = Publish::new("", Bytes::from_static(b"{\"t\":21.5}"));
    pub_v5.qos = QoS::ExactlyOnce;
    pub_v5.dup = true;
    pub_v5.retain = true;
    pub_v5.packet_id = Some(id(11));
    pub_v5.properties = PublishProperties {
        payload_format_indicator: Some(true),
        message_expiry_interval: Some(60),
        topic_alias: Some(id(3)),
        response_topic: Some("replies/kitchen".into()),
        correlation_data: Some(Bytes::from_static(b"req-1")),
        user_properties: user(),
        subscription_identifiers: vec![
            NonZeroU32::MIN,
            NonZeroU32::new(268_435_455).unwrap_or(NonZeroU32::MIN),
        ],
        content_type: Some("application/json".into()),
    };

    let sub_v5 = Subscribe {
        packet_id: id(20),
        properties: SubscribeProperties {
            subscription_identifier: NonZeroU32::new(42),
            user_properties: user(),
        },
        filters: vec![
            SubscribeFilter {
                filter: "sport/tennis/+".into(),
                options: SubscriptionOptions {
                    qos: QoS::ExactlyOnce,
                    no_local: true,
                    retain_as_published: true,
                    retain_handling: RetainHandling::DoNotSend,
                },
            },
            SubscribeFilter {
                filter: "$share/group/sensors/#".into(),
                options: SubscriptionOptions {
                    qos: QoS::AtLeastOnce,
                    retain_handling: RetainHandling::SendAtSubscribeIfNew,
                    ..Default::default()
                },
            },
        ],
    };
    let sub_v3 = Subscribe {
        packet_id: id(21),
        properties: SubscribeProperties::default(),
        filters: vec![SubscribeFilter {
            filter: "a/#".into(),
            options: SubscriptionOptions {
                qos: QoS::AtLeastOnce,
                ..Default::default()
            },
        }],
    };
    let ack_props = AckProperties {
        reason_string: Some("because".into()),
        user_properties: user(),
    };
    let connack_v5 = ConnAck {
        session_present: true,
        reason_code: ReasonCode::Success,
        properties: ConnAckProperties {
            receive_maximum: Some(100),
            maximum_qos: Some(QoS::AtLeastOnce),
            retain_available: Some(false),
            assigned_client_identifier: Some("auto-1".into()),
            topic_alias_maximum: Some(16),
            server_keep_alive: Some(30),
            shared_subscription_available: Some(true),
            ..Default::default()
        },
    };

    vec![
        ("connect_v31", V3_1, Packet::Connect(Box::new(v31))),
        ("connect_v311_will_auth", V3_1_1, Packet::Connect(Box::new(v311))),
        ("connect_v5_will_props", V5, Packet::Connect(Box::new(v5))),
        (
            "connack_v311",
            V3_1_1,
            Packet::ConnAck(Box::new(ConnAck::new(ReasonCode::NotAuthorized, false))),
        ),
        ("connack_v5_props", V5, Packet::ConnAck(Box::new(connack_v5))),
        (
            "publish_v311_qos0",
            V3_1_1,
            Packet::Publish(Publish::new("a/b", Bytes::from_static(b"hello"))),
        ),
        ("publish_v31_qos1", V3_1, Packet::Publish(pub_q1.clone())),
        ("publish_v5_props_alias", V5, Packet::Publish(pub_v5)),
        ("puback_v311", V3_1_1, Packet::PubAck(PubAck::new(id(10)))),
        (
            "pubrec_v5_reason",
            V5,
            Packet::PubRec(PubAck {
                packet_id: id(11),
                reason_code: ReasonCode::QuotaExceeded,
                properties: ack_props.clone(),
            }),
        ),
        ("pubrel_v5", V5, Packet::PubRel(PubAck::new(id(11)))),
        ("pubcomp_v31", V3_1, Packet::PubComp(PubAck::new(id(11)))),
        ("subscribe_v5_options", V5, Packet::Subscribe(sub_v5)),
        ("subscribe_v311", V3_1_1, Packet::Subscribe(sub_v3)),
        (
            "suback_v5",
            V5,
            Packet::SubAck(SubAck {
                packet_id: id(20),
                properties: ack_props.clone(),
                reason_codes: vec![
                    ReasonCode::GrantedQoS2,
                    ReasonCode::SharedSubscriptionsNotSupported,
                ],
            }),
        ),
        (
            "suback_v311",
            V3_1_1,
            Packet::SubAck(SubAck {
                packet_id: id(21),
                properties: AckProperties::default(),
                reason_codes: vec![ReasonCode::GrantedQoS1, ReasonCode::UnspecifiedError],
            }),
        ),
        (
            "unsubscribe_v5",
            V5,
            Packet::Unsubscribe(Unsubscribe {
                packet_id: id(22),
                user_properties: user(),
                filters: vec!["a/+".into()],
            }),
        ),
        (
            "unsuback_v5",
            V5,
            Packet::UnsubAck(UnsubAck {
                packet_id: id(22),
                properties: AckProperties::default(),
                reason_codes: vec![ReasonCode::NoSubscriptionExisted],
            }),
        ),
        ("pingreq", V3_1_1, Packet::PingReq),
        (
            "disconnect_v5_props",
            V5,
            Packet::Disconnect(Disconnect {
                reason_code: ReasonCode::ServerMoved,
                properties: DisconnectProperties {
                    server_reference: Some("other.example:1883".into()),
                    reason_string: Some("moving".into()),
                    ..Default::default()
                },
            }),
        ),
        (
            "auth_v5",
            V5,
            Packet::Auth(Auth::new(
                ReasonCode::ContinueAuthentication,
                "SCRAM-SHA-256".into(),
                Some(Bytes::from_static(b"r=abcdef,s=salt,i=4096")),
            )),
        ),
    ]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/mqtt_decode");
    std::fs::create_dir_all(&dir)?;
    for (name, version, packet) in seeds() {
        let mut buf = BytesMut::new();
        encode_packet(&packet, version, &mut buf)?;
        // Every seed must decode back to itself, or it would seed the fuzzer with noise.
        assert_eq!(
            decode_one(buf.clone().freeze(), version, u32::MAX)?,
            packet,
            "{name}"
        );
        std::fs::write(dir.join(name), &buf)?;
    }
    println!("wrote seeds to {}", dir.display());
    Ok(())
}
