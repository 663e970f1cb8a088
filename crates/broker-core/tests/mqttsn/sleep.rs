//! Sleeping clients: DISCONNECT with a duration, buffering (bounded), waking with PINGREQ, oversleeping.

use crate::connect::{received, watcher};
use crate::harness::*;
use crate::publish::mqtt_publish;
use tern_broker_core::mqttsn::{SnClientState, SnConfig};
use tern_mqtt_codec::QoS as MqttQoS;
use tern_mqttsn_codec::{
    Disconnect, Message, PingReq, PubAck, QoS, ReturnCode, TopicFilter, Utf8Bytes, WillMsg, WillTopic,
};

fn sleep(net: &mut Net, s: std::net::SocketAddr, secs: u16) {
    net.send(s, Message::Disconnect(Disconnect { duration: Some(secs) }));
    assert_eq!(net.one(s), Message::Disconnect(Disconnect { duration: None }));
    assert_eq!(net.gw.client_state(s), Some(SnClientState::Asleep));
}

fn wake(net: &mut Net, s: std::net::SocketAddr, id: &str) {
    net.send(
        s,
        Message::PingReq(PingReq {
            client_id: Some(Utf8Bytes::from(id.to_owned())),
        }),
    );
}

#[test]
fn buffered_messages_are_delivered_on_wake_then_pingresp() {
    let mut net = Net::new(config());
    let s = addr(1);
    net.connect(s, "s1", true, 60);
    net.subscribe(s, TopicFilter::Short(*b"zz"), QoS::AtLeastOnce, 1);
    sleep(&mut net, s, 100);
    mqtt_publish(&net, "zz", MqttQoS::AtMostOnce, b"0", false);
    mqtt_publish(&net, "zz", MqttQoS::AtLeastOnce, b"1", false);
    mqtt_publish(&net, "zz", MqttQoS::AtLeastOnce, b"2", false);
    net.at(50.0);
    assert!(net.take(s).is_empty(), "nothing is sent to a sleeping client");
    wake(&mut net, s, "s1");
    let mut payloads = Vec::new();
    let mut ping = false;
    for _ in 0..10 {
        for m in net.take(s) {
            match m {
                Message::Publish(p) => {
                    assert_eq!(net.gw.client_state(s), Some(SnClientState::Awake));
                    payloads.push(p.payload.to_vec());
                    if p.qos == QoS::AtLeastOnce {
                        let ack = PubAck {
                            topic_id: 0,
                            msg_id: p.msg_id,
                            return_code: ReturnCode::Accepted,
                        };
                        net.send(s, Message::PubAck(ack));
                    }
                }
                Message::PingResp => ping = true,
                other => panic!("{other:?}"),
            }
        }
        if ping {
            break;
        }
    }
    assert!(ping, "PINGRESP after the buffered messages");
    assert_eq!(payloads, vec![b"0".to_vec(), b"1".to_vec(), b"2".to_vec()]);
    assert_eq!(net.gw.client_state(s), Some(SnClientState::Asleep));
}

#[test]
fn wake_with_nothing_buffered_answers_pingresp_and_sleeps_again() {
    let mut net = Net::new(config());
    let s = addr(1);
    net.connect(s, "s1", true, 60);
    sleep(&mut net, s, 100);
    for t in [90.0, 180.0, 270.0] {
        net.at(t);
        wake(&mut net, s, "s1");
        assert_eq!(net.one(s), Message::PingResp);
        assert_eq!(net.gw.client_state(s), Some(SnClientState::Asleep));
    }
}

#[test]
fn sleeping_buffer_is_bounded_oldest_dropped() {
    let mut net = Net::new(SnConfig {
        sleep_buffer: 2,
        ..config()
    });
    let s = addr(1);
    net.connect(s, "s1", true, 60);
    net.subscribe(s, TopicFilter::Short(*b"zz"), QoS::AtMostOnce, 1);
    sleep(&mut net, s, 100);
    for p in [b"a", b"b", b"c", b"d"] {
        mqtt_publish(&net, "zz", MqttQoS::AtMostOnce, p, false);
        net.flush();
    }
    assert_eq!(net.gw.stats().dropped, 2);
    wake(&mut net, s, "s1");
    let got = net.take(s);
    let payloads: Vec<Vec<u8>> = got
        .iter()
        .filter_map(|m| match m {
            Message::Publish(p) => Some(p.payload.to_vec()),
            _ => None,
        })
        .collect();
    assert_eq!(payloads, vec![b"c".to_vec(), b"d".to_vec()]);
    assert_eq!(got.last(), Some(&Message::PingResp));
}

#[test]
fn oversleeping_client_is_lost_and_its_will_published() {
    let mut net = Net::new(config());
    let w = watcher(&net, "mqtt", "#");
    let s = addr(1);
    net.send(s, connect_msg("s1", true, true, 60));
    net.take(s);
    net.send(
        s,
        Message::WillTopic(Some(WillTopic {
            qos: QoS::AtMostOnce,
            retain: false,
            topic: Utf8Bytes::from_static("w"),
        })),
    );
    net.take(s);
    net.send(
        s,
        Message::WillMsg(WillMsg {
            message: bytes::Bytes::from_static(b"overslept"),
        }),
    );
    net.take(s);
    sleep(&mut net, s, 100);
    net.at(140.0);
    assert_eq!(net.gw.client_state(s), Some(SnClientState::Asleep));
    net.at(151.0);
    assert_eq!(net.gw.client_state(s), None);
    assert_eq!(received(&net, &w), vec![("w".into(), b"overslept".to_vec())]);
}

#[test]
fn sleeper_may_wake_from_a_new_address_and_reconnect() {
    let mut net = Net::new(config());
    let s = addr(1);
    net.connect(s, "s1", false, 60);
    net.subscribe(s, TopicFilter::Short(*b"zz"), QoS::AtMostOnce, 1);
    sleep(&mut net, s, 100);
    mqtt_publish(&net, "zz", MqttQoS::AtMostOnce, b"m", false);
    let s2 = addr(2);
    wake(&mut net, s2, "s1");
    let got = net.take(s2);
    assert!(
        matches!(&got[0], Message::Publish(p) if &p.payload[..] == b"m"),
        "{got:?}"
    );
    assert_eq!(got.last(), Some(&Message::PingResp));
    assert_eq!(net.gw.client_state(s), None);
    assert_eq!(net.gw.client_state(s2), Some(SnClientState::Asleep));
    // CONNECT from asleep: active again, subscriptions kept.
    net.connect(s2, "s1", false, 60);
    assert_eq!(net.gw.client_state(s2), Some(SnClientState::Active));
    mqtt_publish(&net, "zz", MqttQoS::AtMostOnce, b"n", false);
    assert!(matches!(net.one(s2), Message::Publish(p) if &p.payload[..] == b"n"));
}
