//! PUBLISH both ways at QoS -1, 0, 1 and 2, topic id types, REGISTER both ways, retained, DUP, and
//! Tretry/Nretry retransmission.

use crate::connect::{received, watcher};
use crate::harness::*;
use tern_broker_core::mqttsn::SnClientState;
use tern_broker_core::{Fanout, Message as CoreMessage};
use tern_mqtt_codec::{ByteStr, QoS as MqttQoS};
use tern_mqttsn_codec::{Message, PubAck, QoS, RegAck, ReturnCode, Topic};

pub fn mqtt_publish(net: &Net, topic: &str, qos: MqttQoS, payload: &'static [u8], retain: bool) {
    let msg = CoreMessage {
        topic: ByteStr::from(topic),
        payload: bytes::Bytes::from_static(payload),
        qos,
        retain,
        properties: Default::default(),
        expires_at: None,
        publisher: None,
    };
    net.core
        .publish(std::sync::Arc::new(msg), net.now, false, &mut Fanout::default())
        .unwrap();
}

#[test]
fn register_then_publish_at_each_qos() {
    let mut net = Net::new(config());
    let w = watcher(&net, "mqtt", "#");
    let s = addr(1);
    net.connect(s, "s1", true, 60);
    let id = net.register(s, "sensors/temp", 1);
    assert_eq!(net.register(s, "sensors/temp", 2), id, "same name, same id");

    net.send(s, publish(Topic::Id(id), QoS::AtMostOnce, 0, b"q0"));
    assert!(net.take(s).is_empty());
    net.send(s, publish(Topic::Id(id), QoS::AtLeastOnce, 5, b"q1"));
    assert_eq!(
        net.one(s),
        Message::PubAck(PubAck {
            topic_id: id,
            msg_id: 5,
            return_code: ReturnCode::Accepted
        })
    );
    net.send(s, publish(Topic::Id(id), QoS::ExactlyOnce, 6, b"q2"));
    assert_eq!(net.one(s), Message::PubRec { msg_id: 6 });
    // A DUP retransmission before PUBREL is acknowledged again, routed once.
    net.send(s, publish(Topic::Id(id), QoS::ExactlyOnce, 6, b"q2"));
    assert_eq!(net.one(s), Message::PubRec { msg_id: 6 });
    net.send(s, Message::PubRel { msg_id: 6 });
    assert_eq!(net.one(s), Message::PubComp { msg_id: 6 });
    let got: Vec<Vec<u8>> = received(&net, &w).into_iter().map(|(_, p)| p).collect();
    assert_eq!(got, vec![b"q0".to_vec(), b"q1".to_vec(), b"q2".to_vec()]);
}

#[test]
fn predefined_and_short_topics_and_unknown_ids() {
    let mut net = Net::new(config());
    let w = watcher(&net, "mqtt", "#");
    let s = addr(1);
    net.connect(s, "s1", true, 60);
    net.send(s, publish(Topic::Predefined(7), QoS::AtLeastOnce, 1, b"p"));
    assert!(matches!(net.one(s), Message::PubAck(a) if a.return_code.is_accepted() && a.topic_id == 7));
    net.send(s, publish(Topic::Short(*b"ab"), QoS::AtMostOnce, 0, b"s"));
    assert_eq!(
        received(&net, &w),
        vec![
            ("predef/seven".into(), b"p".to_vec()),
            ("ab".into(), b"s".to_vec())
        ]
    );
    for topic in [Topic::Id(99), Topic::Predefined(8)] {
        net.send(s, publish(topic, QoS::AtLeastOnce, 2, b"x"));
        assert!(matches!(net.one(s), Message::PubAck(a) if a.return_code == ReturnCode::InvalidTopicId));
    }
    // Wildcards cannot be registered.
    net.send(
        s,
        Message::Register(tern_mqttsn_codec::Register {
            topic_id: 0,
            msg_id: 3,
            topic_name: "a/#".to_owned().into(),
        }),
    );
    assert!(matches!(net.one(s), Message::RegAck(a) if a.return_code == ReturnCode::NotSupported));
}

#[test]
fn qos_minus_one_needs_no_connection() {
    let mut net = Net::new(config());
    let w = watcher(&net, "mqtt", "#");
    let s = addr(1);
    net.send(s, publish(Topic::Predefined(7), QoS::MinusOne, 0, b"m1"));
    net.send(s, publish(Topic::Short(*b"zz"), QoS::MinusOne, 0, b"m2"));
    // Normal ids mean nothing without a connection: dropped.
    net.send(s, publish(Topic::Id(1), QoS::MinusOne, 0, b"m3"));
    assert!(net.take(s).is_empty());
    assert_eq!(net.gw.client_state(s), None);
    assert_eq!(
        received(&net, &w),
        vec![
            ("predef/seven".into(), b"m1".to_vec()),
            ("zz".into(), b"m2".to_vec())
        ]
    );
}

#[test]
fn retained_publish_is_stored() {
    let mut net = Net::new(config());
    let s = addr(1);
    net.connect(s, "s1", true, 60);
    let id = net.register(s, "r/t", 1);
    let mut p = publish(Topic::Id(id), QoS::AtLeastOnce, 2, b"kept");
    if let Message::Publish(p) = &mut p {
        p.retain = true;
    }
    net.send(s, p);
    net.take(s);
    assert_eq!(net.core.stats().retained_messages, 1);
    // A later MQTT subscriber gets it.
    let w = watcher(&net, "late", "r/#");
    assert_eq!(received(&net, &w), vec![("r/t".into(), b"kept".to_vec())]);
}

