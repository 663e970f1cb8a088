//! proptest strategies for every packet at every protocol level it exists on.
#![allow(dead_code, reason = "each test binary uses a part of the strategies")]

use bytes::Bytes;
use proptest::collection::vec;
use proptest::option::of;
use proptest::prelude::*;
use std::num::{NonZeroU16, NonZeroU32};
use tern_mqtt_codec::*;

pub const VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V3_1,
    ProtocolVersion::V3_1_1,
    ProtocolVersion::V5,
];

pub fn string() -> impl Strategy<Value = ByteStr> {
    "[a-zA-Z0-9 é/_-]{0,12}".prop_map(ByteStr::from)
}

pub fn topic() -> impl Strategy<Value = ByteStr> {
    "[a-z$]{1,4}(/[a-z0-9 ]{0,4}){0,3}".prop_map(ByteStr::from)
}

pub fn filter() -> impl Strategy<Value = ByteStr> {
    (
        vec(
            prop_oneof!["[a-z]{1,3}", Just("+".to_owned()), Just(String::new())],
            1..4,
        ),
        any::<bool>(),
    )
        .prop_map(|(mut levels, hash)| {
            if hash {
                levels.push("#".into());
            }
            if levels.iter().all(String::is_empty) {
                levels.push("x".into());
            }
            ByteStr::from(levels.join("/"))
        })
}

pub fn binary() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..16).prop_map(Bytes::from)
}

pub fn users() -> impl Strategy<Value = Vec<UserProperty>> {
    vec((string(), string()), 0..3)
}

pub fn packet_id() -> impl Strategy<Value = PacketId> {
    (1u16..).prop_map(|v| NonZeroU16::new(v).unwrap_or(NonZeroU16::MIN))
}

pub fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

fn sub_id() -> impl Strategy<Value = NonZeroU32> {
    (1u32..=268_435_455).prop_map(|v| NonZeroU32::new(v).unwrap_or(NonZeroU32::MIN))
}

pub fn publish_properties() -> impl Strategy<Value = PublishProperties> {
    (
        of(any::<bool>()),
        of(any::<u32>()),
        of(1u16..).prop_map(|a| a.and_then(NonZeroU16::new)),
        of(topic()),
        of(binary()),
        users(),
        vec(sub_id(), 0..3),
        of(string()),
    )
        .prop_map(|(pfi, mei, alias, rt, cd, up, sids, ct)| PublishProperties {
            payload_format_indicator: pfi,
            message_expiry_interval: mei,
            topic_alias: alias,
            response_topic: rt,
            correlation_data: cd,
            user_properties: up,
            subscription_identifiers: sids,
            content_type: ct,
        })
}

pub fn publish(v: ProtocolVersion) -> impl Strategy<Value = Publish> {
    (
        any::<bool>(),
        qos(),
        any::<bool>(),
        prop_oneof![4 => topic(), 1 => Just(ByteStr::new())],
        packet_id(),
    )
        .prop_flat_map(move |t| {
            let props = if v.is_v5() {
                publish_properties().boxed()
            } else {
                Just(Default::default()).boxed()
            };
            (Just(t), props, vec(any::<u8>(), 0..64))
        })
        .prop_map(move |((dup, qos, retain, topic, id), mut properties, payload)| {
            let mut topic = topic;
            if topic.is_empty() && (!v.is_v5() || properties.topic_alias.is_none()) {
                topic = ByteStr::from("t");
            }
            let _ = &mut properties;
            Publish {
                dup: dup && qos != QoS::AtMostOnce,
                qos,
                retain,
                topic,
                packet_id: (qos != QoS::AtMostOnce).then_some(id),
                properties,
                payload: Bytes::from(payload),
            }
        })
}

