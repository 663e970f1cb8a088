//! Limits and expiry: session queue bounds and drop policy, the client's Maximum Packet Size, message
//! expiry (expired not delivered, remaining interval forwarded), topic aliases both ways.

use crate::harness::*;
use std::num::NonZeroU16;
use tern_broker_core::{CoreConfig, QueueDropPolicy};
use tern_mqtt_codec::{ByteStr, Packet, ProtocolVersion, QoS, ReasonCode};

fn offline_subscriber(w: &World) {
    let mut s = w.connect5("s", true, 300);
    s.subscribe("t", QoS::AtLeastOnce);
    s.conn.handle_close(w.now);
}

fn resume(w: &World) -> Client {
    let mut c = connect_packet(ProtocolVersion::V5, "s", false);
    c.properties.session_expiry_interval = Some(300);
    w.connect_with(c).0
}

#[test]
fn queue_limit_drop_new_reported() {
    let w = World::new(CoreConfig {
        max_queued_messages: 2,
        sys_interval: None,
        ..Default::default()
    });
    offline_subscriber(&w);
    let mut p = w.connect5("p", true, 0);
    for i in 1..=4 {
        p.publish("t", &format!("m{i}"), QoS::AtLeastOnce, i);
    }
    assert_eq!(w.core.stats().dropped, 2);
    let mut s = resume(&w);
    assert_eq!(
        s.publishes().iter().map(payload).collect::<Vec<_>>(),
        ["m1", "m2"]
    );
}

#[test]
fn queue_limit_drop_oldest() {
    let w = World::new(CoreConfig {
        max_queued_messages: 2,
        queue_drop_policy: QueueDropPolicy::DropOldest,
        sys_interval: None,
        ..Default::default()
    });
    offline_subscriber(&w);
    let mut p = w.connect5("p", true, 0);
    for i in 1..=4 {
        p.publish("t", &format!("m{i}"), QoS::AtLeastOnce, i);
    }
    assert_eq!(w.core.stats().dropped, 2);
    let mut s = resume(&w);
    assert_eq!(
        s.publishes().iter().map(payload).collect::<Vec<_>>(),
        ["m3", "m4"]
    );
}

#[test]
fn queue_byte_limit() {
    let w = World::new(CoreConfig {
        max_queued_bytes: 10,
        sys_interval: None,
        ..Default::default()
    });
    offline_subscriber(&w);
    let mut p = w.connect5("p", true, 0);
    p.publish("t", "12345678", QoS::AtLeastOnce, 1);
    p.publish("t", "12345678", QoS::AtLeastOnce, 2);
    assert_eq!(w.core.stats().dropped, 1);
}

#[test]
fn delivery_larger_than_client_maximum_packet_size_dropped() {
    let w = World::quiet();
    let mut c = connect_packet(ProtocolVersion::V5, "s", true);
    c.properties.maximum_packet_size = Some(30);
    let (mut s, _) = w.connect_with(c);
    s.subscribe("t", QoS::AtLeastOnce);
    let mut p = w.connect5("p", true, 0);
    p.publish("t", &"x".repeat(100), QoS::AtLeastOnce, 1);
    p.publish("t", "small", QoS::AtLeastOnce, 2);
    let got = s.publishes();
    assert_eq!(got.iter().map(payload).collect::<Vec<_>>(), ["small"]);
    assert_eq!(w.core.stats().dropped, 1);
    assert_eq!(s.conn_inflight(), 1, "the dropped delivery holds no packet id");
}

#[test]
fn expired_messages_not_delivered_and_remaining_interval_forwarded() {
    let mut w = World::quiet();
    offline_subscriber(&w);
    let mut p = w.connect5("p", true, 0);
    let mut short = publish_packet("t", "short", QoS::AtLeastOnce, 1);
    short.properties.message_expiry_interval = Some(5);
    p.send(&Packet::Publish(short));
    let mut long = publish_packet("t", "long", QoS::AtLeastOnce, 2);
    long.properties.message_expiry_interval = Some(100);
    p.send(&Packet::Publish(long));
    w.at(10);
    let mut s = resume(&w);
    let got = s.publishes();
    assert_eq!(got.iter().map(payload).collect::<Vec<_>>(), ["long"]);
    assert_eq!(got[0].properties.message_expiry_interval, Some(90));
    assert_eq!(w.core.stats().expired, 1);
}

