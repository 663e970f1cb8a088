//! Malformed datagrams, unknown message types, unknown peers mid-flow, floods: dropped or answered per the
//! spec, bounded, and without effect on other clients.

use crate::harness::*;
use crate::publish::mqtt_publish;
use tern_broker_core::mqttsn::{SnClientState, SnConfig};
use tern_mqtt_codec::QoS as MqttQoS;
use tern_mqttsn_codec::{Disconnect, Message, QoS, Topic, TopicFilter};

#[test]
fn malformed_and_unknown_datagrams_are_dropped_without_side_effects() {
    let mut net = Net::new(config());
    let good = addr(1);
    net.connect(good, "good", true, 60);
    net.subscribe(good, TopicFilter::Short(*b"ok"), QoS::AtMostOnce, 1);
    let bad = addr(2);
    net.connect(bad, "bad", true, 60);
    let junk: &[&[u8]] = &[
        &[],
        &[0x01],
        &[0x05, 0x0C, 0x00],       // length says 5, datagram has 3
        &[0x02, 0xFF],             // reserved message type
        &[0x03, 0x19, 0x00],       // DISCONNECT with a 1-octet duration
        &[0x01, 0x00, 0x00, 0x00], // three-octet length form, truncated
        &[0x04, 0x04, 0xFF, 0xFE], // CONNECT body too short
    ];
    for j in junk {
        net.raw(bad, j);
    }
    assert_eq!(net.gw.stats().malformed, junk.len() as u64);
    assert!(net.take(bad).is_empty(), "malformed input is not answered");
    assert_eq!(
        net.gw.client_state(bad),
        Some(SnClientState::Active),
        "nor does it cost the sender its state"
    );
    mqtt_publish(&net, "ok", MqttQoS::AtMostOnce, b"still fine", false);
    assert!(matches!(net.one(good), Message::Publish(p) if &p.payload[..] == b"still fine"));
}

#[test]
fn gateway_only_messages_from_a_client_are_ignored() {
    let mut net = Net::new(config());
    let s = addr(1);
    net.connect(s, "s", true, 60);
    net.send(
        s,
        Message::ConnAck {
            return_code: tern_mqttsn_codec::ReturnCode::Accepted,
        },
    );
    net.send(s, Message::PingResp);
    net.send(s, Message::WillTopicReq);
    assert!(net.take(s).is_empty());
    assert_eq!(net.gw.client_state(s), Some(SnClientState::Active));
}

#[test]
fn unknown_peer_mid_flow_is_told_to_disconnect() {
    let mut net = Net::new(config());
    let stranger = addr(7);
    for m in [
        publish(Topic::Id(1), QoS::AtLeastOnce, 1, b"x"),
        Message::PubAck(tern_mqttsn_codec::PubAck {
            topic_id: 1,
            msg_id: 1,
            return_code: tern_mqttsn_codec::ReturnCode::Accepted,
        }),
        Message::Subscribe(tern_mqttsn_codec::Subscribe {
            dup: false,
            qos: QoS::AtMostOnce,
            msg_id: 1,
            topic: name("a"),
        }),
        Message::PingReq(Default::default()),
    ] {
        net.send(stranger, m);
        assert_eq!(net.one(stranger), Message::Disconnect(Disconnect::default()));
    }
    assert_eq!(net.gw.stats().unknown_peer, 4);
    assert_eq!(net.gw.stats().clients, 0);
}

#[test]
fn connect_flood_is_bounded_by_max_clients() {
    let mut net = Net::new(SnConfig {
        max_clients: 100,
        ..config()
    });
    for port in 1..=1000u16 {
        net.send(addr(port), connect_msg(&format!("c{port}"), true, true, 60));
    }
    assert_eq!(net.gw.stats().clients, 100);
    // Half-open will handshakes are forgotten after the connect timeout.
    net.at(31.0);
    assert_eq!(net.gw.stats().clients, 0);
    net.connect(addr(5000), "late", true, 60);
}

