//! Persistent sessions: session present, queued messages while offline, expiry, redelivery in order with
//! DUP, takeover.

use crate::harness::*;
use tern_mqtt_codec::{Packet, ProtocolVersion, PubAck, QoS, ReasonCode};

#[test]
fn session_present_and_queued_messages_resume() {
    let w = World::quiet();
    let mut a = w.connect5("a", true, 300);
    a.subscribe("t", QoS::AtLeastOnce);
    a.disconnect(ReasonCode::NormalDisconnection);
    let mut p = w.connect5("p", true, 0);
    p.publish("t", "q1", QoS::AtLeastOnce, 1);
    p.publish("t", "q0", QoS::AtMostOnce, 0);
    p.publish("t", "q2", QoS::AtLeastOnce, 2);
    let (mut a, ack) = w.connect_with({
        let mut c = connect_packet(ProtocolVersion::V5, "a", false);
        c.properties.session_expiry_interval = Some(300);
        c
    });
    assert!(ack.session_present);
    let got = a.publishes();
    let payloads: Vec<_> = got.iter().map(payload).collect();
    assert_eq!(payloads, ["q1", "q2"], "QoS 0 is not queued for offline sessions");
    assert_eq!(w.core.stats().dropped, 1);
}

#[test]
fn clean_start_discards_session() {
    let w = World::quiet();
    let mut a = w.connect5("a", true, 300);
    a.subscribe("t", QoS::AtLeastOnce);
    a.disconnect(ReasonCode::NormalDisconnection);
    let (_a, ack) = w.connect_with(connect_packet(ProtocolVersion::V5, "a", true));
    assert!(!ack.session_present);
    assert_eq!(w.core.stats().subscriptions, 0);
}

#[test]
fn session_expires_offline() {
    let mut w = World::quiet();
    let mut a = w.connect5("a", true, 10);
    a.subscribe("t", QoS::AtLeastOnce);
    a.conn.handle_close(w.now);
    assert_eq!(w.core.stats().sessions, 1);
    w.at(9);
    assert_eq!(w.core.stats().sessions, 1);
    w.at(10);
    assert_eq!(w.core.stats().sessions, 0);
    assert_eq!(w.core.stats().subscriptions, 0);
    let (_a, ack) = w.connect_with(connect_packet(ProtocolVersion::V5, "a", false));
    assert!(!ack.session_present);
}

#[test]
fn v311_clean_session_0_persists() {
    let w = World::quiet();
    let mut a = w.connect311("a", false);
    a.subscribe("t", QoS::AtLeastOnce);
    a.conn.handle_close(w.now);
    let (_a, ack) = w.connect_with(connect_packet(ProtocolVersion::V3_1_1, "a", false));
    assert!(ack.session_present);
}

