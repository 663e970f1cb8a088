//! The client against the in-test fake server over loopback: handshake, QoS flows both ways, pipelining,
//! keep alive, and every way a server can fail (refuse, stay silent, disconnect, never ack).

mod fake_server;

use fake_server::{Behavior, FakeServer, STEP};
use std::time::Duration;
use tern_client::{
    Client, ConnectOptions, ErrorKind, Packet, ProtocolVersion, Publish, PublishProperties, QoS,
    RawConnection, ReasonCode, filter,
};
use tokio::time::timeout;

fn opts(server: &FakeServer, version: ProtocolVersion) -> ConnectOptions {
    ConnectOptions::new(server.url())
        .client_id("t")
        .protocol(version)
        .timeout(STEP)
}

async fn recv(client: &mut Client) -> Publish {
    timeout(STEP, client.recv())
        .await
        .expect("recv timed out")
        .expect("connection closed")
}

#[tokio::test]
async fn publishes_at_every_qos_and_receives_the_echo() {
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let server = FakeServer::start(Behavior::default()).await;
        let (mut client, connack) = Client::connect(opts(&server, version)).await.expect("connect");
        assert_eq!(connack.reason_code, ReasonCode::Success);
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let outcome = client.publish("a/b", "hello", qos, false).await.expect("publish");
            assert!(outcome.is_success(), "{version:?} {qos:?}: {outcome:?}");
            let msg = recv(&mut client).await;
            assert_eq!(
                (&*msg.topic, &msg.payload[..], msg.qos),
                ("a/b", &b"hello"[..], qos)
            );
        }
        client
            .disconnect(ReasonCode::NormalDisconnection)
            .await
            .expect("disconnect");
        assert!(timeout(STEP, client.recv()).await.expect("closes").is_none());
        assert_eq!(
            client.close_reason().map(|e| e.kind()),
            Some(ErrorKind::ConnectionClosed)
        );
        assert!(server.wait_for(1, |p| matches!(p, Packet::Disconnect(_))).await);
        // The server saw PUBACK for the QoS 1 echo and PUBREC/PUBCOMP for the QoS 2 one.
        assert_eq!(server.count(|p| matches!(p, Packet::PubAck(_))), 1);
        assert_eq!(server.count(|p| matches!(p, Packet::PubRec(_))), 1);
        assert_eq!(server.count(|p| matches!(p, Packet::PubComp(_))), 1);
    }
}

#[tokio::test]
async fn inbound_qos2_is_delivered_exactly_once() {
    let server = FakeServer::start(Behavior {
        duplicate_qos2: true,
        ..Behavior::default()
    })
    .await;
    let (mut client, _) = Client::connect(opts(&server, ProtocolVersion::V5))
        .await
        .expect("connect");
    client
        .publish("once", "1", QoS::ExactlyOnce, false)
        .await
        .expect("publish");
    client
        .publish("marker", "2", QoS::AtMostOnce, false)
        .await
        .expect("publish");
    assert_eq!(&*recv(&mut client).await.topic, "once");
    assert_eq!(
        &*recv(&mut client).await.topic,
        "marker",
        "the duplicate QoS 2 publish was delivered twice"
    );
    // Both copies were answered with PUBREC.
    assert_eq!(server.count(|p| matches!(p, Packet::PubRec(_))), 2);
}

#[tokio::test]
async fn publish_with_properties_round_trips() {
    let server = FakeServer::start(Behavior::default()).await;
    let (mut client, _) = Client::connect(opts(&server, ProtocolVersion::V5))
        .await
        .expect("connect");
    let properties = PublishProperties {
        user_properties: vec![("k".into(), "v".into())],
        content_type: Some("text/plain".into()),
        ..PublishProperties::default()
    };
    let publish = Publish {
        dup: false,
        qos: QoS::AtLeastOnce,
        retain: true,
        topic: "p".into(),
        packet_id: None,
        properties: properties.clone(),
        payload: "x".into(),
    };
    client.publish_with(publish).await.expect("publish");
    let msg = recv(&mut client).await;
    assert!(msg.retain);
    assert_eq!(msg.properties, properties);
}

#[tokio::test]
async fn failure_reason_code_of_a_puback_is_reported() {
    let server = FakeServer::start(Behavior {
        ack_reason: ReasonCode::NotAuthorized,
        echo: false,
        ..Behavior::default()
    })
    .await;
    let (client, _) = Client::connect(opts(&server, ProtocolVersion::V5))
        .await
        .expect("connect");
    let q1 = client
        .publish("t", "x", QoS::AtLeastOnce, false)
        .await
        .expect("publish");
    assert_eq!(q1.reason_code, ReasonCode::NotAuthorized);
    // A failed PUBREC ends the QoS 2 flow without PUBREL.
    let q2 = client
        .publish("t", "x", QoS::ExactlyOnce, false)
        .await
        .expect("publish");
    assert_eq!(q2.reason_code, ReasonCode::NotAuthorized);
    assert_eq!(server.count(|p| matches!(p, Packet::PubRel(_))), 0);
}

