//! CONNECT variants, CONNACK codes and properties, keep alive, protocol violations.

use crate::harness::*;
use std::time::Duration;
use tern_broker_core::CoreConfig;
use tern_mqtt_codec::{Packet, ProtocolVersion, QoS, ReasonCode};

#[test]
fn v5_connect_announces_limits() {
    let w = World::quiet();
    let (_c, ack) = w.connect_with(connect_packet(ProtocolVersion::V5, "a", true));
    assert_eq!(ack.reason_code, ReasonCode::Success);
    assert!(!ack.session_present);
    assert_eq!(ack.properties.receive_maximum, Some(128));
    assert_eq!(ack.properties.maximum_packet_size, Some(1024 * 1024));
    assert_eq!(ack.properties.topic_alias_maximum, Some(64));
    assert_eq!(ack.properties.maximum_qos, None);
    assert_eq!(ack.properties.assigned_client_identifier, None);
}

#[test]
fn ping_and_normal_disconnect() {
    let w = World::quiet();
    let mut c = w.connect5("a", true, 0);
    c.send(&Packet::PingReq);
    assert_eq!(c.recv(), vec![Packet::PingResp]);
    c.disconnect(ReasonCode::NormalDisconnection);
    assert!(c.conn.is_closed());
    assert_eq!(w.core.stats().connections, 0);
    assert_eq!(w.core.stats().sessions, 0);
}

#[test]
fn qos0_publish_subscribe_roundtrip() {
    let w = World::quiet();
    let mut sub = w.connect5("sub", true, 0);
    assert_eq!(
        sub.subscribe("a/+", QoS::AtMostOnce),
        vec![ReasonCode::GrantedQoS0]
    );
    let mut publ = w.connect5("pub", true, 0);
    publ.publish("a/b", "hello", QoS::AtMostOnce, 0);
    assert!(sub.take_notified() > 0);
    let got = sub.publishes();
    assert_eq!(got.len(), 1);
    assert_eq!(&*got[0].topic, "a/b");
    assert_eq!(payload(&got[0]), "hello");
}

#[test]
fn v311_empty_client_id_rules() {
    let w = World::quiet();
    let (c, ack) = w.connect_with(connect_packet(ProtocolVersion::V3_1_1, "", true));
    assert_eq!(ack.reason_code, ReasonCode::Success);
    assert!(c.conn.client_id().is_some_and(|id| !id.is_empty()));
    let (c, ack) = w.connect_with(connect_packet(ProtocolVersion::V3_1_1, "", false));
    assert_eq!(ack.reason_code, ReasonCode::ClientIdentifierNotValid);
    assert!(c.conn.is_closed());
}

#[test]
fn v5_empty_client_id_gets_assigned_identifier() {
    let w = World::quiet();
    let (c, ack) = w.connect_with(connect_packet(ProtocolVersion::V5, "", true));
    assert_eq!(ack.reason_code, ReasonCode::Success);
    let assigned = ack.properties.assigned_client_identifier.expect("assigned id");
    assert_eq!(Some(&*assigned), c.conn.client_id());
}

#[test]
fn first_packet_must_be_connect() {
    let w = World::quiet();
    let mut c = w.client(ProtocolVersion::V5);
    c.send(&Packet::PingReq);
    assert!(c.recv().is_empty());
    assert!(c.conn.is_closed());
}

#[test]
fn second_connect_is_protocol_error() {
    let w = World::quiet();
    let mut c = w.connect5("a", true, 0);
    c.send(&Packet::Connect(Box::new(connect_packet(
        ProtocolVersion::V5,
        "a",
        true,
    ))));
    assert_eq!(disconnect_code(&c.recv()), Some(ReasonCode::ProtocolError));
    assert!(c.conn.is_closed());
}

#[test]
fn v311_second_connect_just_closes() {
    let w = World::quiet();
    let mut c = w.connect311("a", true);
    c.send(&Packet::Connect(Box::new(connect_packet(
        ProtocolVersion::V3_1_1,
        "a",
        true,
    ))));
    assert!(c.recv().is_empty());
    assert!(c.conn.is_closed());
}

#[test]
fn unsupported_protocol_level_gets_connack_0x01() {
    let w = World::quiet();
    let mut c = w.client(ProtocolVersion::V3_1_1);
    // CONNECT, protocol "MQTT" level 9.
    c.send_raw(&[0x10, 0x0C, 0, 4, b'M', b'Q', b'T', b'T', 9, 0x02, 0, 60, 0, 0]);
    let bytes = c.recv_bytes();
    assert_eq!(&bytes[..], &[0x20, 0x02, 0x00, 0x01]);
    assert!(c.conn.is_closed());
}

#[test]
fn malformed_packet_on_v5_disconnects_with_reason() {
    let w = World::quiet();
    let mut c = w.connect5("a", true, 0);
    // PUBLISH QoS 3.
    c.send_raw(&[0x36, 0x03, 0, 1, b'a']);
    assert_eq!(disconnect_code(&c.recv()), Some(ReasonCode::MalformedPacket));
    assert!(c.conn.is_closed());
    assert_eq!(w.core.stats().violations, 1);
}

#[test]
fn oversized_packet_rejected_with_0x95() {
    let w = World::new(CoreConfig {
        max_packet_size: 64,
        sys_interval: None,
        ..Default::default()
    });
    let mut c = w.connect5("a", true, 0);
    c.publish("a", &"x".repeat(100), QoS::AtMostOnce, 0);
    assert_eq!(disconnect_code(&c.recv()), Some(ReasonCode::PacketTooLarge));
}

