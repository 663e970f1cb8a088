//! The MQTT-SN gateway end to end over real UDP sockets, with MQTT 5 clients over TCP on the same broker.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use bytes::Bytes;
use std::collections::BTreeMap;
use std::time::Duration;
use support::{Sensor, WAIT, connect_msg, mqtt5, mqtt5_ws, start};
use tern_client::filter;
use tern_mqtt_codec::QoS as MqttQoS;
use tern_mqttsn_codec::{
    Disconnect, Encapsulated, Message, PingReq, PubAck, Publish, QoS, RegAck, Register, ReturnCode, SearchGw,
    Subscribe, Topic, TopicFilter, Utf8Bytes, WillMsg, WillTopic,
};
use tern_transport_mqttsn::SnConfig;

fn sn_publish(topic: Topic, qos: QoS, msg_id: u16, payload: &'static [u8]) -> Message {
    Message::Publish(Publish {
        dup: false,
        qos,
        retain: false,
        topic,
        msg_id,
        payload: Bytes::from_static(payload),
    })
}

async fn register(s: &Sensor, name: &str) -> u16 {
    s.send(&Message::Register(Register {
        topic_id: 0,
        msg_id: 1,
        topic_name: Utf8Bytes::from(name.to_owned()),
    }))
    .await;
    match s.recv().await {
        Message::RegAck(a) if a.return_code.is_accepted() => a.topic_id,
        other => panic!("REGACK expected, got {other:?}"),
    }
}

async fn subscribe(s: &Sensor, topic: TopicFilter, qos: QoS) -> u16 {
    s.send(&Message::Subscribe(Subscribe {
        dup: false,
        qos,
        msg_id: 2,
        topic,
    }))
    .await;
    match s.recv().await {
        Message::SubAck(a) if a.return_code.is_accepted() => a.topic_id,
        other => panic!("SUBACK expected, got {other:?}"),
    }
}

#[tokio::test]
async fn sensor_qos1_publish_reaches_mqtt5_client_over_tcp() {
    let stack = start(SnConfig::default()).await;
    let mut sub = mqtt5(&stack, "tcp-sub").await;
    sub.subscribe([filter("home/#", MqttQoS::AtLeastOnce)])
        .await
        .unwrap();
    let s = Sensor::new(stack.sn).await;
    s.connect("sensor-1", true, 30).await;
    let id = register(&s, "home/kitchen/temp").await;
    s.send(&sn_publish(Topic::Id(id), QoS::AtLeastOnce, 7, b"21.5"))
        .await;
    assert_eq!(
        s.recv().await,
        Message::PubAck(PubAck {
            topic_id: id,
            msg_id: 7,
            return_code: ReturnCode::Accepted
        })
    );
    let got = tokio::time::timeout(WAIT, sub.recv()).await.unwrap().unwrap();
    assert_eq!(got.topic.as_str(), "home/kitchen/temp");
    assert_eq!(&got.payload[..], b"21.5");
    assert_eq!(got.qos, MqttQoS::AtLeastOnce);
}

#[tokio::test]
async fn sensor_qos1_publish_reaches_mqtt5_client_over_websocket_and_back() {
    let stack = start(SnConfig::default()).await;
    let mut sub = mqtt5_ws(&stack, "ws-sub").await;
    sub.subscribe([filter("field/#", MqttQoS::AtLeastOnce)])
        .await
        .unwrap();
    let s = Sensor::new(stack.sn).await;
    s.connect("sensor-ws", true, 30).await;
    let id = register(&s, "field/moisture").await;
    s.send(&sn_publish(Topic::Id(id), QoS::AtLeastOnce, 3, b"40%"))
        .await;
    assert!(matches!(s.recv().await, Message::PubAck(a) if a.return_code.is_accepted()));
    let got = tokio::time::timeout(WAIT, sub.recv()).await.unwrap().unwrap();
    assert_eq!(
        (got.topic.as_str(), &got.payload[..], got.qos),
        ("field/moisture", &b"40%"[..], MqttQoS::AtLeastOnce)
    );

    // And back: the WebSocket client publishes to the sensor's short topic.
    subscribe(&s, TopicFilter::Short(*b"go"), QoS::AtLeastOnce).await;
    sub.publish("go", &b"now"[..], MqttQoS::AtLeastOnce, false)
        .await
        .unwrap();
    let p = match s.recv().await {
        Message::Publish(p) => p,
        other => panic!("PUBLISH expected, got {other:?}"),
    };
    assert_eq!((p.topic, &p.payload[..]), (Topic::Short(*b"go"), &b"now"[..]));
}

