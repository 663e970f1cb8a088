//! QoS 1/2 both directions: acks, exactly once, downgrade, receive maximum both ways, packet ids.

use crate::harness::*;
use tern_broker_core::CoreConfig;
use tern_mqtt_codec::{Packet, ProtocolVersion, PubAck, QoS, ReasonCode};

#[test]
fn qos1_publish_is_acked_and_delivered() {
    let w = World::quiet();
    let mut s = w.connect5("s", true, 0);
    s.subscribe("t", QoS::AtLeastOnce);
    let mut p = w.connect5("p", true, 0);
    p.publish("t", "x", QoS::AtLeastOnce, 7);
    match &p.recv()[..] {
        [Packet::PubAck(a)] => {
            assert_eq!(a.packet_id, pid(7));
            assert_eq!(a.reason_code, ReasonCode::Success);
        }
        other => panic!("{other:?}"),
    }
    let got = s.publishes();
    assert_eq!(got[0].qos, QoS::AtLeastOnce);
    let id = got[0].packet_id.expect("id");
    assert_eq!(s.conn_inflight(), 1);
    s.puback(id);
    assert_eq!(s.conn_inflight(), 0);
}

#[test]
fn no_matching_subscribers_reason_on_v5() {
    let w = World::quiet();
    let mut p = w.connect5("p", true, 0);
    p.publish("nobody", "x", QoS::AtLeastOnce, 1);
    match &p.recv()[..] {
        [Packet::PubAck(a)] => assert_eq!(a.reason_code, ReasonCode::NoMatchingSubscribers),
        other => panic!("{other:?}"),
    }
}

#[test]
fn qos2_inbound_exactly_once() {
    let w = World::quiet();
    let mut s = w.connect5("s", true, 0);
    s.subscribe("t", QoS::AtMostOnce);
    let mut p = w.connect5("p", true, 0);
    p.publish("t", "x", QoS::ExactlyOnce, 9);
    assert!(matches!(&p.recv()[..], [Packet::PubRec(a)] if a.packet_id == pid(9)));
    // A retransmission with DUP is acknowledged but not routed again.
    let mut dup = publish_packet("t", "x", QoS::ExactlyOnce, 9);
    dup.dup = true;
    p.send(&Packet::Publish(dup));
    assert!(matches!(&p.recv()[..], [Packet::PubRec(_)]));
    assert_eq!(s.publishes().len(), 1);
    p.send(&Packet::PubRel(PubAck::new(pid(9))));
    assert!(matches!(&p.recv()[..], [Packet::PubComp(a)] if a.reason_code == ReasonCode::Success));
    // After release the id is new again.
    p.publish("t", "y", QoS::ExactlyOnce, 9);
    p.recv();
    assert_eq!(s.publishes().len(), 1);
}

#[test]
fn pubrel_for_unknown_id_gets_0x92() {
    let w = World::quiet();
    let mut p = w.connect5("p", true, 0);
    p.send(&Packet::PubRel(PubAck::new(pid(4))));
    assert!(
        matches!(&p.recv()[..], [Packet::PubComp(a)] if a.reason_code == ReasonCode::PacketIdentifierNotFound)
    );
}

#[test]
fn qos2_outbound_handshake() {
    let w = World::quiet();
    let mut s = w.connect5("s", true, 0);
    s.subscribe("t", QoS::ExactlyOnce);
    let mut p = w.connect5("p", true, 0);
    p.publish("t", "x", QoS::ExactlyOnce, 1);
    let got = s.publishes();
    let id = got[0].packet_id.expect("id");
    assert_eq!(got[0].qos, QoS::ExactlyOnce);
    s.send(&Packet::PubRec(PubAck::new(id)));
    assert!(matches!(&s.recv()[..], [Packet::PubRel(r)] if r.packet_id == id));
    s.send(&Packet::PubComp(PubAck::new(id)));
    assert_eq!(s.conn_inflight(), 0);
}

#[test]
fn qos_downgraded_to_subscription() {
    let w = World::quiet();
    let mut s = w.connect5("s", true, 0);
    s.subscribe("t", QoS::AtLeastOnce);
    let mut p = w.connect5("p", true, 0);
    p.publish("t", "x", QoS::ExactlyOnce, 1);
    assert_eq!(s.publishes()[0].qos, QoS::AtLeastOnce);
}

