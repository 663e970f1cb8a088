//! CONNECT with and without will, clean session, keep alive, will updates, discovery, DISCONNECT.

use crate::harness::*;
use std::time::Duration;
use tern_broker_core::mqttsn::{SnClientState, SnConfig};
use tern_broker_core::{AttachRequest, Fanout, SubscribeRequest};
use tern_mqtt_codec::{QoS as MqttQoS, SubscriptionOptions};
use tern_mqttsn_codec::{
    Disconnect, GwInfo, Message, QoS, ReturnCode, SearchGw, Utf8Bytes, WillMsg, WillTopic,
};

/// An MQTT-side session subscribed to `filter`, to observe what the gateway publishes.
pub fn watcher(net: &Net, id: &str, filter: &str) -> tern_broker_core::SessionHandle {
    let attached = net.core.attach(
        AttachRequest {
            client_id: id.into(),
            clean_start: true,
            expiry_interval: 0,
            will: None,
            notifier: std::sync::Arc::new(|| {}),
        },
        net.now,
    );
    let req = SubscribeRequest {
        filter,
        options: SubscriptionOptions {
            qos: MqttQoS::ExactlyOnce,
            ..SubscriptionOptions::default()
        },
        subscription_id: None,
    };
    net.core
        .subscribe(
            &attached.handle,
            &Default::default(),
            req,
            net.now,
            &mut Fanout::default(),
        )
        .expect("subscribed");
    attached.handle
}

