//! Shared subscriptions: round-robin, no retained messages, redelivery to another member.

use crate::harness::*;
use tern_mqtt_codec::{QoS, ReasonCode};

#[test]
fn round_robin_between_members() {
    let w = World::quiet();
    let mut a = w.connect5("a", true, 0);
    let mut b = w.connect5("b", true, 0);
    a.subscribe("$share/g/t", QoS::AtMostOnce);
    b.subscribe("$share/g/t", QoS::AtMostOnce);
    let mut p = w.connect5("p", true, 0);
    for i in 0..4 {
        p.publish("t", &i.to_string(), QoS::AtMostOnce, 0);
    }
    assert_eq!(a.publishes().len(), 2);
    assert_eq!(b.publishes().len(), 2);
}

#[test]
fn no_retained_for_shared_subscriptions() {
    let w = World::quiet();
    let mut p = w.connect5("p", true, 0);
    p.publish_retained("t", "r", QoS::AtMostOnce, 0);
    let mut a = w.connect5("a", true, 0);
    a.subscribe("$share/g/t", QoS::AtMostOnce);
    assert!(a.publishes().is_empty());
}

#[test]
fn unacked_shared_messages_go_to_another_member() {
    let w = World::quiet();
    let mut a = w.connect5("a", true, 0);
    let mut b = w.connect5("b", true, 0);
    a.subscribe("$share/g/t", QoS::AtLeastOnce);
    b.subscribe("$share/g/t", QoS::AtLeastOnce);
    let mut p = w.connect5("p", true, 0);
    p.publish("t", "1", QoS::AtLeastOnce, 1);
    p.publish("t", "2", QoS::AtLeastOnce, 2);
    let got_a = a.publishes();
    let got_b = b.publishes();
    assert_eq!(got_a.len() + got_b.len(), 2);
    let (mut gone, mut stays, lost) = if got_a.is_empty() {
        (b, a, got_b)
    } else {
        (a, b, got_a)
    };
    gone.conn.handle_close(w.now);
    let redelivered = stays.publishes();
    assert_eq!(
        redelivered.iter().map(payload).collect::<Vec<_>>(),
        lost.iter().map(payload).collect::<Vec<_>>()
    );
}

#[test]
fn no_local_on_shared_subscription_is_protocol_error() {
    let w = World::quiet();
    let mut a = w.connect5("a", true, 0);
    a.send(&tern_mqtt_codec::Packet::Subscribe(tern_mqtt_codec::Subscribe {
        packet_id: pid(1),
        properties: Default::default(),
        filters: vec![tern_mqtt_codec::SubscribeFilter {
            filter: "$share/g/t".into(),
            options: tern_mqtt_codec::SubscriptionOptions {
                no_local: true,
                ..sub_opts(QoS::AtMostOnce)
            },
        }],
    }));
    assert_eq!(disconnect_code(&a.recv()), Some(ReasonCode::ProtocolError));
    assert!(a.conn.is_closed());
}

#[test]
fn shared_qos2_in_flight_is_completed_by_the_same_member_never_moved() {
    let w = World::quiet();
    let mut a = w.connect5("a", false, 300);
    a.subscribe("$share/g/t", QoS::ExactlyOnce);
    let mut p = w.connect5("p", true, 0);
    p.publish("t", "only-a", QoS::ExactlyOnce, 1);
    let first = a.publishes();
    assert_eq!(first.len(), 1);
    let mut b = w.connect5("b", true, 0);
    b.subscribe("$share/g/t", QoS::ExactlyOnce);
    // [MQTT-4.8.2-4]: a's connection breaks mid-delivery; the message waits for a, not for b.
    a.conn.handle_close(w.now);
    assert!(
        b.publishes().is_empty(),
        "a QoS 2 message a already received went to b"
    );
    let mut a = w.connect5("a", false, 300);
    let again = a.publishes();
    assert_eq!(again.len(), 1);
    assert!(again[0].dup, "re-delivery carries DUP [MQTT-3.3.1-1]");
    assert_eq!(payload(&again[0]), "only-a");
}

#[test]
fn shared_qos2_in_flight_is_dropped_when_the_session_ends() {
    let w = World::quiet();
    let mut a = w.connect5("a", true, 0);
    a.subscribe("$share/g/t", QoS::ExactlyOnce);
    let mut p = w.connect5("p", true, 0);
    p.publish("t", "m", QoS::ExactlyOnce, 1);
    assert_eq!(a.publishes().len(), 1);
    let mut b = w.connect5("b", true, 0);
    b.subscribe("$share/g/t", QoS::ExactlyOnce);
    // [MQTT-4.8.2-5]: a's session ends (expiry 0) before it reconnects: nobody else gets the message.
    a.conn.handle_close(w.now);
    assert!(
        b.publishes().is_empty(),
        "a QoS 2 message of an ended session went to another member"
    );
}
