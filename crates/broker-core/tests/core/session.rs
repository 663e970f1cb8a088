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