#[tokio::test]
async fn pipelined_publishes_respect_the_window() {
    // The server acks only when 8 are outstanding: a client that waited for each ack would hang.
    let server = FakeServer::start(Behavior {
        ack_batch: 8,
        echo: false,
        ..Behavior::default()
    })
    .await;
    let (client, _) = Client::connect(opts(&server, ProtocolVersion::V5).max_inflight(8))
        .await
        .expect("connect");
    let mut pending = Vec::new();
    for i in 0..400u32 {
        let publish = Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: false,
            topic: "bench".into(),
            packet_id: None,
            properties: PublishProperties::default(),
            payload: i.to_be_bytes().to_vec().into(),
        };
        pending.push(client.publish_nowait(publish).await.expect("queue"));
    }
    for p in pending {
        assert!(p.wait().await.expect("ack").is_success());
    }
    let max = server.seen.lock().expect("lock").max_outstanding;
    assert_eq!(max, 8, "the window is 8");
}

#[tokio::test]
async fn server_receive_maximum_caps_the_window() {
    let server = FakeServer::start(Behavior {
        ack_batch: 3,
        receive_maximum: Some(3),
        echo: false,
        ..Behavior::default()
    })
    .await;
    let (client, _) = Client::connect(opts(&server, ProtocolVersion::V5).max_inflight(100))
        .await
        .expect("connect");
    let mut pending = Vec::new();
    for _ in 0..30 {
        pending.push(client.publish_nowait(publish_q1()).await.expect("queue"));
    }
    for p in pending {
        p.wait().await.expect("ack");
    }
    assert_eq!(server.seen.lock().expect("lock").max_outstanding, 3);
}

fn publish_q1() -> Publish {
    Publish {
        dup: false,
        qos: QoS::AtLeastOnce,
        retain: false,
        topic: "t".into(),
        packet_id: None,
        properties: PublishProperties::default(),
        payload: "x".into(),
    }
}

#[tokio::test]
async fn subscribe_and_unsubscribe_return_the_acks() {
    let server = FakeServer::start(Behavior::default()).await;
    let (client, _) = Client::connect(opts(&server, ProtocolVersion::V5))
        .await
        .expect("connect");
    let suback = client
        .subscribe([filter("a/#", QoS::AtLeastOnce), filter("b", QoS::ExactlyOnce)])
        .await
        .expect("sub");
    assert_eq!(
        suback.reason_codes,
        vec![ReasonCode::GrantedQoS1, ReasonCode::GrantedQoS2]
    );
    let unsuback = client.unsubscribe(["a/#"]).await.expect("unsub");
    assert_eq!(unsuback.reason_codes, vec![ReasonCode::Success]);
    let err = client
        .subscribe([filter("a/#/b", QoS::AtMostOnce)])
        .await
        .expect_err("invalid filter");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("MQTT-4.7.1-2"), "{err}");
    let err = client
        .publish("a/+", "x", QoS::AtMostOnce, false)
        .await
        .expect_err("wildcard in a name");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let no_filters: [&str; 0] = [];
    assert_eq!(
        client.unsubscribe(no_filters).await.expect_err("empty").kind(),
        ErrorKind::InvalidArgument
    );
}

#[tokio::test]
async fn refused_connack_is_an_error_with_the_code() {
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let server = FakeServer::start(Behavior {
            connack_code: ReasonCode::NotAuthorized,
            ..Behavior::default()
        })
        .await;
        let err = Client::connect(opts(&server, version))
            .await
            .expect_err("refused");
        assert_eq!(err.kind(), ErrorKind::ConnectRefused, "{err}");
        assert_eq!(err.reason_code(), Some(ReasonCode::NotAuthorized), "{version:?}");
        assert!(err.to_string().contains("NotAuthorized"), "{err}");
    }
}

#[tokio::test]
async fn silent_server_times_out_instead_of_hanging() {
    let server = FakeServer::start(Behavior {
        silent: true,
        ..Behavior::default()
    })
    .await;
    let o = opts(&server, ProtocolVersion::V5).timeout(Duration::from_millis(300));
    let err = timeout(STEP, Client::connect(o))
        .await
        .expect("bounded")
        .expect_err("no CONNACK");
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
}

#[tokio::test]
async fn unacknowledged_publish_times_out() {
    let server = FakeServer::start(Behavior {
        ack_publishes: false,
        echo: false,
        ..Behavior::default()
    })
    .await;
    let o = opts(&server, ProtocolVersion::V5).timeout(Duration::from_millis(300));
    let (client, _) = Client::connect(o).await.expect("connect");
    let err = timeout(STEP, client.publish("t", "x", QoS::AtLeastOnce, false))
        .await
        .expect("bounded")
        .expect_err("no ack");
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
}