#[tokio::test]
async fn mqtt_publish_reaches_a_sleeping_sensor_after_it_wakes() {
    let stack = start(SnConfig::default()).await;
    let s = Sensor::new(stack.sn).await;
    s.connect("sleeper", false, 30).await;
    let wild = subscribe(
        &s,
        TopicFilter::Name(Utf8Bytes::from_static("cmd/#")),
        QoS::AtLeastOnce,
    )
    .await;
    assert_eq!(wild, 0);
    s.send(&Message::Disconnect(Disconnect { duration: Some(60) }))
        .await;
    assert_eq!(s.recv().await, Message::Disconnect(Disconnect { duration: None }));

    let pubr = mqtt5(&stack, "tcp-pub").await;
    let outcome = pubr
        .publish("cmd/led", &b"on"[..], MqttQoS::AtLeastOnce, false)
        .await
        .unwrap();
    assert!(outcome.is_success());
    assert!(
        s.recv_within(Duration::from_millis(300)).await.is_none(),
        "asleep: nothing sent"
    );

    s.send(&Message::PingReq(PingReq {
        client_id: Some(Utf8Bytes::from_static("sleeper")),
    }))
    .await;
    let reg = match s.recv().await {
        Message::Register(r) => r,
        other => panic!("REGISTER expected, got {other:?}"),
    };
    assert_eq!(reg.topic_name.as_str(), "cmd/led");
    s.send(&Message::RegAck(RegAck {
        topic_id: reg.topic_id,
        msg_id: reg.msg_id,
        return_code: ReturnCode::Accepted,
    }))
    .await;
    let p = match s.recv().await {
        Message::Publish(p) => p,
        other => panic!("PUBLISH expected, got {other:?}"),
    };
    assert_eq!(
        (&p.payload[..], p.qos, p.topic),
        (&b"on"[..], QoS::AtLeastOnce, Topic::Id(reg.topic_id))
    );
    s.send(&Message::PubAck(PubAck {
        topic_id: reg.topic_id,
        msg_id: p.msg_id,
        return_code: ReturnCode::Accepted,
    }))
    .await;
    assert_eq!(s.recv().await, Message::PingResp);
}

#[tokio::test]
async fn lost_sensor_will_reaches_mqtt_client() {
    let stack = start(SnConfig::default()).await;
    let mut sub = mqtt5(&stack, "will-watch").await;
    sub.subscribe([filter("wills/#", MqttQoS::AtMostOnce)])
        .await
        .unwrap();
    let s = Sensor::new(stack.sn).await;
    s.send(&connect_msg("dying", true, true, 1)).await;
    assert_eq!(s.recv().await, Message::WillTopicReq);
    s.send(&Message::WillTopic(Some(WillTopic {
        qos: QoS::AtMostOnce,
        retain: false,
        topic: Utf8Bytes::from_static("wills/dying"),
    })))
    .await;
    assert_eq!(s.recv().await, Message::WillMsgReq);
    s.send(&Message::WillMsg(WillMsg {
        message: Bytes::from_static(b"bye"),
    }))
    .await;
    assert!(matches!(
        s.recv().await,
        Message::ConnAck {
            return_code: ReturnCode::Accepted
        }
    ));
    // Keep alive 1 s: silent for 1.5 s, the will goes out.
    let got = tokio::time::timeout(WAIT, sub.recv()).await.unwrap().unwrap();
    assert_eq!(
        (got.topic.as_str(), &got.payload[..]),
        ("wills/dying", &b"bye"[..])
    );
}