/// Topics and payloads the watcher received.
pub fn received(net: &Net, h: &tern_broker_core::SessionHandle) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    h.pull(net.now, 1000, &mut out);
    out.into_iter()
        .filter_map(|o| match o {
            tern_broker_core::Outbound::Publish {
                packet_id, delivery, ..
            } => {
                if let Some(id) = packet_id {
                    h.puback(id);
                }
                Some((delivery.msg.topic.to_string(), delivery.msg.payload.to_vec()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn connect_without_will_is_accepted_and_active() {
    let mut net = Net::new(config());
    let s = addr(1);
    net.connect(s, "s1", true, 60);
    assert_eq!(net.gw.client_state(s), Some(SnClientState::Active));
    assert_eq!(net.core.stats().connections, 1);
}

#[test]
fn empty_client_id_is_refused() {
    let mut net = Net::new(config());
    net.send(addr(1), connect_msg("", true, false, 60));
    assert!(matches!(
        net.one(addr(1)),
        Message::ConnAck {
            return_code: ReturnCode::NotSupported
        }
    ));
    assert_eq!(net.gw.client_state(addr(1)), None);
}

#[test]
fn will_handshake_then_lost_client_publishes_will() {
    let mut net = Net::new(config());
    let w = watcher(&net, "mqtt", "wills/#");
    let s = addr(1);
    net.send(s, connect_msg("s1", true, true, 10));
    assert!(matches!(net.one(s), Message::WillTopicReq));
    assert_eq!(net.gw.client_state(s), Some(SnClientState::Connecting));
    net.send(
        s,
        Message::WillTopic(Some(WillTopic {
            qos: QoS::AtLeastOnce,
            retain: false,
            topic: Utf8Bytes::from_static("wills/s1"),
        })),
    );
    assert!(matches!(net.one(s), Message::WillMsgReq));
    net.send(
        s,
        Message::WillMsg(WillMsg {
            message: bytes::Bytes::from_static(b"gone"),
        }),
    );
    assert!(matches!(
        net.one(s),
        Message::ConnAck {
            return_code: ReturnCode::Accepted
        }
    ));
    assert_eq!(net.gw.client_state(s), Some(SnClientState::Active));
    // Keep alive 10 s: lost after 15 s of silence, will published.
    net.at(14.0);
    assert!(received(&net, &w).is_empty());
    net.at(15.5);
    assert_eq!(net.gw.client_state(s), None);
    assert_eq!(
        received(&net, &w),
        vec![("wills/s1".to_owned(), b"gone".to_vec())]
    );
    assert_eq!(net.gw.stats().lost, 1);
}

#[test]
fn keep_alive_is_refreshed_by_any_message_and_pingreq_answers() {
    let mut net = Net::new(config());
    let s = addr(1);
    net.connect(s, "s1", true, 10);
    for t in [10.0, 20.0, 30.0] {
        net.at(t);
        net.send(s, Message::PingReq(Default::default()));
        assert!(matches!(net.one(s), Message::PingResp));
    }
    assert_eq!(net.gw.client_state(s), Some(SnClientState::Active));
    net.at(46.0);
    assert_eq!(net.gw.client_state(s), None);
}

#[test]
fn empty_will_topic_means_no_will() {
    let mut net = Net::new(config());
    let w = watcher(&net, "mqtt", "#");
    let s = addr(1);
    net.send(s, connect_msg("s1", true, true, 10));
    net.take(s);
    net.send(s, Message::WillTopic(None));
    assert!(matches!(
        net.one(s),
        Message::ConnAck {
            return_code: ReturnCode::Accepted
        }
    ));
    net.at(20.0);
    assert_eq!(net.gw.client_state(s), None);
    assert!(received(&net, &w).is_empty());
}

#[test]
fn will_updates_change_what_is_published_and_disconnect_discards_it() {
    let mut net = Net::new(config());
    let w = watcher(&net, "mqtt", "#");
    let s = addr(1);
    net.send(s, connect_msg("s1", true, true, 10));
    net.take(s);
    net.send(
        s,
        Message::WillTopic(Some(WillTopic {
            qos: QoS::AtMostOnce,
            retain: false,
            topic: Utf8Bytes::from_static("a"),
        })),
    );
    net.take(s);
    net.send(
        s,
        Message::WillMsg(WillMsg {
            message: bytes::Bytes::from_static(b"1"),
        }),
    );
    net.take(s);
    net.send(
        s,
        Message::WillTopicUpd(Some(WillTopic {
            qos: QoS::AtLeastOnce,
            retain: true,
            topic: Utf8Bytes::from_static("b/will"),
        })),
    );
    assert!(matches!(
        net.one(s),
        Message::WillTopicResp {
            return_code: ReturnCode::Accepted
        }
    ));
    net.send(
        s,
        Message::WillMsgUpd(WillMsg {
            message: bytes::Bytes::from_static(b"2"),
        }),
    );
    assert!(matches!(
        net.one(s),
        Message::WillMsgResp {
            return_code: ReturnCode::Accepted
        }
    ));
    net.at(16.0);
    assert_eq!(received(&net, &w), vec![("b/will".to_owned(), b"2".to_vec())]);
    // Retained as asked.
    assert_eq!(net.core.stats().retained_messages, 1);

    // A clean DISCONNECT: no will.
    let s2 = addr(2);
    net.send(s2, connect_msg("s2", true, true, 10));
    net.take(s2);
    net.send(
        s2,
        Message::WillTopic(Some(WillTopic {
            qos: QoS::AtMostOnce,
            retain: false,
            topic: Utf8Bytes::from_static("c"),
        })),
    );
    net.take(s2);
    net.send(
        s2,
        Message::WillMsg(WillMsg {
            message: bytes::Bytes::from_static(b"x"),
        }),
    );
    net.take(s2);
    net.send(s2, Message::Disconnect(Disconnect::default()));
    assert!(matches!(
        net.one(s2),
        Message::Disconnect(Disconnect { duration: None })
    ));
    assert_eq!(net.gw.client_state(s2), None);
    net.at(100.0);
    assert!(received(&net, &w).is_empty());
}

#[test]
fn unfinished_will_handshake_is_forgotten() {
    let mut net = Net::new(SnConfig {
        connect_timeout: Duration::from_secs(5),
        ..config()
    });
    let s = addr(1);
    net.send(s, connect_msg("s1", true, true, 10));
    net.take(s);
    net.at(6.0);
    assert_eq!(net.gw.client_state(s), None);
    assert_eq!(net.core.stats().connections, 0);
}

#[test]
fn clean_session_false_keeps_subscriptions_across_connects() {
    let mut net = Net::new(config());
    let s = addr(1);
    net.connect(s, "s1", false, 60);
    net.subscribe(s, name("keep/me"), QoS::AtLeastOnce, 1);
    net.send(s, Message::Disconnect(Disconnect::default()));
    net.take(s);
    // Offline: a QoS 1 message is kept for the session.
    let w = tern_mqtt_codec::ByteStr::from("keep/me");
    let msg = tern_broker_core::Message {
        topic: w,
        payload: bytes::Bytes::from_static(b"q"),
        qos: MqttQoS::AtLeastOnce,
        retain: false,
        properties: Default::default(),
        expires_at: None,
        publisher: None,
    };
    net.core
        .publish(std::sync::Arc::new(msg), net.now, false, &mut Fanout::default())
        .unwrap();
    net.send(s, connect_msg("s1", false, false, 60));
    let got = net.take(s);
    assert!(
        matches!(
            got.first(),
            Some(Message::ConnAck {
                return_code: ReturnCode::Accepted
            })
        ),
        "{got:?}"
    );
    assert!(
        got.iter()
            .any(|m| matches!(m, Message::Register(r) if r.topic_name.as_str() == "keep/me")),
        "{got:?}"
    );
    // And a clean connect discards it.
    net.send(s, Message::Disconnect(Disconnect::default()));
    net.take(s);
    net.connect(s, "s1", true, 60);
    assert_eq!(net.core.stats().subscriptions, 0);
}

#[test]
fn searchgw_is_answered_with_gwinfo_and_advertise_is_periodic() {
    let bcast = addr(9999);
    let mut net = Net::new(SnConfig {
        gateway_id: 42,
        advertise_interval: Some(Duration::from_secs(30)),
        advertise_address: Some(bcast),
        ..config()
    });
    net.send(addr(1), Message::SearchGw(SearchGw { radius: 0 }));
    assert_eq!(
        net.one(addr(1)),
        Message::GwInfo(GwInfo {
            gw_id: 42,
            gw_add: None
        })
    );
    net.at(0.0);
    assert!(matches!(net.one(bcast), Message::Advertise(a) if a.gw_id == 42 && a.duration == 30));
    net.at(29.0);
    assert!(net.take(bcast).is_empty());
    net.at(30.0);
    assert_eq!(net.take(bcast).len(), 1);
}

#[test]
fn advertise_is_off_by_default() {
    let mut net = Net::new(config());
    assert_eq!(net.gw.poll_timeout(), None);
    net.at(1000.0);
    assert!(net.inbox.is_empty());
}

#[test]
fn client_id_prefix_namespaces_sessions() {
    let mut net = Net::new(SnConfig {
        client_id_prefix: "sn-".into(),
        ..config()
    });
    // An MQTT client called "dev" is not taken over by sensor "dev".
    let mqtt = watcher(&net, "dev", "x");
    net.connect(addr(1), "dev", true, 60);
    assert!(mqtt.is_current());
    assert_eq!(net.core.stats().sessions, 2);
}

#[test]
fn max_clients_refuses_with_congestion() {
    let mut net = Net::new(SnConfig {
        max_clients: 1,
        ..config()
    });
    net.connect(addr(1), "a", true, 60);
    net.send(addr(2), connect_msg("b", true, false, 60));
    assert!(matches!(
        net.one(addr(2)),
        Message::ConnAck {
            return_code: ReturnCode::Congestion
        }
    ));
    // The existing client may reconnect.
    net.connect(addr(1), "a", true, 60);
}

#[test]
fn connection_rate_refuses_connects_over_it_with_congestion() {
    let mut net = Net::new(SnConfig {
        connect_rate: Some(2),
        ..config()
    });
    net.connect(addr(1), "a", true, 60);
    net.connect(addr(2), "b", true, 60);
    // The bucket (2/s, burst 2) is empty at the same instant: the third is refused before any other check.
    net.send(addr(3), connect_msg("c", true, false, 60));
    assert!(matches!(
        net.one(addr(3)),
        Message::ConnAck {
            return_code: ReturnCode::Congestion
        }
    ));
    assert_eq!(net.gw.stats().refused_rate, 1);
    assert_eq!(net.gw.stats().clients, 2);
    // Half a second refills one token.
    net.at(0.5);
    net.connect(addr(3), "c", true, 60);
}
