//! Abuse limits on a fake clock: per-client publish rate (messages and bytes), connections per IP address,
//! flapping client ids.

use crate::harness::*;
use std::time::Duration;
use tern_broker_core::CoreConfig;
use tern_mqtt_codec::{Packet, ProtocolVersion, QoS, ReasonCode};

fn acks(c: &mut Client) -> Vec<ReasonCode> {
    c.recv()
        .into_iter()
        .filter_map(|p| match p {
            Packet::PubAck(a) | Packet::PubRec(a) => Some(a.reason_code),
            _ => None,
        })
        .collect()
}

#[test]
fn publish_rate_quota_exceeded_on_v5_then_refills() {
    let mut w = World::new(CoreConfig {
        publish_rate: Some(2),
        sys_interval: None,
        ..Default::default()
    });
    let mut s = w.connect5("s", true, 0);
    s.subscribe("t", QoS::AtMostOnce);
    let mut p = w.connect5("p", true, 0);
    for i in 1..=3 {
        p.publish("t", &format!("m{i}"), QoS::AtLeastOnce, i);
    }
    assert_eq!(
        acks(&mut p),
        [
            ReasonCode::Success,
            ReasonCode::Success,
            ReasonCode::QuotaExceeded
        ]
    );
    p.publish("t", "q0", QoS::AtMostOnce, 0);
    p.publish("t", "q2", QoS::ExactlyOnce, 4);
    assert_eq!(
        acks(&mut p),
        [ReasonCode::QuotaExceeded],
        "QoS 0 dropped silently"
    );
    assert_eq!(w.core.stats().publish_rate_limited, 3);
    assert_eq!(
        s.publishes().iter().map(payload).collect::<Vec<_>>(),
        ["m1", "m2"]
    );
    // One second later the bucket holds two tokens again.
    p.set_now(w.at(1));
    s.set_now(w.now);
    p.publish("t", "later", QoS::AtLeastOnce, 5);
    assert_eq!(acks(&mut p), [ReasonCode::Success]);
    assert_eq!(s.publishes().iter().map(payload).collect::<Vec<_>>(), ["later"]);
}

#[test]
fn publish_bytes_rate_drops_silently_on_v311() {
    let w = World::new(CoreConfig {
        publish_bytes_rate: Some(100),
        sys_interval: None,
        ..Default::default()
    });
    let mut s = w.connect311("s", true);
    s.subscribe("t", QoS::AtMostOnce);
    let mut p = w.connect311("p", true);
    let big = "x".repeat(80);
    p.publish("t", &big, QoS::AtLeastOnce, 1);
    p.publish("t", &big, QoS::AtLeastOnce, 2);
    p.publish("t", &big, QoS::ExactlyOnce, 3);
    let got = p.recv();
    // 3.1.1 has no negative ack: acknowledged normally, dropped, counted.
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.iter().all(|p| match p {
        Packet::PubAck(a) | Packet::PubRec(a) => a.reason_code == ReasonCode::Success,
        _ => false,
    }));
    assert_eq!(s.publishes().len(), 1);
    assert_eq!(w.core.stats().publish_rate_limited, 2);
}

#[test]
fn connections_per_ip_refused_and_released() {
    let w = World::new(CoreConfig {
        max_connections_per_ip: 2,
        sys_interval: None,
        ..Default::default()
    });
    let mut a = w.connect5("a", true, 0);
    let _b = w.connect311("b", true);
    let (_c, ack) = w.connect_with(connect_packet(ProtocolVersion::V5, "c", true));
    assert_eq!(ack.reason_code, ReasonCode::ConnectionRateExceeded);
    let (_d, ack) = w.connect_with(connect_packet(ProtocolVersion::V3_1_1, "d", true));
    assert_eq!(ack.reason_code.to_v3_connack(), 3, "3.1.1: server unavailable");
    assert_eq!(w.core.stats().per_ip_refused, 2);
    a.disconnect(ReasonCode::Success);
    drop(a);
    w.connect5("e", true, 0);
}

#[test]
fn refused_connect_releases_its_ip_slot() {
    let w = World::new(CoreConfig {
        max_connections_per_ip: 1,
        sys_interval: None,
        ..Default::default()
    });
    // An empty client id without clean session is refused before any slot is taken; a bad will after.
    let mut bad = connect_packet(ProtocolVersion::V3_1_1, "", false);
    bad.clean_start = false;
    let (_x, ack) = w.connect_with(bad);
    assert_ne!(ack.reason_code, ReasonCode::Success);
    let c = w.connect5("ok", true, 0);
    drop(c);
    w.connect5("ok2", true, 0);
}

#[test]
fn flapping_client_is_banned_for_a_while() {
    let mut w = World::new(CoreConfig {
        flap_max: 3,
        flap_window: Duration::from_secs(10),
        flap_ban: Duration::from_secs(60),
        sys_interval: None,
        ..Default::default()
    });
    for i in 0..3 {
        w.at(i);
        let c = w.connect5("flappy", true, 0);
        drop(c);
    }
    w.at(3);
    let (_c, ack) = w.connect_with(connect_packet(ProtocolVersion::V5, "flappy", true));
    assert_eq!(ack.reason_code, ReasonCode::Banned);
    w.at(30);
    let (_c, ack) = w.connect_with(connect_packet(ProtocolVersion::V3_1_1, "flappy", true));
    assert_eq!(ack.reason_code.to_v3_connack(), 5, "3.1.1: not authorized");
    // Other ids are unaffected.
    w.connect5("calm", true, 0);
    let s = w.core.stats();
    assert_eq!((s.flap_bans, s.flap_refused), (1, 1));
    w.at(64);
    w.connect5("flappy", true, 0);
}