#[tokio::test]
async fn qos2_both_ways_and_qos_minus_one() {
    let mut predefined = BTreeMap::new();
    predefined.insert(5u16, "plant/status".to_owned());
    let stack = start(SnConfig {
        predefined_topics: predefined,
        ..SnConfig::default()
    })
    .await;
    let mut sub = mqtt5(&stack, "q2-sub").await;
    sub.subscribe([
        filter("plant/#", MqttQoS::ExactlyOnce),
        filter("ab", MqttQoS::AtMostOnce),
    ])
    .await
    .unwrap();

    // QoS -1 without any connection, predefined and short topics.
    let anon = Sensor::new(stack.sn).await;
    anon.send(&sn_publish(Topic::Predefined(5), QoS::MinusOne, 0, b"m1"))
        .await;
    anon.send(&sn_publish(Topic::Short(*b"ab"), QoS::MinusOne, 0, b"m2"))
        .await;
    for want in [("plant/status", &b"m1"[..]), ("ab", &b"m2"[..])] {
        let got = tokio::time::timeout(WAIT, sub.recv()).await.unwrap().unwrap();
        assert_eq!((got.topic.as_str(), &got.payload[..]), want);
    }

    // QoS 2 sensor → MQTT.
    let s = Sensor::new(stack.sn).await;
    s.connect("q2", true, 30).await;
    s.send(&sn_publish(Topic::Predefined(5), QoS::ExactlyOnce, 9, b"x2"))
        .await;
    assert_eq!(s.recv().await, Message::PubRec { msg_id: 9 });
    s.send(&Message::PubRel { msg_id: 9 }).await;
    assert_eq!(s.recv().await, Message::PubComp { msg_id: 9 });
    let got = tokio::time::timeout(WAIT, sub.recv()).await.unwrap().unwrap();
    assert_eq!((got.qos, &got.payload[..]), (MqttQoS::ExactlyOnce, &b"x2"[..]));

    // QoS 2 MQTT → sensor, on a predefined id.
    assert_eq!(
        subscribe(&s, TopicFilter::Predefined(5), QoS::ExactlyOnce).await,
        5
    );
    let pubr = mqtt5(&stack, "q2-pub").await;
    let h = tokio::spawn(async move {
        pubr.publish("plant/status", &b"y2"[..], MqttQoS::ExactlyOnce, false)
            .await
    });
    let p = match s.recv().await {
        Message::Publish(p) => p,
        other => panic!("PUBLISH expected, got {other:?}"),
    };
    assert_eq!(
        (p.topic, p.qos, &p.payload[..]),
        (Topic::Predefined(5), QoS::ExactlyOnce, &b"y2"[..])
    );
    s.send(&Message::PubRec { msg_id: p.msg_id }).await;
    assert_eq!(s.recv().await, Message::PubRel { msg_id: p.msg_id });
    s.send(&Message::PubComp { msg_id: p.msg_id }).await;
    assert!(h.await.unwrap().unwrap().is_success());
}

#[tokio::test]
async fn unacknowledged_delivery_is_retransmitted_over_udp() {
    let stack = start(SnConfig {
        retry_interval: Duration::from_millis(200),
        max_retries: 3,
        ..SnConfig::default()
    })
    .await;
    let s = Sensor::new(stack.sn).await;
    s.connect("slowpoke", true, 30).await;
    subscribe(&s, TopicFilter::Short(*b"rt"), QoS::AtLeastOnce).await;
    let pubr = mqtt5(&stack, "rt-pub").await;
    pubr.publish("rt", &b"r"[..], MqttQoS::AtLeastOnce, false)
        .await
        .unwrap();
    let first = match s.recv().await {
        Message::Publish(p) => p,
        other => panic!("{other:?}"),
    };
    assert!(!first.dup);
    let again = match s.recv().await {
        Message::Publish(p) => p,
        other => panic!("{other:?}"),
    };
    assert!(again.dup && again.msg_id == first.msg_id);
    s.send(&Message::PubAck(PubAck {
        topic_id: 0,
        msg_id: first.msg_id,
        return_code: ReturnCode::Accepted,
    }))
    .await;
    // Acknowledged: no more retransmissions (drain one that may have crossed the ack).
    let mut extra = 0;
    while s.recv_within(Duration::from_millis(500)).await.is_some() {
        extra += 1;
    }
    assert!(extra <= 1);
}

#[tokio::test]
async fn discovery_and_hostile_input() {
    let advertised = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let stack = start(SnConfig {
        gateway_id: 9,
        advertise_interval: Some(Duration::from_secs(1)),
        advertise_address: Some(advertised.local_addr().unwrap()),
        ..SnConfig::default()
    })
    .await;
    let mut buf = [0u8; 64];
    let (n, _) = tokio::time::timeout(WAIT, advertised.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(Message::decode(&Bytes::copy_from_slice(&buf[..n])).unwrap(), Message::Advertise(a) if a.gw_id == 9)
    );

    let s = Sensor::new(stack.sn).await;
    s.send(&Message::SearchGw(SearchGw { radius: 1 })).await;
    assert!(matches!(s.recv().await, Message::GwInfo(g) if g.gw_id == 9));

    // A connected sensor keeps working while another address sends junk and unknown-peer traffic.
    s.connect("steady", true, 30).await;
    let junk = Sensor::new(stack.sn).await;
    for i in 0..500u16 {
        junk.send_raw(&[0x05, 0xEE, (i & 0xFF) as u8]).await;
        junk.send_raw(&[0x02]).await;
    }
    junk.send(&sn_publish(Topic::Id(1), QoS::AtLeastOnce, 1, b"?"))
        .await;
    assert_eq!(junk.recv().await, Message::Disconnect(Disconnect::default()));
    s.send(&Message::PingReq(PingReq::default())).await;
    assert_eq!(s.recv().await, Message::PingResp);
}

