//! Back-pressure end to end over TCP: a QoS 1 publisher writing as fast as the socket takes into a
//! subscriber that reads slowly loses nothing, because the broker stops reading the publisher while the
//! subscriber's queue is past its high watermark (without it, the 100-message queue refused most of them).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use bytes::{Bytes, BytesMut};
use common::{Raw, start_with};
use std::num::NonZeroU16;
use std::time::Duration;
use tern_broker::CoreConfig;
use tern_mqtt_codec::{
    ByteStr, Connect, ConnectProperties, Packet, ProtocolVersion, PubAck, Publish, PublishProperties, QoS,
    ReasonCode, Subscribe, SubscribeFilter, SubscribeProperties, SubscriptionOptions,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const V: ProtocolVersion = ProtocolVersion::V3_1_1;
const MESSAGES: u16 = 3000;

async fn connected(addr: std::net::SocketAddr, id: &str) -> Raw {
    let mut raw = Raw::connect(addr, V).await;
    raw.send(&Packet::Connect(Box::new(Connect {
        protocol: V,
        clean_start: true,
        keep_alive: 60,
        client_id: ByteStr::from(id),
        will: None,
        username: None,
        password: None,
        properties: ConnectProperties::default(),
    })))
    .await;
    match raw.recv().await {
        Some(Packet::ConnAck(ack)) => assert_eq!(ack.reason_code, ReasonCode::Success),
        other => panic!("expected CONNACK, got {other:?}"),
    }
    raw
}

#[tokio::test]
async fn fast_qos1_publisher_into_a_slow_subscriber_loses_nothing() {
    let (_broker, addr) = start_with(CoreConfig {
        max_queued_messages: 100,
        sys_interval: None,
        // Only the subscriber's draining resumes the publisher in this test, however slow the machine.
        publisher_pause: Duration::from_secs(3600),
        ..CoreConfig::default()
    })
    .await;
    let mut sub = connected(addr, "bp-slow-sub").await;
    sub.send(&Packet::Subscribe(Subscribe {
        packet_id: NonZeroU16::new(1).unwrap(),
        properties: SubscribeProperties::default(),
        filters: vec![SubscribeFilter {
            filter: ByteStr::from("bp/e2e"),
            options: SubscriptionOptions {
                qos: QoS::AtLeastOnce,
                ..Default::default()
            },
        }],
    }))
    .await;
    assert!(matches!(sub.recv().await, Some(Packet::SubAck(_))));

    // The publisher writes every message at once, without waiting for PUBACKs (drained on the side).
    let publisher = connected(addr, "bp-fast-pub").await;
    let mut flood = BytesMut::new();
    for i in 1..=MESSAGES {
        let p = Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: false,
            topic: ByteStr::from("bp/e2e"),
            packet_id: NonZeroU16::new(i),
            properties: PublishProperties::default(),
            payload: Bytes::from(i.to_string()),
        });
        tern_mqtt_codec::encode_packet(&p, V, &mut flood).unwrap();
    }
    let (mut pub_rd, mut pub_wr) = publisher.stream.into_split();
    let writer = tokio::spawn(async move {
        pub_wr.write_all(&flood).await.unwrap();
        pub_wr
    });
    let acks = tokio::spawn(async move {
        let mut sink = vec![0u8; 4096];
        while let Ok(n) = pub_rd.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    });

    // The subscriber reads slowly: a pause every 10 messages, each acknowledged.
    for expected in 1..=MESSAGES {
        let p = loop {
            match sub.recv().await.expect("the broker kept the subscriber") {
                Packet::Publish(p) => break p,
                _ => continue,
            }
        };
        assert_eq!(
            p.payload,
            Bytes::from(expected.to_string()),
            "in order, none lost"
        );
        sub.send(&Packet::PubAck(PubAck::new(p.packet_id.unwrap()))).await;
        if expected % 10 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let _pub_wr = writer.await.unwrap();
    acks.abort();
}