#[test]
fn connect_timeout_closes() {
    let mut w = World::quiet();
    let mut c = w.client(ProtocolVersion::V5);
    assert_eq!(c.conn.poll_timeout(), Some(w.t0 + Duration::from_secs(10)));
    let now = w.at(10);
    c.conn.handle_timeout(now);
    assert!(c.conn.is_closed());
}

#[test]
fn keep_alive_one_and_a_half_times() {
    let w = World::quiet();
    let mut p = connect_packet(ProtocolVersion::V5, "a", true);
    p.keep_alive = 10;
    let (mut c, _) = w.connect_with(p);
    let deadline = c.conn.poll_timeout().expect("keep alive deadline");
    assert_eq!(deadline, w.t0 + Duration::from_secs(15));
    c.conn.handle_timeout(w.t0 + Duration::from_secs(14));
    assert!(!c.conn.is_closed());
    c.set_now(w.t0 + Duration::from_secs(14));
    c.send(&Packet::PingReq);
    assert_eq!(c.conn.poll_timeout(), Some(w.t0 + Duration::from_secs(29)));
    c.conn.handle_timeout(w.t0 + Duration::from_secs(29));
    assert_eq!(disconnect_code(&c.recv()), Some(ReasonCode::KeepAliveTimeout));
    assert!(c.conn.is_closed());
}

#[test]
fn server_keep_alive_when_capped() {
    let w = World::new(CoreConfig {
        max_keepalive: 30,
        sys_interval: None,
        ..Default::default()
    });
    let mut p = connect_packet(ProtocolVersion::V5, "a", true);
    p.keep_alive = 0;
    let (c, ack) = w.connect_with(p);
    assert_eq!(ack.properties.server_keep_alive, Some(30));
    assert_eq!(c.conn.poll_timeout(), Some(w.t0 + Duration::from_secs(45)));
    let mut p = connect_packet(ProtocolVersion::V5, "b", true);
    p.keep_alive = 20;
    let (_, ack) = w.connect_with(p);
    assert_eq!(ack.properties.server_keep_alive, None);
}

#[test]
fn session_expiry_capped_and_announced() {
    let w = World::new(CoreConfig {
        max_session_expiry: 100,
        sys_interval: None,
        ..Default::default()
    });
    let mut p = connect_packet(ProtocolVersion::V5, "a", true);
    p.properties.session_expiry_interval = Some(1000);
    let (_, ack) = w.connect_with(p);
    assert_eq!(ack.properties.session_expiry_interval, Some(100));
}

#[test]
fn max_connections_refused_busy() {
    let w = World::new(CoreConfig {
        max_connections: 1,
        sys_interval: None,
        ..Default::default()
    });
    let _a = w.connect5("a", true, 0);
    let (_, ack) = w.connect_with(connect_packet(ProtocolVersion::V5, "b", true));
    assert_eq!(ack.reason_code, ReasonCode::ServerBusy);
}

#[test]
fn client_sending_server_packet_is_protocol_error() {
    let w = World::quiet();
    let mut c = w.connect5("a", true, 0);
    c.send(&Packet::PingResp);
    assert_eq!(disconnect_code(&c.recv()), Some(ReasonCode::ProtocolError));
}

#[test]
fn shutdown_sends_0x8b() {
    let w = World::quiet();
    let mut c = w.connect5("a", true, 0);
    let mut c3 = w.connect311("b", true);
    w.core.shutdown();
    assert!(c.take_notified() > 0);
    assert_eq!(disconnect_code(&c.recv()), Some(ReasonCode::ServerShuttingDown));
    assert!(c.conn.is_closed());
    assert!(c3.recv().is_empty());
    assert!(c3.conn.is_closed());
}

#[test]
fn will_qos_above_maximum_refused() {
    let w = World::new(CoreConfig {
        maximum_qos: QoS::AtMostOnce,
        sys_interval: None,
        ..Default::default()
    });
    let mut c = connect_packet(ProtocolVersion::V5, "a", true);
    c.will = Some(will("w", "x", None));
    let (c, ack) = w.connect_with(c);
    assert_eq!(ack.reason_code, ReasonCode::QoSNotSupported);
    assert!(c.conn.is_closed());
}

#[test]
fn retain_unavailable_announced_and_enforced() {
    let w = World::new(CoreConfig {
        retain_available: false,
        sys_interval: None,
        ..Default::default()
    });
    let (mut c, ack) = w.connect_with(connect_packet(ProtocolVersion::V5, "a", true));
    assert_eq!(ack.properties.retain_available, Some(false));
    c.publish_retained("t", "x", QoS::AtMostOnce, 0);
    assert_eq!(disconnect_code(&c.recv()), Some(ReasonCode::RetainNotSupported));
}

#[test]
fn v311_connack_has_no_properties() {
    let w = World::quiet();
    let mut c = w.client(ProtocolVersion::V3_1_1);
    c.send(&Packet::Connect(Box::new(connect_packet(
        ProtocolVersion::V3_1_1,
        "a",
        true,
    ))));
    assert_eq!(&c.recv_bytes()[..], &[0x20, 0x02, 0x00, 0x00]);
}

#[test]
fn auth_packet_without_enhanced_auth_is_protocol_error() {
    let w = World::quiet();
    let mut c = w.connect5("a", true, 0);
    c.send(&Packet::Auth(tern_mqtt_codec::Auth {
        reason_code: ReasonCode::ReAuthenticate,
        properties: Default::default(),
    }));
    assert_eq!(disconnect_code(&c.recv()), Some(ReasonCode::ProtocolError));
}