#[test]
fn retained_message_expires() {
    let mut w = World::quiet();
    let mut p = w.connect5("p", true, 0);
    let mut r = publish_packet("t", "r", QoS::AtMostOnce, 0);
    r.retain = true;
    r.properties.message_expiry_interval = Some(5);
    p.send(&Packet::Publish(r));
    assert_eq!(w.core.stats().retained_messages, 1);
    w.at(6);
    assert_eq!(w.core.stats().retained_messages, 0);
}

#[test]
fn inbound_topic_alias_resolved() {
    let w = World::quiet();
    let mut s = w.connect5("s", true, 0);
    s.subscribe("long/topic", QoS::AtMostOnce);
    let mut p = w.connect5("p", true, 0);
    let mut first = publish_packet("long/topic", "1", QoS::AtMostOnce, 0);
    first.properties.topic_alias = NonZeroU16::new(3);
    p.send(&Packet::Publish(first));
    let mut second = publish_packet("", "2", QoS::AtMostOnce, 0);
    second.topic = ByteStr::new();
    second.properties.topic_alias = NonZeroU16::new(3);
    p.send(&Packet::Publish(second));
    let got = s.publishes();
    assert_eq!(got.len(), 2);
    assert!(
        got.iter()
            .all(|m| &*m.topic == "long/topic" && m.properties.topic_alias.is_none())
    );
}

#[test]
fn inbound_topic_alias_above_maximum_is_0x94() {
    let w = World::quiet();
    let mut p = w.connect5("p", true, 0);
    let mut m = publish_packet("t", "1", QoS::AtMostOnce, 0);
    m.properties.topic_alias = NonZeroU16::new(65);
    p.send(&Packet::Publish(m));
    assert_eq!(disconnect_code(&p.recv()), Some(ReasonCode::TopicAliasInvalid));
}

#[test]
fn unknown_inbound_alias_is_protocol_error() {
    let w = World::quiet();
    let mut p = w.connect5("p", true, 0);
    let mut m = publish_packet("", "1", QoS::AtMostOnce, 0);
    m.topic = ByteStr::new();
    m.properties.topic_alias = NonZeroU16::new(1);
    p.send(&Packet::Publish(m));
    assert_eq!(disconnect_code(&p.recv()), Some(ReasonCode::ProtocolError));
}

#[test]
fn outbound_topic_aliases_assigned_when_allowed() {
    let w = World::quiet();
    let mut c = connect_packet(ProtocolVersion::V5, "s", true);
    c.properties.topic_alias_maximum = Some(1);
    let (mut s, _) = w.connect_with(c);
    s.subscribe("#", QoS::AtMostOnce);
    let mut p = w.connect5("p", true, 0);
    p.publish("a", "1", QoS::AtMostOnce, 0);
    p.publish("a", "2", QoS::AtMostOnce, 0);
    p.publish("b", "3", QoS::AtMostOnce, 0);
    let got = s.publishes();
    assert_eq!(&*got[0].topic, "a");
    assert_eq!(got[0].properties.topic_alias, NonZeroU16::new(1));
    assert_eq!(&*got[1].topic, "");
    assert_eq!(got[1].properties.topic_alias, NonZeroU16::new(1));
    assert_eq!(&*got[2].topic, "b", "no alias left for a second topic");
    assert_eq!(got[2].properties.topic_alias, None);
}

#[test]
fn properties_pass_through_in_order() {
    let w = World::quiet();
    let mut s = w.connect5("s", true, 0);
    s.subscribe("t", QoS::AtMostOnce);
    let mut p = w.connect5("p", true, 0);
    let mut m = publish_packet("t", "x", QoS::AtMostOnce, 0);
    m.properties.payload_format_indicator = Some(true);
    m.properties.content_type = Some("text/plain".into());
    m.properties.response_topic = Some("reply".into());
    m.properties.correlation_data = Some(bytes::Bytes::from_static(b"c"));
    m.properties.user_properties = vec![
        ("b".into(), "1".into()),
        ("a".into(), "2".into()),
        ("b".into(), "3".into()),
    ];
    p.send(&Packet::Publish(m.clone()));
    let got = s.publishes();
    assert_eq!(got[0].properties, m.properties);
}

#[test]
fn v311_subscriber_gets_no_properties() {
    let w = World::quiet();
    let mut s = w.connect311("s", true);
    s.subscribe("t", QoS::AtMostOnce);
    let mut p = w.connect5("p", true, 0);
    let mut m = publish_packet("t", "x", QoS::AtMostOnce, 0);
    m.properties.user_properties = vec![("k".into(), "v".into())];
    p.send(&Packet::Publish(m));
    assert_eq!(&s.recv_bytes()[..], &[0x30, 0x04, 0x00, 0x01, b't', b'x']);
}
