//! Clients behind a forwarder (MQTT-SN 1.2 §5.5): each wireless node is a client of its own, keyed by the
//! forwarder's address and its node id; what the gateway sends them goes to the forwarder, encapsulated.

use crate::connect::{received, watcher};
use crate::harness::*;
use crate::publish::mqtt_publish;
use bytes::Bytes;
use std::net::SocketAddr;
use tern_broker_core::mqttsn::{FORWARD_RADIUS, SnClientState, SnConfig, SnPeer};
use tern_mqtt_codec::QoS as MqttQoS;
use tern_mqttsn_codec::{
    Disconnect, Encapsulated, Message, PingReq, PubAck, QoS, RegAck, ReturnCode, Topic, TopicFilter,
    Utf8Bytes,
};

fn node(fwd: SocketAddr, id: &[u8]) -> SnPeer {
    SnPeer::forwarded(fwd, Bytes::copy_from_slice(id))
}

/// Sends `msg` from node `id` through the forwarder at `fwd`.
fn fsend(net: &mut Net, fwd: SocketAddr, id: &[u8], msg: Message) {
    let wrapped = Message::Encapsulated(Encapsulated {
        radius: 0,
        wireless_node_id: Bytes::copy_from_slice(id),
        message: Box::new(msg),
    });
    net.send(fwd, wrapped);
}

/// Everything the gateway sent to the forwarder at `fwd` since the last call, unwrapped; asserts each one
/// is an Encapsulated Message for node `id` with the gateway's radius.
fn ftake(net: &mut Net, fwd: SocketAddr, id: &[u8]) -> Vec<Message> {
    net.take(fwd)
        .into_iter()
        .map(|m| match m {
            Message::Encapsulated(e) => {
                assert_eq!(&e.wireless_node_id[..], id, "node id of {e:?}");
                assert_eq!(e.radius, FORWARD_RADIUS);
                *e.message
            }
            other => panic!("a forwarded node's message must be encapsulated, got {other:?}"),
        })
        .collect()
}

fn fone(net: &mut Net, fwd: SocketAddr, id: &[u8]) -> Message {
    let got = ftake(net, fwd, id);
    assert_eq!(got.len(), 1, "expected one message for node {id:?}, got {got:?}");
    got.into_iter().next().unwrap()
}

fn fconnect(net: &mut Net, fwd: SocketAddr, id: &[u8], client_id: &str, keep_alive: u16) -> ReturnCode {
    fsend(net, fwd, id, connect_msg(client_id, true, false, keep_alive));
    match fone(net, fwd, id) {
        Message::ConnAck { return_code } => return_code,
        other => panic!("CONNACK expected, got {other:?}"),
    }
}

fn fregister(net: &mut Net, fwd: SocketAddr, id: &[u8], name: &str, msg_id: u16) -> u16 {
    fsend(
        net,
        fwd,
        id,
        Message::Register(tern_mqttsn_codec::Register {
            topic_id: 0,
            msg_id,
            topic_name: Utf8Bytes::from(name.to_owned()),
        }),
    );
    match fone(net, fwd, id) {
        Message::RegAck(a) if a.return_code.is_accepted() && a.msg_id == msg_id => a.topic_id,
        other => panic!("REGACK expected, got {other:?}"),
    }
}

