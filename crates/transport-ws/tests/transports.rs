//! The same MQTT scenarios over every stream transport (tcp, tls, ws, wss), and a client moving between
//! transports with its session. The broker is identical behind each; only the frontend differs.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use bytes::Bytes;
use common::{ALL, Kind, Rig, WAIT, nothing, recv};
use std::time::Duration;
use tern_client::{
    ConnectProperties, Packet, ProtocolVersion, QoS, ReasonCode, Will, WillProperties, filter,
};

#[tokio::test]
async fn pubsub_at_every_qos_over_every_transport() {
    let rig = Rig::start().await;
    for kind in ALL {
        let mut sub = rig.client(kind, &format!("sub-{kind:?}")).await;
        let publisher = rig.client(kind, &format!("pub-{kind:?}")).await;
        let topic = format!("t/{kind:?}/qos");
        let ack = sub
            .subscribe([filter(topic.clone(), QoS::ExactlyOnce)])
            .await
            .unwrap();
        assert_eq!(ack.reason_codes, vec![ReasonCode::GrantedQoS2], "{kind:?}");
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let payload = format!("{kind:?} at {qos:?}");
            let out = publisher
                .publish(topic.clone(), payload.clone(), qos, false)
                .await
                .unwrap();
            assert!(out.is_success(), "{kind:?} {qos:?}: {out:?}");
            let got = recv(&mut sub).await;
            assert_eq!(
                (got.topic.as_str(), got.qos, &got.payload[..]),
                (topic.as_str(), qos, payload.as_bytes())
            );
        }
        // A payload bigger than any single read or frame: it arrives whole.
        let big = Bytes::from(vec![7u8; 200_000]);
        publisher
            .publish(topic.clone(), big.clone(), QoS::AtLeastOnce, false)
            .await
            .unwrap();
        assert_eq!(recv(&mut sub).await.payload, big, "{kind:?}");
    }
}

#[tokio::test]
async fn retained_messages_over_every_transport() {
    let rig = Rig::start().await;
    for kind in ALL {
        let topic = format!("r/{kind:?}");
        let publisher = rig.client(kind, &format!("rp-{kind:?}")).await;
        publisher
            .publish(topic.clone(), "kept", QoS::AtLeastOnce, true)
            .await
            .unwrap();
        let mut late = rig.client(kind, &format!("rs-{kind:?}")).await;
        late.subscribe([filter(topic.clone(), QoS::AtLeastOnce)])
            .await
            .unwrap();
        let got = recv(&mut late).await;
        assert!(got.retain, "{kind:?}");
        assert_eq!(&got.payload[..], b"kept");
    }
}

#[tokio::test]
async fn will_is_published_when_the_connection_drops_over_every_transport() {
    let rig = Rig::start().await;
    for kind in ALL {
        let topic = format!("will/{kind:?}");
        let mut watcher = rig.client(Kind::Tcp, &format!("ww-{kind:?}")).await;
        watcher
            .subscribe([filter(topic.clone(), QoS::AtLeastOnce)])
            .await
            .unwrap();
        let mut raw = rig.raw(kind).await;
        let connect = tern_mqtt_codec::Connect {
            protocol: ProtocolVersion::V5,
            clean_start: true,
            keep_alive: 30,
            client_id: format!("dying-{kind:?}").into(),
            will: Some(Will {
                topic: topic.clone().into(),
                payload: Bytes::from_static(b"gone"),
                qos: QoS::AtLeastOnce,
                retain: false,
                properties: WillProperties::default(),
            }),
            username: None,
            password: None,
            properties: ConnectProperties::default(),
        };
        raw.send(&Packet::Connect(Box::new(connect)), ProtocolVersion::V5)
            .await
            .unwrap();
        match raw.recv_packet(WAIT).await.unwrap() {
            Some(Packet::ConnAck(a)) => assert!(a.reason_code.is_success(), "{kind:?}"),
            other => panic!("{kind:?}: expected CONNACK, got {other:?}"),
        }
        drop(raw); // no DISCONNECT: the will must go out
        let got = recv(&mut watcher).await;
        assert_eq!(&got.payload[..], b"gone", "{kind:?}");
    }
}

#[tokio::test]
async fn session_resumes_over_every_transport() {
    let rig = Rig::start().await;
    for kind in ALL {
        let id = format!("persistent-{kind:?}");
        let topic = format!("s/{kind:?}");
        let persistent = |rig: &Rig| rig.options(kind, &id).clean_start(false).session_expiry(300);
        let (c, ack) = tern_client::Client::connect(persistent(&rig)).await.unwrap();
        assert!(!ack.session_present);
        c.subscribe([filter(topic.clone(), QoS::AtLeastOnce)])
            .await
            .unwrap();
        c.disconnect(ReasonCode::Success).await.unwrap();
        drop(c);

        let publisher = rig.client(Kind::Tcp, &format!("sp-{kind:?}")).await;
        publisher
            .publish(topic.clone(), "while away", QoS::AtLeastOnce, false)
            .await
            .unwrap();

        let (mut c, ack) = tern_client::Client::connect(persistent(&rig)).await.unwrap();
        assert!(ack.session_present, "{kind:?}");
        let got = recv(&mut c).await;
        assert_eq!(&got.payload[..], b"while away", "{kind:?}");
    }
}

#[tokio::test]
async fn a_session_moves_between_transports_with_its_queued_messages() {
    let rig = Rig::start().await;
    let publisher = rig.client(Kind::Tcp, "mover-pub").await;
    let path = [Kind::Tcp, Kind::Ws, Kind::Wss, Kind::Tls, Kind::Tcp];
    let connect = |kind: Kind| {
        tern_client::Client::connect(rig.options(kind, "mover").clean_start(false).session_expiry(300))
    };
    let (first, _) = connect(path[0]).await.unwrap();
    first
        .subscribe([filter("move/#", QoS::AtLeastOnce)])
        .await
        .unwrap();
    first.disconnect(ReasonCode::Success).await.unwrap();
    drop(first);
    for (i, kind) in path.iter().copied().enumerate().skip(1) {
        for n in 0..3 {
            let out = publisher
                .publish(format!("move/{i}"), format!("{i}.{n}"), QoS::AtLeastOnce, false)
                .await
                .unwrap();
            assert!(out.is_success());
        }
        let (mut c, ack) = connect(kind).await.unwrap();
        assert!(ack.session_present, "resumed over {kind:?}");
        for n in 0..3 {
            let got = recv(&mut c).await;
            assert_eq!(got.payload, Bytes::from(format!("{i}.{n}")), "over {kind:?}");
        }
        nothing(&mut c, Duration::from_millis(100)).await;
        c.disconnect(ReasonCode::Success).await.unwrap();
    }
}
