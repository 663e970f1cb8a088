//! End-to-end over real TCP sockets: a third-party client (rumqttc) and raw packets against the whole stack.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use bytes::Bytes;
use common::{Raw, WAIT, start, v4};
use rumqttc::QoS as RQoS;
use std::time::Duration;
use tern_mqtt_codec::{
    ByteStr, Connect, ConnectProperties, Packet, ProtocolVersion, QoS, ReasonCode, Will, WillProperties,
};

fn connect(version: ProtocolVersion, id: &str, will: Option<Will>) -> Packet {
    Packet::Connect(Box::new(Connect {
        protocol: version,
        clean_start: true,
        keep_alive: 30,
        client_id: ByteStr::from(id),
        will,
        username: None,
        password: None,
        properties: ConnectProperties::default(),
    }))
}

async fn raw_connected(
    addr: std::net::SocketAddr,
    version: ProtocolVersion,
    id: &str,
    will: Option<Will>,
) -> Raw {
    let mut raw = Raw::connect(addr, version).await;
    raw.send(&connect(version, id, will)).await;
    match raw.recv().await {
        Some(Packet::ConnAck(ack)) => assert_eq!(ack.reason_code, ReasonCode::Success),
        other => panic!("expected CONNACK, got {other:?}"),
    }
    raw
}

#[tokio::test]
async fn rumqttc_publish_subscribe_at_every_qos() {
    let (_broker, addr) = start().await;
    let mut sub = v4(addr, "e2e-sub", |_| {}).await;
    let pubr = v4(addr, "e2e-pub", |_| {}).await;
    for (i, qos) in [RQoS::AtMostOnce, RQoS::AtLeastOnce, RQoS::ExactlyOnce]
        .into_iter()
        .enumerate()
    {
        let topic = format!("e2e/qos/{i}");
        let ack = sub.subscribe(&topic, qos).await;
        assert_eq!(ack.return_codes.len(), 1);
        pubr.client
            .publish(&topic, qos, false, format!("m{i}"))
            .await
            .unwrap();
        let got = sub.recv().await;
        assert_eq!(got.topic, topic);
        assert_eq!(got.payload, Bytes::from(format!("m{i}")));
        assert_eq!(got.qos, qos);
    }
}

#[tokio::test]
async fn retained_message_reaches_late_subscriber_and_empty_payload_clears_it() {
    let (_broker, addr) = start().await;
    let pubr = v4(addr, "ret-pub", |_| {}).await;
    pubr.client
        .publish("e2e/retained", RQoS::AtLeastOnce, true, "kept")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut late = v4(addr, "ret-late", |_| {}).await;
    late.subscribe("e2e/retained", RQoS::AtLeastOnce).await;
    let got = late.recv().await;
    assert!(got.retain, "retained delivery carries RETAIN [MQTT-3.3.1-8]");
    assert_eq!(got.payload, Bytes::from("kept"));

    pubr.client
        .publish("e2e/retained", RQoS::AtLeastOnce, true, "")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut later = v4(addr, "ret-later", |_| {}).await;
    later.subscribe("e2e/retained", RQoS::AtLeastOnce).await;
    later.expect_nothing(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn will_is_published_when_a_client_vanishes() {
    let (_broker, addr) = start().await;
    let mut watcher = v4(addr, "will-watch", |_| {}).await;
    watcher.subscribe("e2e/will", RQoS::AtLeastOnce).await;
    let will = Will {
        topic: ByteStr::from("e2e/will"),
        payload: Bytes::from_static(b"offline"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: WillProperties::default(),
    };
    let raw = raw_connected(addr, ProtocolVersion::V3_1_1, "will-dies", Some(will)).await;
    drop(raw); // socket closed without DISCONNECT
    let got = watcher.recv().await;
    assert_eq!(got.payload, Bytes::from_static(b"offline"));
}

#[tokio::test]
async fn malformed_input_closes_only_the_offender() {
    let (_broker, addr) = start().await;
    let mut sub = v4(addr, "calm-sub", |_| {}).await;
    sub.subscribe("e2e/calm", RQoS::AtLeastOnce).await;
    let pubr = v4(addr, "calm-pub", |_| {}).await;

    // A remaining length of five bytes is malformed [MQTT-1.5.5-1]; 3.1.1 answers by closing.
    let mut bad = Raw::connect(addr, ProtocolVersion::V3_1_1).await;
    bad.send_bytes(&[0x10, 0xff, 0xff, 0xff, 0xff, 0x7f]).await;
    assert!(bad.until_closed().await.is_empty());

    // A 5.0 client that sends PUBLISH with QoS 3 gets DISCONNECT 0x81 Malformed Packet, then the close.
    let mut bad5 = raw_connected(addr, ProtocolVersion::V5, "bad5", None).await;
    bad5.send_bytes(&[0x36, 0x05, 0x00, 0x01, b'a', 0x00, 0x00]).await;
    let seen = bad5.until_closed().await;
    match seen.last() {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason_code, ReasonCode::MalformedPacket),
        other => panic!("expected DISCONNECT 0x81, got {other:?}"),
    }

    pubr.client
        .publish("e2e/calm", RQoS::AtLeastOnce, false, "still here")
        .await
        .unwrap();
    assert_eq!(sub.recv().await.payload, Bytes::from("still here"));
}

#[tokio::test]
async fn oversize_packet_is_refused_with_packet_too_large() {
    let config = tern_broker::CoreConfig {
        max_packet_size: 1024,
        ..Default::default()
    };
    let (_broker, addr) = common::start_with(config).await;
    let mut raw = raw_connected(addr, ProtocolVersion::V5, "big5", None).await;
    // Announce a 1 MiB PUBLISH; the broker must refuse it from the header alone.
    raw.send_bytes(&[0x30, 0x80, 0x80, 0x40]).await;
    let seen = raw.until_closed().await;
    match seen.last() {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason_code, ReasonCode::PacketTooLarge),
        other => panic!("expected DISCONNECT 0x95, got {other:?}"),
    }
}

#[tokio::test]
async fn shutdown_tells_v5_clients_server_shutting_down() {
    let (broker, addr) = start().await;
    let mut raw = raw_connected(addr, ProtocolVersion::V5, "bye5", None).await;
    let left = broker.shutdown(WAIT).await;
    assert_eq!(left, 0);
    let seen = raw.until_closed().await;
    match seen.last() {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason_code, ReasonCode::ServerShuttingDown),
        other => panic!("expected DISCONNECT 0x8B, got {other:?}"),
    }
}