#[test]
fn two_nodes_behind_one_forwarder_get_their_own_sessions() {
    let mut net = Net::new(config());
    let fwd = addr(50);
    assert!(fconnect(&mut net, fwd, &[0, 1], "n1", 60).is_accepted());
    assert!(fconnect(&mut net, fwd, &[0, 2], "n2", 60).is_accepted());
    assert_eq!(
        net.gw.client_state(node(fwd, &[0, 1])),
        Some(SnClientState::Active)
    );
    assert_eq!(
        net.gw.client_state(node(fwd, &[0, 2])),
        Some(SnClientState::Active)
    );
    assert_eq!(
        net.gw.client_state(fwd),
        None,
        "the forwarder itself is no client"
    );
    assert_eq!(net.gw.clients_at(fwd), 2);
    assert!(net.gw.is_known(fwd));
    assert_eq!(net.core.stats().connections, 2);
    assert_eq!(net.gw.stats().clients, 2);

    // Topic ids are per node: node 2 does not know node 1's.
    let id = fregister(&mut net, fwd, &[0, 1], "home/temp", 1);
    fsend(
        &mut net,
        fwd,
        &[0, 2],
        publish(Topic::Id(id), QoS::AtLeastOnce, 9, b"x"),
    );
    assert!(matches!(
        fone(&mut net, fwd, &[0, 2]),
        Message::PubAck(PubAck {
            return_code: ReturnCode::InvalidTopicId,
            msg_id: 9,
            ..
        })
    ));

    // One node leaving leaves the other connected.
    fsend(&mut net, fwd, &[0, 1], Message::Disconnect(Disconnect::default()));
    assert_eq!(
        fone(&mut net, fwd, &[0, 1]),
        Message::Disconnect(Disconnect::default())
    );
    assert_eq!(net.gw.client_state(node(fwd, &[0, 1])), None);
    assert_eq!(
        net.gw.client_state(node(fwd, &[0, 2])),
        Some(SnClientState::Active)
    );
    assert_eq!(net.gw.clients_at(fwd), 1);
    fsend(&mut net, fwd, &[0, 2], Message::PingReq(PingReq::default()));
    assert_eq!(fone(&mut net, fwd, &[0, 2]), Message::PingResp);
    assert_eq!(net.core.stats().connections, 1);
}

#[test]
fn a_node_behind_a_forwarder_is_not_the_client_at_the_forwarder_address() {
    let mut net = Net::new(config());
    let fwd = addr(50);
    net.connect(fwd, "direct", true, 60);
    assert!(fconnect(&mut net, fwd, &[7], "n7", 60).is_accepted());
    assert_eq!(net.gw.clients_at(fwd), 2);
    // An unknown node needs a connection: told so through the forwarder.
    fsend(
        &mut net,
        fwd,
        &[8],
        publish(Topic::Short(*b"ab"), QoS::AtLeastOnce, 1, b"x"),
    );
    assert_eq!(
        fone(&mut net, fwd, &[8]),
        Message::Disconnect(Disconnect::default())
    );
    assert_eq!(net.gw.stats().unknown_peer, 1);
    // Too long a node id is dropped as malformed, unanswered.
    fsend(&mut net, fwd, &[1; 40], connect_msg("long", true, false, 60));
    assert!(net.take(fwd).is_empty());
    assert_eq!(net.gw.stats().malformed, 1);
    assert_eq!(net.gw.client_state(fwd), Some(SnClientState::Active));
}

