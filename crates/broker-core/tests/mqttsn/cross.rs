//! Flows across protocols on one core: a sensor and an MQTT client see each other's messages.

use crate::connect::{received, watcher};
use crate::harness::*;
use bytes::BytesMut;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tern_broker_core::{ConnMeta, MqttConnection, TransportKind};
use tern_mqtt_codec::{
    Connect, Packet, ProtocolVersion, Publish as MqttPublish, QoS as MqttQoS, decode_packet, encode_packet,
};
use tern_mqttsn_codec::{Message, PubAck, QoS, ReturnCode, Topic, TopicFilter};

#[test]
fn sensor_qos1_reaches_an_mqtt_session_and_back() {
    let mut net = Net::new(config());
    let w = watcher(&net, "mqtt", "home/#");
    let s = addr(1);
    net.connect(s, "s1", true, 60);
    let id = net.register(s, "home/temp", 1);
    net.send(s, publish(Topic::Id(id), QoS::AtLeastOnce, 3, b"21.5"));
    assert_eq!(
        net.one(s),
        Message::PubAck(PubAck {
            topic_id: id,
            msg_id: 3,
            return_code: ReturnCode::Accepted
        })
    );
    assert_eq!(received(&net, &w), vec![("home/temp".into(), b"21.5".to_vec())]);
}

#[test]
fn mqtt_connection_publish_reaches_a_sensor() {
    let mut net = Net::new(config());
    let s = addr(1);
    net.connect(s, "s1", true, 60);
    net.subscribe(s, TopicFilter::Short(*b"hi"), QoS::AtLeastOnce, 1);

    let woke = Arc::new(AtomicUsize::new(0));
    let wk = woke.clone();
    let meta = ConnMeta {
        peer: addr(2),
        transport: TransportKind::Tcp,
        tls_identity: None,
        listener: None,
    };
    let mut conn = MqttConnection::new(
        net.core.clone(),
        meta,
        Arc::new(move || {
            wk.fetch_add(1, Ordering::Relaxed);
        }),
        net.now,
    );
    let mut input = BytesMut::new();
    encode_packet(
        &Packet::Connect(Box::new(Connect::new(ProtocolVersion::V5, "m1"))),
        ProtocolVersion::V5,
        &mut input,
    )
    .unwrap();
    let mut p = MqttPublish::new("hi", &b"from mqtt"[..]);
    p.qos = MqttQoS::AtLeastOnce;
    p.packet_id = std::num::NonZeroU16::new(1);
    encode_packet(&Packet::Publish(p), ProtocolVersion::V5, &mut input).unwrap();
    conn.handle_read(net.now, &mut input);
    let mut out = BytesMut::new();
    conn.poll_transmit(net.now, &mut out);
    let mut acks = Vec::new();
    while let Ok(Some(pkt)) = decode_packet(&mut out, ProtocolVersion::V5, u32::MAX) {
        acks.push(pkt);
    }
    assert!(acks.iter().any(|p| matches!(p, Packet::PubAck(_))), "{acks:?}");
    assert!(
        matches!(net.one(s), Message::Publish(p) if &p.payload[..] == b"from mqtt" && p.qos == QoS::AtLeastOnce)
    );
}
