//! What QUIC gives mobile clients, each shown over loopback: connection migration, session resumption and
//! 0-RTT, and the idle timeout / keep alive settings.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use bytes::Bytes;
use common::{WAIT, options, quic_client, recv, start, start_with, tcp_client};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tern_client::{Client, QoS, ReasonCode, filter};
use tern_transport_quic::QuicListenerConfig;

#[tokio::test]
async fn a_client_whose_socket_is_rebound_keeps_its_mqtt_session() {
    let server = start().await;
    let quic = quic_client(&server.cert, b"mqtt");
    let (conn, mut sub) = quic.mqtt(server.quic, "roamer").await;
    sub.subscribe([filter("roam/#", QoS::AtLeastOnce)]).await.unwrap();
    let publ = tcp_client(server.tcp, "roam-pub").await;
    publ.publish("roam/before", "1", QoS::AtLeastOnce, false)
        .await
        .unwrap();
    assert_eq!(recv(&mut sub).await.payload, Bytes::from("1"));

    // The phone changes network: same QUIC connection, new local address.
    let before = quic.endpoint.local_addr().unwrap();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    quic.endpoint.rebind(socket).unwrap();
    let after = quic.endpoint.local_addr().unwrap();
    assert_ne!(before.port(), after.port());

    // Downstream first: the server learns the new path from the client's next packet (its keep alive
    // PING, 1 s) and the message follows it there.
    publ.publish("roam/after", "2", QoS::AtLeastOnce, false)
        .await
        .unwrap();
    assert_eq!(recv(&mut sub).await.payload, Bytes::from("2"));
    // Upstream too, on the same MQTT connection.
    let mut echo = tcp_client(server.tcp, "roam-echo").await;
    echo.subscribe([filter("roam/up", QoS::AtLeastOnce)])
        .await
        .unwrap();
    assert!(
        sub.publish("roam/up", "3", QoS::AtLeastOnce, false)
            .await
            .unwrap()
            .is_success()
    );
    assert_eq!(recv(&mut echo).await.payload, Bytes::from("3"));

    assert!(!sub.is_closed(), "no reconnect happened");
    assert!(
        conn.close_reason().is_none(),
        "the QUIC connection survived the rebind"
    );
    assert_eq!(
        server.stats.handshakes(),
        1,
        "one handshake for the whole session"
    );
}

#[tokio::test]
async fn a_reconnecting_client_resumes_its_tls_session() {
    let server = start_with(QuicListenerConfig {
        zero_rtt: false,
        ..QuicListenerConfig::default()
    })
    .await;
    let quic = quic_client(&server.cert, b"mqtt");
    let (conn, client) = quic.mqtt(server.quic, "resume").await;
    // Tickets arrive after the handshake; wait until the client holds one.
    common::eventually("a session ticket", || {
        quic.sessions.issued.load(Ordering::SeqCst) > 0
    })
    .await;
    client.disconnect(ReasonCode::NormalDisconnection).await.unwrap();
    let _ = tokio::time::timeout(WAIT, conn.closed()).await;
    assert_eq!(
        quic.sessions.taken.load(Ordering::SeqCst),
        0,
        "first handshake was a full one"
    );

    // The second handshake offers the ticket; without 0-RTT the client must wait for the handshake.
    let connecting = quic.endpoint.connect(server.quic, "localhost").unwrap();
    let connecting = match connecting.into_0rtt() {
        Ok(_) => panic!("0-RTT must not be offered when the listener disables it"),
        Err(connecting) => connecting,
    };
    let conn = tokio::time::timeout(WAIT, connecting).await.unwrap().unwrap();
    assert_eq!(
        quic.sessions.taken.load(Ordering::SeqCst),
        1,
        "second handshake resumed"
    );
    let (send, recv) = conn.open_bi().await.unwrap();
    let (_client, ack) = Client::connect_stream(tokio::io::join(recv, send), options("resume"))
        .await
        .unwrap();
    assert!(ack.reason_code.is_success());
}

#[tokio::test]
async fn zero_rtt_connect_is_accepted_and_served_after_the_handshake() {
    let server = start().await;
    let quic = quic_client(&server.cert, b"mqtt");
    let (conn, client) = quic.mqtt(server.quic, "early").await;
    common::eventually("a session ticket", || {
        quic.sessions.issued.load(Ordering::SeqCst) > 0
    })
    .await;
    client.disconnect(ReasonCode::NormalDisconnection).await.unwrap();
    let _ = tokio::time::timeout(WAIT, conn.closed()).await;

    let mut watcher = tcp_client(server.tcp, "early-watch").await;
    watcher
        .subscribe([filter("early/#", QoS::AtLeastOnce)])
        .await
        .unwrap();

    // CONNECT and a PUBLISH go out as 0-RTT data with the first flight.
    let connecting = quic.endpoint.connect(server.quic, "localhost").unwrap();
    let (conn, accepted) = connecting.into_0rtt().map_err(|_| "no 0-RTT ticket").unwrap();
    let (send, recv) = conn.open_bi().await.unwrap();
    let connect = Client::connect_stream(tokio::io::join(recv, send), options("early"));
    let (client, ack) = tokio::time::timeout(WAIT, connect).await.unwrap().unwrap();
    assert!(ack.reason_code.is_success());
    assert!(
        tokio::time::timeout(WAIT, accepted).await.unwrap(),
        "server accepted 0-RTT"
    );
    assert_eq!(quic.sessions.taken.load(Ordering::SeqCst), 1, "resumed");
    client
        .publish("early/hello", "hi", QoS::AtLeastOnce, false)
        .await
        .unwrap();
    assert_eq!(recv_payload(&mut watcher).await, Bytes::from("hi"));
}

async fn recv_payload(c: &mut Client) -> Bytes {
    recv(c).await.payload
}

#[tokio::test]
async fn idle_timeout_closes_a_silent_peer_and_keep_alive_holds_a_quiet_one() {
    let server = start_with(QuicListenerConfig {
        idle_timeout: Duration::from_millis(600),
        keep_alive_interval: None,
        ..QuicListenerConfig::default()
    })
    .await;
    // A client that sends QUIC PINGs (1 s) but a shorter idle timeout is ours: it stays up only if
    // something keeps the path busy. Ours: the server sends no keep alive here, the client pings every
    // second, which exceeds 600 ms, so the connection idles out.
    let quic = quic_client(&server.cert, b"mqtt");
    let (conn, _client) = quic.mqtt(server.quic, "idle").await;
    let closed = tokio::time::timeout(WAIT, conn.closed())
        .await
        .expect("idle timeout fired");
    assert!(matches!(closed, quinn::ConnectionError::TimedOut), "{closed}");

    // With the server's keep alive (200 ms) under the idle timeout, a quiet MQTT client stays connected.
    let server = start_with(QuicListenerConfig {
        idle_timeout: Duration::from_millis(600),
        keep_alive_interval: Some(Duration::from_millis(200)),
        ..QuicListenerConfig::default()
    })
    .await;
    let quic = quic_client(&server.cert, b"mqtt");
    let (conn, client) = quic.mqtt(server.quic, "kept").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(conn.close_reason().is_none(), "keep alive held the connection");
    assert!(!client.is_closed());
}