#[test]
fn forwarded_publishes_reach_direct_and_mqtt_subscribers() {
    let mut net = Net::new(config());
    let w = watcher(&net, "mqtt", "home/#");
    let direct = addr(1);
    net.connect(direct, "d1", true, 60);
    let sub = net.subscribe(direct, name("home/temp"), QoS::AtLeastOnce, 1);
    let Message::SubAck(ack) = sub else {
        panic!("{sub:?}")
    };
    let fwd = addr(50);
    let n: &[u8] = &[0xAB, 0xCD];
    assert!(fconnect(&mut net, fwd, n, "n1", 60).is_accepted());
    let id = fregister(&mut net, fwd, n, "home/temp", 1);

    // QoS 1: PUBACK goes back through the forwarder.
    fsend(
        &mut net,
        fwd,
        n,
        publish(Topic::Id(id), QoS::AtLeastOnce, 3, b"21.5"),
    );
    assert_eq!(
        fone(&mut net, fwd, n),
        Message::PubAck(PubAck {
            topic_id: id,
            msg_id: 3,
            return_code: ReturnCode::Accepted
        })
    );
    assert_eq!(received(&net, &w), vec![("home/temp".into(), b"21.5".to_vec())]);
    let got = net.take(direct);
    assert!(
        matches!(&got[..], [Message::Publish(p)] if &p.payload[..] == b"21.5" && p.topic == Topic::Id(ack.topic_id)),
        "{got:?}"
    );
    if let [Message::Publish(p)] = &got[..] {
        let ack = PubAck {
            topic_id: ack.topic_id,
            msg_id: p.msg_id,
            return_code: ReturnCode::Accepted,
        };
        net.send(direct, Message::PubAck(ack));
    }

    // QoS 2: PUBREC, PUBREL, PUBCOMP, all through the forwarder.
    fsend(
        &mut net,
        fwd,
        n,
        publish(Topic::Id(id), QoS::ExactlyOnce, 4, b"22"),
    );
    assert_eq!(fone(&mut net, fwd, n), Message::PubRec { msg_id: 4 });
    fsend(&mut net, fwd, n, Message::PubRel { msg_id: 4 });
    assert_eq!(fone(&mut net, fwd, n), Message::PubComp { msg_id: 4 });
    assert_eq!(received(&net, &w), vec![("home/temp".into(), b"22".to_vec())]);

    // QoS -1 needs no connection: an unknown node may publish to a predefined topic.
    let w7 = watcher(&net, "mqtt7", "predef/#");
    fsend(
        &mut net,
        fwd,
        &[0x99],
        publish(Topic::Predefined(7), QoS::MinusOne, 0, b"m1"),
    );
    assert!(net.take(fwd).is_empty());
    assert_eq!(received(&net, &w7), vec![("predef/seven".into(), b"m1".to_vec())]);
}

#[test]
fn gateway_to_forwarded_node_is_encapsulated() {
    let mut net = Net::new(config());
    let fwd = addr(50);
    let n: &[u8] = &[1, 2, 3, 4, 5, 6, 7, 8];
    let other: &[u8] = &[9];
    assert!(fconnect(&mut net, fwd, n, "n1", 60).is_accepted());
    assert!(fconnect(&mut net, fwd, other, "n9", 60).is_accepted());
    fsend(
        &mut net,
        fwd,
        n,
        Message::Subscribe(tern_mqttsn_codec::Subscribe {
            dup: false,
            qos: QoS::AtLeastOnce,
            msg_id: 1,
            topic: name("alerts/#"),
        }),
    );
    assert!(
        matches!(fone(&mut net, fwd, n), Message::SubAck(a) if a.return_code.is_accepted() && a.msg_id == 1)
    );

    mqtt_publish(&net, "alerts/fire", MqttQoS::AtLeastOnce, b"run", false);
    // The wildcard gave no topic id: REGISTER first, to the node, through its forwarder.
    let reg = match fone(&mut net, fwd, n) {
        Message::Register(r) => r,
        other => panic!("REGISTER expected, got {other:?}"),
    };
    assert_eq!(reg.topic_name.as_str(), "alerts/fire");
    fsend(
        &mut net,
        fwd,
        n,
        Message::RegAck(RegAck {
            topic_id: reg.topic_id,
            msg_id: reg.msg_id,
            return_code: ReturnCode::Accepted,
        }),
    );
    let p = match fone(&mut net, fwd, n) {
        Message::Publish(p) => p,
        other => panic!("PUBLISH expected, got {other:?}"),
    };
    assert_eq!(
        (p.topic, p.qos, p.dup, &p.payload[..]),
        (Topic::Id(reg.topic_id), QoS::AtLeastOnce, false, &b"run"[..])
    );

    // Unacknowledged: retransmitted after Tretry, still wrapped for the same node.
    net.at(6.0);
    match fone(&mut net, fwd, n) {
        Message::Publish(again) => assert!(again.dup && again.msg_id == p.msg_id),
        other => panic!("retransmission expected, got {other:?}"),
    }
    fsend(
        &mut net,
        fwd,
        n,
        Message::PubAck(PubAck {
            topic_id: reg.topic_id,
            msg_id: p.msg_id,
            return_code: ReturnCode::Accepted,
        }),
    );
    net.at(20.0);
    assert!(
        net.take(fwd).is_empty(),
        "acknowledged: nothing more, and nothing for the other node"
    );
    assert_eq!(net.gw.client_state(node(fwd, other)), Some(SnClientState::Active));
}