/// A fake forwarder: wraps a node's messages in Encapsulated Messages and unwraps the gateway's.
struct Forwarder {
    socket: Sensor,
}

impl Forwarder {
    async fn send(&self, node: &[u8], msg: Message) {
        self.socket
            .send(&Message::Encapsulated(Encapsulated {
                radius: 0,
                wireless_node_id: Bytes::copy_from_slice(node),
                message: Box::new(msg),
            }))
            .await;
    }

    /// The next message from the gateway, which must be encapsulated for `node`.
    async fn recv(&self, node: &[u8]) -> Message {
        match self.socket.recv().await {
            Message::Encapsulated(e) => {
                assert_eq!(&e.wireless_node_id[..], node);
                assert_eq!(e.radius, tern_broker_core::mqttsn::FORWARD_RADIUS);
                *e.message
            }
            other => panic!("encapsulated message expected, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn forwarded_node_qos1_publish_reaches_mqtt5_client_and_back() {
    let stack = start(SnConfig::default()).await;
    let mut sub = mqtt5(&stack, "tcp-fwd-sub").await;
    sub.subscribe([filter("mesh/#", MqttQoS::AtLeastOnce)])
        .await
        .unwrap();
    let fwd = Forwarder {
        socket: Sensor::new(stack.sn).await,
    };
    let node: &[u8] = &[0xBE, 0xEF];
    fwd.send(node, connect_msg("mesh-node", true, false, 30)).await;
    assert!(matches!(fwd.recv(node).await, Message::ConnAck { return_code } if return_code.is_accepted()));
    fwd.send(
        node,
        Message::Register(Register {
            topic_id: 0,
            msg_id: 1,
            topic_name: Utf8Bytes::from_static("mesh/temp"),
        }),
    )
    .await;
    let id = match fwd.recv(node).await {
        Message::RegAck(a) if a.return_code.is_accepted() => a.topic_id,
        other => panic!("REGACK expected, got {other:?}"),
    };
    fwd.send(node, sn_publish(Topic::Id(id), QoS::AtLeastOnce, 5, b"19.0"))
        .await;
    assert_eq!(
        fwd.recv(node).await,
        Message::PubAck(PubAck {
            topic_id: id,
            msg_id: 5,
            return_code: ReturnCode::Accepted
        })
    );
    let got = tokio::time::timeout(WAIT, sub.recv()).await.unwrap().unwrap();
    assert_eq!(
        (got.topic.as_str(), &got.payload[..], got.qos),
        ("mesh/temp", &b"19.0"[..], MqttQoS::AtLeastOnce)
    );

    // And back: the MQTT client publishes to the node's short topic; the forwarder gets it wrapped.
    fwd.send(
        node,
        Message::Subscribe(Subscribe {
            dup: false,
            qos: QoS::AtLeastOnce,
            msg_id: 2,
            topic: TopicFilter::Short(*b"mc"),
        }),
    )
    .await;
    assert!(matches!(fwd.recv(node).await, Message::SubAck(a) if a.return_code.is_accepted()));
    sub.publish("mc", &b"blink"[..], MqttQoS::AtLeastOnce, false)
        .await
        .unwrap();
    let p = match fwd.recv(node).await {
        Message::Publish(p) => p,
        other => panic!("PUBLISH expected, got {other:?}"),
    };
    assert_eq!(
        (p.topic, p.qos, &p.payload[..]),
        (Topic::Short(*b"mc"), QoS::AtLeastOnce, &b"blink"[..])
    );
    fwd.send(
        node,
        Message::PubAck(PubAck {
            topic_id: 0,
            msg_id: p.msg_id,
            return_code: ReturnCode::Accepted,
        }),
    )
    .await;
    assert!(
        fwd.socket.recv_within(Duration::from_millis(300)).await.is_none(),
        "acknowledged: no retransmission"
    );
}
