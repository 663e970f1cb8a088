//! SUBSCRIBE/UNSUBSCRIBE by name (wildcards included), short name and predefined id; SUBACK contents;
//! retained messages after SUBACK.

use crate::harness::*;
use crate::publish::mqtt_publish;
use tern_mqtt_codec::QoS as MqttQoS;
use tern_mqttsn_codec::{Message, QoS, ReturnCode, SubAck, Topic, TopicFilter, Unsubscribe};

fn suback(m: Message) -> SubAck {
    match m {
        Message::SubAck(a) => a,
        other => panic!("SUBACK expected, got {other:?}"),
    }
}

#[test]
fn suback_carries_granted_qos_and_topic_id() {
    let mut net = Net::new(config());
    let s = addr(1);
    net.connect(s, "s1", true, 60);
    let a = suback(net.subscribe(s, name("a/b"), QoS::AtLeastOnce, 1));
    assert_eq!(
        (a.qos, a.msg_id, a.return_code),
        (QoS::AtLeastOnce, 1, ReturnCode::Accepted)
    );
    assert_ne!(a.topic_id, 0, "a plain name is registered at subscribe");
    assert_eq!(net.register(s, "a/b", 9), a.topic_id);
    let w = suback(net.subscribe(s, name("a/#"), QoS::ExactlyOnce, 2));
    assert_eq!((w.qos, w.topic_id), (QoS::ExactlyOnce, 0));
    let p = suback(net.subscribe(s, TopicFilter::Predefined(7), QoS::AtMostOnce, 3));
    assert_eq!((p.topic_id, p.return_code), (7, ReturnCode::Accepted));
    let sh = suback(net.subscribe(s, TopicFilter::Short(*b"zz"), QoS::AtMostOnce, 4));
    assert_eq!((sh.topic_id, sh.return_code), (0, ReturnCode::Accepted));
    let bad = suback(net.subscribe(s, TopicFilter::Predefined(1234), QoS::AtMostOnce, 5));
    assert_eq!(bad.return_code, ReturnCode::InvalidTopicId);
    let invalid = suback(net.subscribe(s, name("a/#/b"), QoS::AtMostOnce, 6));
    assert_eq!(invalid.return_code, ReturnCode::InvalidTopicId);
    assert_eq!(net.core.stats().subscriptions, 4);
}

#[test]
fn granted_qos_is_capped_by_the_broker() {
    let t0 = std::time::Instant::now();
    let core = tern_broker_core::BrokerCore::new(
        tern_broker_core::CoreConfig {
            maximum_qos: MqttQoS::AtLeastOnce,
            sys_interval: None,
            ..Default::default()
        },
        t0,
    );
    let mut net = Net::on(core, config(), t0);
    let s = addr(1);
    net.connect(s, "s1", true, 60);
    assert_eq!(
        suback(net.subscribe(s, name("x"), QoS::ExactlyOnce, 1)).qos,
        QoS::AtLeastOnce
    );
}

#[test]
fn retained_message_follows_suback() {
    let mut net = Net::new(config());
    mqtt_publish(&net, "ret/a", MqttQoS::AtMostOnce, b"r", true);
    let s = addr(1);
    net.connect(s, "s1", true, 60);
    net.send(
        s,
        Message::Subscribe(tern_mqttsn_codec::Subscribe {
            dup: false,
            qos: QoS::AtMostOnce,
            msg_id: 1,
            topic: name("ret/a"),
        }),
    );
    let got = net.take(s);
    let a = suback(got[0].clone());
    assert!(
        matches!(&got[1], Message::Publish(p) if p.retain && p.topic == Topic::Id(a.topic_id) && &p.payload[..] == b"r"),
        "{got:?}"
    );
}

#[test]
fn unsubscribe_by_each_kind_stops_deliveries() {
    let mut net = Net::new(config());
    let s = addr(1);
    net.connect(s, "s1", true, 60);
    net.subscribe(s, name("u/+"), QoS::AtMostOnce, 1);
    net.subscribe(s, TopicFilter::Short(*b"uu"), QoS::AtMostOnce, 2);
    net.subscribe(s, TopicFilter::Predefined(7), QoS::AtMostOnce, 3);
    for (i, t) in [
        name("u/+"),
        TopicFilter::Short(*b"uu"),
        TopicFilter::Predefined(7),
    ]
    .into_iter()
    .enumerate()
    {
        let msg_id = 10 + i as u16;
        net.send(s, Message::Unsubscribe(Unsubscribe { msg_id, topic: t }));
        assert_eq!(net.one(s), Message::UnsubAck { msg_id });
    }
    assert_eq!(net.core.stats().subscriptions, 0);
    mqtt_publish(&net, "u/1", MqttQoS::AtMostOnce, b"x", false);
    mqtt_publish(&net, "uu", MqttQoS::AtMostOnce, b"x", false);
    assert!(net.take(s).is_empty());
}

#[test]
fn mountpoint_scopes_topics_both_ways() {
    let mut net = Net::new(tern_broker_core::mqttsn::SnConfig {
        mountpoint: "sn/".into(),
        ..config()
    });
    let w = crate::connect::watcher(&net, "mqtt", "#");
    let s = addr(1);
    net.connect(s, "s1", true, 60);
    net.subscribe(s, name("in/#"), QoS::AtMostOnce, 1);
    let id = net.register(s, "out", 2);
    net.send(s, publish(Topic::Id(id), QoS::AtMostOnce, 0, b"o"));
    assert_eq!(
        crate::connect::received(&net, &w),
        vec![("sn/out".into(), b"o".to_vec())]
    );
    mqtt_publish(&net, "in/x", MqttQoS::AtMostOnce, b"outside", false);
    assert!(
        net.take(s).is_empty(),
        "topics outside the mountpoint do not reach sensors"
    );
    mqtt_publish(&net, "sn/in/x", MqttQoS::AtMostOnce, b"i", false);
    let got = net.take(s);
    assert!(
        matches!(&got[0], Message::Register(r) if r.topic_name.as_str() == "in/x"),
        "{got:?}"
    );
}