#[test]
fn client_receive_maximum_limits_our_sends() {
    let w = World::quiet();
    let mut c = connect_packet(ProtocolVersion::V5, "s", true);
    c.properties.receive_maximum = Some(2);
    let (mut s, _) = w.connect_with(c);
    s.subscribe("t", QoS::AtLeastOnce);
    let mut p = w.connect5("p", true, 0);
    for i in 1..=5 {
        p.publish("t", &format!("m{i}"), QoS::AtLeastOnce, i);
    }
    let first = s.publishes();
    assert_eq!(first.iter().map(payload).collect::<Vec<_>>(), ["m1", "m2"]);
    s.puback(first[0].packet_id.expect("id"));
    let next = s.publishes();
    assert_eq!(next.iter().map(payload).collect::<Vec<_>>(), ["m3"]);
    // Ids in flight are never reused.
    assert_ne!(next[0].packet_id, first[1].packet_id);
}

#[test]
fn exceeding_our_receive_maximum_is_0x93() {
    let w = World::new(CoreConfig {
        max_inflight: 2,
        sys_interval: None,
        ..Default::default()
    });
    let mut p = w.connect5("p", true, 0);
    p.publish("t", "1", QoS::ExactlyOnce, 1);
    p.publish("t", "2", QoS::ExactlyOnce, 2);
    p.publish("t", "3", QoS::ExactlyOnce, 3);
    let got = p.recv();
    assert_eq!(disconnect_code(&got), Some(ReasonCode::ReceiveMaximumExceeded));
}

#[test]
fn qos_above_maximum_is_0x9b() {
    let w = World::new(CoreConfig {
        maximum_qos: QoS::AtLeastOnce,
        sys_interval: None,
        ..Default::default()
    });
    let (mut p, ack) = w.connect_with(connect_packet(ProtocolVersion::V5, "p", true));
    assert_eq!(ack.properties.maximum_qos, Some(QoS::AtLeastOnce));
    p.publish("t", "1", QoS::ExactlyOnce, 1);
    assert_eq!(disconnect_code(&p.recv()), Some(ReasonCode::QoSNotSupported));
}

#[test]
fn publish_to_dollar_topic_refused() {
    let w = World::quiet();
    let mut p = w.connect5("p", true, 0);
    p.publish("$SYS/x", "1", QoS::AtLeastOnce, 1);
    assert!(matches!(&p.recv()[..], [Packet::PubAck(a)] if a.reason_code == ReasonCode::NotAuthorized));
    let mut p3 = w.connect311("p3", true);
    p3.publish("$SYS/x", "1", QoS::AtLeastOnce, 1);
    assert!(matches!(&p3.recv()[..], [Packet::PubAck(_)]));
}

#[test]
fn other_dollar_topics_are_the_applications_but_hidden_from_leading_wildcards() {
    let w = World::quiet();
    let mut all = w.connect5("all", true, 0);
    all.subscribe("#", QoS::AtLeastOnce);
    let mut app = w.connect5("app", true, 0);
    app.subscribe("$aws/things/+/shadow", QoS::AtLeastOnce);
    let mut p = w.connect5("p", true, 0);
    p.publish("$aws/things/t1/shadow", "s", QoS::AtLeastOnce, 1);
    assert!(matches!(&p.recv()[..], [Packet::PubAck(a)] if a.reason_code == ReasonCode::Success));
    assert_eq!(app.publishes().len(), 1);
    // [MQTT-4.7.2-1]: a filter starting with a wildcard does not match a topic starting with `$`.
    assert!(all.publishes().iter().all(|m| !m.topic.starts_with('$')));
}

#[test]
fn v311_qos1_ack_has_no_reason() {
    let w = World::quiet();
    let mut p = w.connect311("p", true);
    p.publish("t", "1", QoS::AtLeastOnce, 1);
    let bytes = p.recv_bytes();
    assert_eq!(&bytes[..], &[0x40, 0x02, 0x00, 0x01]);
}