#[tokio::test]
async fn refused_tcp_connection_is_an_io_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let err = Client::connect(ConnectOptions::new(format!("mqtt://{addr}")).timeout(STEP))
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert_eq!(err.io_error_kind(), Some(std::io::ErrorKind::ConnectionRefused));
}

#[tokio::test]
async fn tls_and_websocket_to_a_closed_port_are_io_errors() {
    for url in ["mqtts://127.0.0.1:1", "ws://127.0.0.1:1", "wss://127.0.0.1:1"] {
        let err = Client::connect(ConnectOptions::new(url))
            .await
            .expect_err("refused");
        assert_eq!(err.kind(), ErrorKind::Io, "{url}: {err}");
    }
}

#[tokio::test]
async fn keep_alive_pings_and_detects_a_dead_server() {
    let server = FakeServer::start(Behavior::default()).await;
    let o = opts(&server, ProtocolVersion::V3_1_1).keep_alive(Duration::from_secs(1));
    let (client, _) = Client::connect(o).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(2300)).await;
    assert!(server.count(|p| matches!(p, Packet::PingReq)) >= 2);
    assert!(!client.is_closed());

    let server = FakeServer::start(Behavior {
        answer_pings: false,
        ..Behavior::default()
    })
    .await;
    let o = opts(&server, ProtocolVersion::V3_1_1)
        .keep_alive(Duration::from_secs(1))
        .timeout(Duration::from_millis(300));
    let (mut client, _) = Client::connect(o).await.expect("connect");
    assert!(timeout(STEP, client.recv()).await.expect("bounded").is_none());
    assert_eq!(client.close_reason().map(|e| e.kind()), Some(ErrorKind::Timeout));
}

#[tokio::test]
async fn server_disconnect_ends_the_connection_with_its_reason() {
    let server = FakeServer::start(Behavior {
        disconnect_after_connack: Some(ReasonCode::ServerShuttingDown),
        ..Behavior::default()
    })
    .await;
    let (mut client, _) = Client::connect(opts(&server, ProtocolVersion::V5))
        .await
        .expect("connect");
    assert!(timeout(STEP, client.recv()).await.expect("bounded").is_none());
    let reason = client.close_reason().expect("closed");
    assert_eq!(reason.kind(), ErrorKind::ServerDisconnected);
    assert_eq!(reason.reason_code(), Some(ReasonCode::ServerShuttingDown));
    let err = client
        .publish("t", "x", QoS::AtMostOnce, false)
        .await
        .expect_err("closed");
    assert_eq!(err.kind(), ErrorKind::ServerDisconnected);
}

#[tokio::test]
async fn dropping_the_client_disconnects_politely() {
    let server = FakeServer::start(Behavior::default()).await;
    let (client, _) = Client::connect(opts(&server, ProtocolVersion::V5))
        .await
        .expect("connect");
    drop(client);
    assert!(
        server.wait_for(1, |p| matches!(p, Packet::Disconnect(_))).await,
        "no DISCONNECT after drop"
    );
}

#[tokio::test]
async fn raw_connection_sends_packets_and_bytes() {
    let server = FakeServer::start(Behavior::default()).await;
    let mut raw = RawConnection::connect(&server.url()).await.expect("raw connect");
    let connect = tern_mqtt_codec::Connect {
        protocol: ProtocolVersion::V3_1_1,
        clean_start: true,
        keep_alive: 0,
        client_id: "raw".into(),
        will: None,
        username: None,
        password: None,
        properties: Default::default(),
    };
    raw.send(&Packet::Connect(Box::new(connect)), ProtocolVersion::V3_1_1)
        .await
        .expect("send");
    match raw.recv_packet(STEP).await.expect("recv") {
        Some(Packet::ConnAck(ack)) => assert_eq!(ack.reason_code, ReasonCode::Success),
        other => panic!("expected CONNACK, got {other:?}"),
    }
    raw.send(&Packet::PingReq, ProtocolVersion::V3_1_1)
        .await
        .expect("send");
    assert_eq!(raw.recv_packet(STEP).await.expect("recv"), Some(Packet::PingResp));
    // Nothing more: recv times out rather than hanging.
    let err = raw
        .recv_packet(Duration::from_millis(100))
        .await
        .expect_err("nothing sent");
    assert_eq!(err.kind(), ErrorKind::Timeout);
    // Packet type 0 is malformed: the fake server drops the connection.
    raw.send_bytes(&[0x00, 0x00]).await.expect("send bytes");
    assert_eq!(raw.expect_closed(STEP).await.expect("closed"), None);
}