#[test]
fn redelivery_of_unacked_in_order_with_dup() {
    let w = World::quiet();
    let mut a = w.connect5("a", true, 300);
    a.subscribe("t/#", QoS::ExactlyOnce);
    let mut p = w.connect5("p", true, 0);
    p.publish("t/1", "m1", QoS::AtLeastOnce, 1);
    p.publish("t/2", "m2", QoS::ExactlyOnce, 2);
    p.send(&Packet::PubRel(PubAck::new(pid(2))));
    p.publish("t/3", "m3", QoS::ExactlyOnce, 3);
    p.send(&Packet::PubRel(PubAck::new(pid(3))));
    let first = a.publishes();
    assert_eq!(first.len(), 3);
    assert!(first.iter().all(|p| !p.dup));
    // PUBREC the second QoS 2 one: it must come back as PUBREL.
    let id3 = first[2].packet_id.expect("id");
    a.send(&Packet::PubRec(PubAck::new(id3)));
    assert!(matches!(a.recv()[..], [Packet::PubRel(_)]));
    a.conn.handle_close(w.now);

    let (mut a, ack) = w.connect_with({
        let mut c = connect_packet(ProtocolVersion::V5, "a", false);
        c.properties.session_expiry_interval = Some(300);
        c
    });
    assert!(ack.session_present);
    let again = a.recv();
    assert_eq!(again.len(), 3);
    match &again[..] {
        [Packet::Publish(m1), Packet::Publish(m2), Packet::PubRel(rel)] => {
            assert!(m1.dup && m2.dup);
            assert_eq!(payload(m1), "m1");
            assert_eq!(payload(m2), "m2");
            assert_eq!(m1.packet_id, first[0].packet_id);
            assert_eq!(m2.packet_id, first[1].packet_id);
            assert_eq!(rel.packet_id, id3);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn takeover_disconnects_old_connection_with_0x8e() {
    let w = World::quiet();
    let mut old = w.connect5("a", true, 300);
    old.subscribe("t", QoS::AtLeastOnce);
    let (mut new, ack) = w.connect_with({
        let mut c = connect_packet(ProtocolVersion::V5, "a", false);
        c.properties.session_expiry_interval = Some(300);
        c
    });
    assert!(ack.session_present);
    assert!(old.take_notified() > 0);
    assert_eq!(disconnect_code(&old.recv()), Some(ReasonCode::SessionTakenOver));
    assert!(old.conn.is_closed());
    old.conn.handle_close(w.now);
    // The session stays with the new connection.
    let mut p = w.connect5("p", true, 0);
    p.publish("t", "x", QoS::AtLeastOnce, 1);
    assert_eq!(new.publishes().len(), 1);
    assert_eq!(w.core.stats().connections, 2);
}

#[test]
fn takeover_v311_closes_old_connection_silently() {
    let w = World::quiet();
    let mut old = w.connect311("a", false);
    let _new = w.connect311("a", false);
    assert!(old.recv().is_empty());
    assert!(old.conn.is_closed());
}

#[test]
fn disconnect_cannot_raise_expiry_from_zero() {
    let w = World::quiet();
    let mut a = w.connect5("a", true, 0);
    let mut d = tern_mqtt_codec::Disconnect::new(ReasonCode::NormalDisconnection);
    d.properties.session_expiry_interval = Some(10);
    a.send(&Packet::Disconnect(d));
    assert_eq!(disconnect_code(&a.recv()), Some(ReasonCode::ProtocolError));
}

fn with_will(id: &str, delay: Option<u32>, expiry: u32, clean: bool) -> tern_mqtt_codec::Connect {
    let mut c = connect_packet(ProtocolVersion::V5, id, clean);
    c.will = Some(will("will/x", "w", delay));
    c.properties.session_expiry_interval = Some(expiry);
    c
}

#[test]
fn takeover_publishes_will_without_delay() {
    let w = World::quiet();
    let mut watch = w.connect5("watch", true, 0);
    watch.subscribe("will/#", QoS::AtMostOnce);
    let (_old, _) = w.connect_with(with_will("a", None, 300, true));
    let (_new, _) = w.connect_with(with_will("a", None, 300, false));
    assert_eq!(
        watch.publishes().len(),
        1,
        "[MQTT-3.1.4-3] the existing client's will is published"
    );
}

#[test]
fn takeover_cancels_delayed_will() {
    let mut w = World::quiet();
    let mut watch = w.connect5("watch", true, 0);
    watch.subscribe("will/#", QoS::AtMostOnce);
    let (_old, _) = w.connect_with(with_will("a", Some(30), 300, true));
    let (_new, _) = w.connect_with(with_will("a", Some(30), 300, false));
    w.at(60);
    assert!(
        watch.publishes().is_empty(),
        "the new connection resumed the session in time"
    );
}

#[test]
fn takeover_with_clean_start_ends_old_session_and_publishes_will() {
    let w = World::quiet();
    let mut watch = w.connect5("watch", true, 0);
    watch.subscribe("will/#", QoS::AtMostOnce);
    let (mut old, _) = w.connect_with(with_will("a", Some(30), 300, true));
    old.subscribe("x", QoS::AtMostOnce);
    let (_new, ack) = w.connect_with(with_will("a", None, 300, true));
    assert!(!ack.session_present);
    assert_eq!(watch.publishes().len(), 1);
    assert_eq!(disconnect_code(&old.recv()), Some(ReasonCode::SessionTakenOver));
    assert_eq!(
        w.core.stats().subscriptions,
        1,
        "only the watcher's subscription remains"
    );
}

#[test]
fn mqtt_3_1_connect() {
    let w = World::quiet();
    let (mut c, ack) = w.connect_with(connect_packet(ProtocolVersion::V3_1, "old-client", true));
    assert_eq!(ack.reason_code, ReasonCode::Success);
    assert_eq!(c.conn.protocol_version(), Some(ProtocolVersion::V3_1));
    assert_eq!(c.subscribe("t", QoS::ExactlyOnce), vec![ReasonCode::GrantedQoS2]);
}

#[test]
fn core_poll_timeout_tracks_session_expiry() {
    let w = World::quiet();
    let mut a = w.connect5("a", true, 42);
    assert_eq!(w.core.poll_timeout(), None);
    a.conn.handle_close(w.now);
    assert_eq!(
        w.core.poll_timeout(),
        Some(w.t0 + std::time::Duration::from_secs(42))
    );
}

#[test]
fn resume_with_smaller_receive_maximum_resends_within_window() {
    let w = World::quiet();
    let mut s = w.connect5("s", true, 300);
    s.subscribe("t", QoS::AtLeastOnce);
    let mut p = w.connect5("p", true, 0);
    for i in 1..=3 {
        p.publish("t", &format!("m{i}"), QoS::AtLeastOnce, i);
    }
    assert_eq!(s.publishes().len(), 3);
    s.conn.handle_close(w.now);
    let mut c = connect_packet(ProtocolVersion::V5, "s", false);
    c.properties.session_expiry_interval = Some(300);
    c.properties.receive_maximum = Some(1);
    let (mut s, _) = w.connect_with(c);
    let first = s.publishes();
    assert_eq!(first.iter().map(payload).collect::<Vec<_>>(), ["m1"]);
    assert!(first[0].dup);
    s.puback(first[0].packet_id.expect("id"));
    let second = s.publishes();
    assert_eq!(second.iter().map(payload).collect::<Vec<_>>(), ["m2"]);
    assert!(second[0].dup);
}

#[test]
fn shutdown_publishes_wills() {
    let w = World::quiet();
    let (mut a, _) = w.connect_with(with_will("a", None, 0, true));
    w.core.shutdown();
    a.recv();
    assert!(a.conn.is_closed());
    assert_eq!(w.core.stats().wills, 1);
}

#[test]
fn v311_redelivery_sets_dup() {
    let w = World::quiet();
    let mut s = w.connect311("s", false);
    s.subscribe("t", QoS::AtLeastOnce);
    let mut p = w.connect311("p", true);
    p.publish("t", "m", QoS::AtLeastOnce, 1);
    let first = s.publishes();
    assert!(!first[0].dup);
    s.conn.handle_close(w.now);
    let (mut s, ack) = w.connect_with(connect_packet(ProtocolVersion::V3_1_1, "s", false));
    assert!(ack.session_present);
    let again = s.publishes();
    assert!(again[0].dup);
    assert_eq!(again[0].packet_id, first[0].packet_id);
}