pub fn will(v: ProtocolVersion) -> impl Strategy<Value = Will> {
    let props = if v.is_v5() {
        (
            of(any::<u32>()),
            of(any::<bool>()),
            of(any::<u32>()),
            of(string()),
            of(topic()),
            of(binary()),
            users(),
        )
            .prop_map(|(d, pfi, mei, ct, rt, cd, up)| WillProperties {
                will_delay_interval: d,
                payload_format_indicator: pfi,
                message_expiry_interval: mei,
                content_type: ct,
                response_topic: rt,
                correlation_data: cd,
                user_properties: up,
            })
            .boxed()
    } else {
        Just(WillProperties::default()).boxed()
    };
    (topic(), binary(), qos(), any::<bool>(), props).prop_map(|(topic, payload, qos, retain, properties)| {
        Will {
            topic,
            payload,
            qos,
            retain,
            properties,
        }
    })
}

pub fn connect(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let props = if v.is_v5() {
        (
            of(any::<u32>()),
            of(1u16..),
            of(1u32..),
            of(any::<u16>()),
            of(any::<bool>()),
            of(any::<bool>()),
            users(),
            of(string()),
            of(binary()),
        )
            .prop_map(|(sei, rm, mps, tam, rri, rpi, up, am, ad)| ConnectProperties {
                // Authentication data only comes with a method.
                authentication_data: ad.filter(|_| am.is_some()),
                session_expiry_interval: sei,
                receive_maximum: rm,
                maximum_packet_size: mps,
                topic_alias_maximum: tam,
                request_response_information: rri,
                request_problem_information: rpi,
                user_properties: up,
                authentication_method: am,
            })
            .boxed()
    } else {
        Just(ConnectProperties::default()).boxed()
    };
    (
        any::<bool>(),
        any::<u16>(),
        string(),
        of(will(v)),
        of(string()),
        of(binary()),
        props,
    )
        .prop_map(
            move |(clean_start, keep_alive, client_id, will, username, password, properties)| {
                let password = if v.is_v5() || username.is_some() {
                    password
                } else {
                    None
                };
                Packet::Connect(Box::new(Connect {
                    protocol: v,
                    clean_start,
                    keep_alive,
                    client_id,
                    will,
                    username,
                    password,
                    properties,
                }))
            },
        )
}

fn connack_properties() -> impl Strategy<Value = ConnAckProperties> {
    (
        (
            of(any::<u32>()),
            of(1u16..),
            of(prop_oneof![Just(QoS::AtMostOnce), Just(QoS::AtLeastOnce)]),
        ),
        (
            of(any::<bool>()),
            of(1u32..),
            of(string()),
            of(any::<u16>()),
            of(string()),
            users(),
        ),
        (
            of(any::<bool>()),
            of(any::<bool>()),
            of(any::<bool>()),
            of(any::<u16>()),
        ),
        (of(string()), of(string()), of(string()), of(binary())),
    )
        .prop_map(
            |((sei, rm, mq), (ra, mps, aci, tam, rs, up), (wsa, sia, ssa, ska), (ri, sr, am, ad))| {
                ConnAckProperties {
                    session_expiry_interval: sei,
                    receive_maximum: rm,
                    maximum_qos: mq,
                    retain_available: ra,
                    maximum_packet_size: mps,
                    assigned_client_identifier: aci,
                    topic_alias_maximum: tam,
                    reason_string: rs,
                    user_properties: up,
                    wildcard_subscription_available: wsa,
                    subscription_identifiers_available: sia,
                    shared_subscription_available: ssa,
                    server_keep_alive: ska,
                    response_information: ri,
                    server_reference: sr,
                    authentication_method: am,
                    authentication_data: ad,
                }
            },
        )
}

const V3_CONNACK: [ReasonCode; 6] = [
    ReasonCode::Success,
    ReasonCode::UnsupportedProtocolVersion,
    ReasonCode::ClientIdentifierNotValid,
    ReasonCode::ServerUnavailable,
    ReasonCode::BadUserNameOrPassword,
    ReasonCode::NotAuthorized,
];