#[test]
fn forwarded_node_sleeps_and_wakes() {
    let mut net = Net::new(config());
    let fwd = addr(50);
    let n: &[u8] = &[0x42];
    assert!(fconnect(&mut net, fwd, n, "sleepy", 60).is_accepted());
    fsend(
        &mut net,
        fwd,
        n,
        Message::Subscribe(tern_mqttsn_codec::Subscribe {
            dup: false,
            qos: QoS::AtLeastOnce,
            msg_id: 1,
            topic: TopicFilter::Short(*b"zz"),
        }),
    );
    assert!(matches!(fone(&mut net, fwd, n), Message::SubAck(_)));
    fsend(
        &mut net,
        fwd,
        n,
        Message::Disconnect(Disconnect { duration: Some(100) }),
    );
    assert_eq!(
        fone(&mut net, fwd, n),
        Message::Disconnect(Disconnect { duration: None })
    );
    assert_eq!(net.gw.client_state(node(fwd, n)), Some(SnClientState::Asleep));

    mqtt_publish(&net, "zz", MqttQoS::AtLeastOnce, b"1", false);
    mqtt_publish(&net, "zz", MqttQoS::AtLeastOnce, b"2", false);
    net.at(50.0);
    assert!(net.take(fwd).is_empty(), "nothing is sent to a sleeping node");

    fsend(
        &mut net,
        fwd,
        n,
        Message::PingReq(PingReq {
            client_id: Some(Utf8Bytes::from("sleepy".to_owned())),
        }),
    );
    let mut payloads = Vec::new();
    let mut ping = false;
    for _ in 0..10 {
        for m in ftake(&mut net, fwd, n) {
            match m {
                Message::Publish(p) => {
                    assert_eq!(net.gw.client_state(node(fwd, n)), Some(SnClientState::Awake));
                    payloads.push(p.payload.to_vec());
                    let ack = PubAck {
                        topic_id: 0,
                        msg_id: p.msg_id,
                        return_code: ReturnCode::Accepted,
                    };
                    fsend(&mut net, fwd, n, Message::PubAck(ack));
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
    assert_eq!(payloads, vec![b"1".to_vec(), b"2".to_vec()]);
    assert_eq!(net.gw.client_state(node(fwd, n)), Some(SnClientState::Asleep));

    // Oversleeping (1.5 x 100 s after the wake) loses it, like a direct sensor.
    net.at(50.0 + 151.0);
    assert_eq!(net.gw.client_state(node(fwd, n)), None);
    assert_eq!(net.gw.clients_at(fwd), 0);
}

#[test]
fn nodes_per_forwarder_are_capped() {
    let mut net = Net::new(SnConfig {
        max_nodes_per_forwarder: 2,
        ..config()
    });
    let fwd = addr(50);
    assert!(fconnect(&mut net, fwd, &[1], "n1", 60).is_accepted());
    assert!(fconnect(&mut net, fwd, &[2], "n2", 60).is_accepted());
    assert_eq!(fconnect(&mut net, fwd, &[3], "n3", 60), ReturnCode::Congestion);
    assert_eq!(net.gw.client_state(node(fwd, &[3])), None);
    // A node already tracked may reconnect; another forwarder and direct sensors are unaffected.
    assert!(fconnect(&mut net, fwd, &[2], "n2", 60).is_accepted());
    assert!(fconnect(&mut net, addr(51), &[3], "m3", 60).is_accepted());
    net.connect(fwd, "direct", true, 60);
    // A node leaving makes room.
    fsend(&mut net, fwd, &[1], Message::Disconnect(Disconnect::default()));
    assert_eq!(
        fone(&mut net, fwd, &[1]),
        Message::Disconnect(Disconnect::default())
    );
    assert!(fconnect(&mut net, fwd, &[3], "n3", 60).is_accepted());
    assert_eq!(net.gw.clients_at(fwd), 3);
}