#[test]
fn gateway_registers_before_delivering_and_sends_qos1_then_qos2() {
    let mut net = Net::new(config());
    let s = addr(1);
    net.connect(s, "s1", true, 60);
    assert!(
        matches!(net.subscribe(s, name("dev/+"), QoS::ExactlyOnce, 1), Message::SubAck(a) if a.topic_id == 0)
    );
    mqtt_publish(&net, "dev/one", MqttQoS::AtLeastOnce, b"a", false);
    let reg = match net.one(s) {
        Message::Register(r) => r,
        other => panic!("REGISTER expected, got {other:?}"),
    };
    assert_eq!(reg.topic_name.as_str(), "dev/one");
    net.send(
        s,
        Message::RegAck(RegAck {
            topic_id: reg.topic_id,
            msg_id: reg.msg_id,
            return_code: ReturnCode::Accepted,
        }),
    );
    let p = match net.one(s) {
        Message::Publish(p) => p,
        other => panic!("PUBLISH expected, got {other:?}"),
    };
    assert_eq!(
        (p.topic, p.qos, &p.payload[..], p.dup),
        (Topic::Id(reg.topic_id), QoS::AtLeastOnce, &b"a"[..], false)
    );
    // One outstanding at a time: the next message waits for PUBACK.
    mqtt_publish(&net, "dev/one", MqttQoS::ExactlyOnce, b"b", false);
    assert!(net.take(s).is_empty());
    net.send(
        s,
        Message::PubAck(PubAck {
            topic_id: reg.topic_id,
            msg_id: p.msg_id,
            return_code: ReturnCode::Accepted,
        }),
    );
    let p2 = match net.one(s) {
        Message::Publish(p) => p,
        other => panic!("PUBLISH expected, got {other:?}"),
    };
    assert_eq!((p2.qos, &p2.payload[..]), (QoS::ExactlyOnce, &b"b"[..]));
    net.send(s, Message::PubRec { msg_id: p2.msg_id });
    assert_eq!(net.one(s), Message::PubRel { msg_id: p2.msg_id });
    net.send(s, Message::PubComp { msg_id: p2.msg_id });
    assert!(net.take(s).is_empty());
    // Known topic now: no second REGISTER.
    mqtt_publish(&net, "dev/one", MqttQoS::AtMostOnce, b"c", false);
    assert!(matches!(net.one(s), Message::Publish(p) if p.topic == Topic::Id(reg.topic_id)));
}

#[test]
fn deliveries_use_predefined_and_short_ids() {
    let mut net = Net::new(config());
    let s = addr(1);
    net.connect(s, "s1", true, 60);
    net.subscribe(s, name("#"), QoS::AtMostOnce, 1);
    mqtt_publish(&net, "predef/seven", MqttQoS::AtMostOnce, b"a", false);
    mqtt_publish(&net, "xy", MqttQoS::AtMostOnce, b"b", false);
    let got = net.take(s);
    let topics: Vec<Topic> = got
        .iter()
        .filter_map(|m| match m {
            Message::Publish(p) => Some(p.topic),
            _ => None,
        })
        .collect();
    assert_eq!(topics, vec![Topic::Predefined(7), Topic::Short(*b"xy")]);
}

#[test]
fn unacknowledged_delivery_is_retransmitted_with_dup_then_client_lost() {
    let mut net = Net::new(config());
    let s = addr(1);
    net.connect(s, "s1", true, 600);
    net.subscribe(
        s,
        tern_mqttsn_codec::TopicFilter::Short(*b"ab"),
        QoS::AtLeastOnce,
        1,
    );
    mqtt_publish(&net, "ab", MqttQoS::AtLeastOnce, b"x", false);
    assert!(matches!(net.one(s), Message::Publish(p) if !p.dup));
    net.at(5.0);
    assert!(matches!(net.one(s), Message::Publish(p) if p.dup));
    net.at(10.0);
    assert!(matches!(net.one(s), Message::Publish(p) if p.dup));
    assert_eq!(net.gw.stats().retransmissions, 2);
    // Nretry = 2 exhausted.
    net.at(15.0);
    assert_eq!(net.gw.client_state(s), None);
    assert_eq!(net.gw.stats().lost, 1);
}

#[test]
fn client_rejecting_a_topic_id_gets_a_register() {
    let mut net = Net::new(config());
    let s = addr(1);
    net.connect(s, "s1", true, 600);
    let id = net.register(s, "t/x", 1);
    net.subscribe(s, name("t/x"), QoS::AtLeastOnce, 2);
    mqtt_publish(&net, "t/x", MqttQoS::AtLeastOnce, b"x", false);
    let p = match net.one(s) {
        Message::Publish(p) => p,
        other => panic!("{other:?}"),
    };
    assert_eq!(p.topic, Topic::Id(id));
    net.send(
        s,
        Message::PubAck(PubAck {
            topic_id: id,
            msg_id: p.msg_id,
            return_code: ReturnCode::InvalidTopicId,
        }),
    );
    assert!(matches!(net.one(s), Message::Register(r) if r.topic_name.as_str() == "t/x"));
    assert_eq!(net.gw.client_state(s), Some(SnClientState::Active));
}