const V3_SUBACK: [ReasonCode; 4] = [
    ReasonCode::GrantedQoS0,
    ReasonCode::GrantedQoS1,
    ReasonCode::GrantedQoS2,
    ReasonCode::UnspecifiedError,
];

pub fn connack(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let (codes, props) = if v.is_v5() {
        (
            prop::sample::select(ReasonCode::all_for(PacketType::ConnAck)).boxed(),
            connack_properties().boxed(),
        )
    } else {
        (
            prop::sample::select(&V3_CONNACK[..]).boxed(),
            Just(ConnAckProperties::default()).boxed(),
        )
    };
    (any::<bool>(), codes, props).prop_map(move |(sp, reason_code, properties)| {
        Packet::ConnAck(Box::new(ConnAck {
            session_present: sp && v != ProtocolVersion::V3_1,
            reason_code,
            properties,
        }))
    })
}

fn ack_properties(v: ProtocolVersion) -> BoxedStrategy<AckProperties> {
    if v.is_v5() {
        (of(string()), users())
            .prop_map(|(reason_string, user_properties)| AckProperties {
                reason_string,
                user_properties,
            })
            .boxed()
    } else {
        Just(AckProperties::default()).boxed()
    }
}

fn codes_for(v: ProtocolVersion, pt: PacketType) -> BoxedStrategy<ReasonCode> {
    if v.is_v5() {
        prop::sample::select(ReasonCode::all_for(pt)).boxed()
    } else if pt == PacketType::SubAck {
        prop::sample::select(&V3_SUBACK[..]).boxed()
    } else {
        Just(ReasonCode::Success).boxed()
    }
}

pub fn pub_ack(v: ProtocolVersion, pt: PacketType) -> impl Strategy<Value = Packet> {
    (packet_id(), codes_for(v, pt), ack_properties(v)).prop_map(
        move |(packet_id, reason_code, properties)| {
            let ack = PubAck {
                packet_id,
                reason_code,
                properties,
            };
            match pt {
                PacketType::PubAck => Packet::PubAck(ack),
                PacketType::PubRec => Packet::PubRec(ack),
                PacketType::PubRel => Packet::PubRel(ack),
                _ => Packet::PubComp(ack),
            }
        },
    )
}

fn options(v: ProtocolVersion) -> BoxedStrategy<SubscriptionOptions> {
    if v.is_v5() {
        (
            qos(),
            any::<bool>(),
            any::<bool>(),
            prop_oneof![
                Just(RetainHandling::SendAtSubscribe),
                Just(RetainHandling::SendAtSubscribeIfNew),
                Just(RetainHandling::DoNotSend)
            ],
        )
            .prop_map(
                |(qos, no_local, retain_as_published, retain_handling)| SubscriptionOptions {
                    qos,
                    no_local,
                    retain_as_published,
                    retain_handling,
                },
            )
            .boxed()
    } else {
        qos()
            .prop_map(|qos| SubscriptionOptions {
                qos,
                ..Default::default()
            })
            .boxed()
    }
}

pub fn subscribe(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let props = if v.is_v5() {
        (of(sub_id()), users())
            .prop_map(|(subscription_identifier, user_properties)| SubscribeProperties {
                subscription_identifier,
                user_properties,
            })
            .boxed()
    } else {
        Just(SubscribeProperties::default()).boxed()
    };
    let entry = (filter(), options(v), any::<bool>()).prop_map(move |(filter, mut options, shared)| {
        if shared && v.is_v5() {
            options.no_local = false;
            SubscribeFilter {
                filter: ByteStr::from(format!("$share/grp/{filter}")),
                options,
            }
        } else {
            SubscribeFilter { filter, options }
        }
    });
    (packet_id(), props, vec(entry, 1..4)).prop_map(|(packet_id, properties, filters)| {
        Packet::Subscribe(Subscribe {
            packet_id,
            properties,
            filters,
        })
    })
}