#[test]
fn transmit_queue_is_bounded() {
    let mut net = Net::new(SnConfig {
        max_transmit_queue: 10,
        ..config()
    });
    for port in 1..=50u16 {
        net.gw.handle_datagram(net.now, addr(port), {
            let mut b = bytes::BytesMut::new();
            Message::SearchGw(tern_mqttsn_codec::SearchGw { radius: 0 })
                .encode(&mut b)
                .unwrap();
            b.freeze()
        });
    }
    assert_eq!(net.gw.stats().transmit_dropped, 40);
    net.flush();
    assert_eq!(net.inbox.len(), 10);
}

#[test]
fn second_connect_from_same_address_replaces_the_first() {
    let mut net = Net::new(config());
    let s = addr(1);
    net.connect(s, "one", true, 60);
    net.connect(s, "two", true, 60);
    assert_eq!(net.core.stats().sessions, 1);
    assert_eq!(net.core.stats().connections, 1);
}

/// Admits only client ids starting with "ok", and lets them publish only under `ok/`.
struct Picky;

impl tern_broker_core::AuthPolicy for Picky {
    fn authenticate(
        &self,
        _meta: &tern_broker_core::ConnMeta,
        _connect: &tern_mqtt_codec::Connect,
    ) -> Result<tern_broker_core::Identity, tern_mqtt_codec::ReasonCode> {
        Ok(Default::default())
    }
    fn authorize_publish(&self, identity: &tern_broker_core::Identity, topic: &str) -> bool {
        identity.client_id.as_deref().is_some_and(|c| c.starts_with("ok")) && topic.starts_with("ok/")
    }
    fn authorize_subscribe(&self, _identity: &tern_broker_core::Identity, filter: &str) -> bool {
        filter.starts_with("ok/")
    }
    fn authenticate_sn(
        &self,
        client_id: &str,
        _peer: std::net::SocketAddr,
    ) -> Result<tern_broker_core::Identity, tern_mqtt_codec::ReasonCode> {
        if client_id.starts_with("ok") {
            Ok(tern_broker_core::Identity {
                client_id: Some(client_id.into()),
                ..Default::default()
            })
        } else {
            Err(tern_mqtt_codec::ReasonCode::NotAuthorized)
        }
    }
}

#[test]
fn policy_decides_connect_publish_and_subscribe() {
    let t0 = std::time::Instant::now();
    let core = tern_broker_core::BrokerCore::with_hooks(
        tern_broker_core::CoreConfig {
            sys_interval: None,
            ..Default::default()
        },
        tern_broker_core::Hooks {
            policy: std::sync::Arc::new(Picky),
            ..Default::default()
        },
        t0,
    );
    let mut net = Net::on(core, config(), t0);
    net.send(addr(1), connect_msg("nope", true, false, 60));
    assert_eq!(
        net.one(addr(1)),
        Message::ConnAck {
            return_code: tern_mqttsn_codec::ReturnCode::NotSupported
        }
    );
    let s = addr(2);
    net.connect(s, "ok-1", true, 60);
    let denied = net.register(s, "no/x", 1);
    net.send(s, publish(Topic::Id(denied), QoS::AtLeastOnce, 2, b"x"));
    assert!(
        matches!(net.one(s), Message::PubAck(a) if a.return_code == tern_mqttsn_codec::ReturnCode::NotSupported)
    );
    let allowed = net.register(s, "ok/x", 3);
    net.send(s, publish(Topic::Id(allowed), QoS::AtLeastOnce, 4, b"x"));
    assert!(matches!(net.one(s), Message::PubAck(a) if a.return_code.is_accepted()));
    assert!(matches!(
        net.subscribe(s, name("no/#"), QoS::AtMostOnce, 5),
        Message::SubAck(a) if a.return_code == tern_mqttsn_codec::ReturnCode::NotSupported
    ));
}