pub fn suback(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        packet_id(),
        ack_properties(v),
        vec(codes_for(v, PacketType::SubAck), 1..4),
    )
        .prop_map(|(packet_id, properties, reason_codes)| {
            Packet::SubAck(SubAck {
                packet_id,
                properties,
                reason_codes,
            })
        })
}

pub fn unsubscribe(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let up = if v.is_v5() {
        users().boxed()
    } else {
        Just(Vec::new()).boxed()
    };
    (packet_id(), up, vec(filter(), 1..4)).prop_map(|(packet_id, user_properties, filters)| {
        Packet::Unsubscribe(Unsubscribe {
            packet_id,
            user_properties,
            filters,
        })
    })
}

pub fn unsuback(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let n = if v.is_v5() { 1..4usize } else { 0..1usize };
    (
        packet_id(),
        ack_properties(v),
        vec(codes_for(v, PacketType::UnsubAck), n),
    )
        .prop_map(|(packet_id, properties, reason_codes)| {
            Packet::UnsubAck(UnsubAck {
                packet_id,
                properties,
                reason_codes,
            })
        })
}

pub fn disconnect(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let props = if v.is_v5() {
        (of(any::<u32>()), of(string()), users(), of(string()))
            .prop_map(|(sei, rs, up, sr)| DisconnectProperties {
                session_expiry_interval: sei,
                reason_string: rs,
                user_properties: up,
                server_reference: sr,
            })
            .boxed()
    } else {
        Just(DisconnectProperties::default()).boxed()
    };
    let codes = if v.is_v5() {
        prop::sample::select(ReasonCode::all_for(PacketType::Disconnect)).boxed()
    } else {
        Just(ReasonCode::NormalDisconnection).boxed()
    };
    (codes, props).prop_map(|(reason_code, properties)| {
        Packet::Disconnect(Disconnect {
            reason_code,
            properties,
        })
    })
}

pub fn auth() -> impl Strategy<Value = Packet> {
    (
        prop::sample::select(ReasonCode::all_for(PacketType::Auth)),
        string(),
        of(binary()),
        of(string()),
        users(),
    )
        .prop_map(|(reason_code, am, ad, rs, up)| {
            // A method is required unless the packet is the empty short form, where the encoder drops nothing.
            let full = reason_code != ReasonCode::Success || ad.is_some() || rs.is_some() || !up.is_empty();
            let am = full.then_some(am);
            Packet::Auth(Auth {
                reason_code,
                properties: AuthProperties {
                    authentication_method: am,
                    authentication_data: ad,
                    reason_string: rs,
                    user_properties: up,
                },
            })
        })
}

/// Any packet valid at `v`.
pub fn packet(v: ProtocolVersion) -> BoxedStrategy<Packet> {
    let mut all = vec![
        connect(v).boxed(),
        connack(v).boxed(),
        publish(v).prop_map(Packet::Publish).boxed(),
        pub_ack(v, PacketType::PubAck).boxed(),
        pub_ack(v, PacketType::PubRec).boxed(),
        pub_ack(v, PacketType::PubRel).boxed(),
        pub_ack(v, PacketType::PubComp).boxed(),
        subscribe(v).boxed(),
        suback(v).boxed(),
        unsubscribe(v).boxed(),
        unsuback(v).boxed(),
        Just(Packet::PingReq).boxed(),
        Just(Packet::PingResp).boxed(),
        disconnect(v).boxed(),
    ];
    if v.is_v5() {
        all.push(auth().boxed());
    }
    proptest::strategy::Union::new(all).boxed()
}

/// Any protocol level with a packet valid at it.
pub fn versioned_packet() -> impl Strategy<Value = (ProtocolVersion, Packet)> {
    prop::sample::select(&VERSIONS[..]).prop_flat_map(|v| (Just(v), packet(v)))
}
