//! What the listener does with input it must not serve: garbage datagrams, a wrong ALPN, extra streams.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use bytes::Bytes;
use common::{Logs, WAIT, quic_client, recv, start, tcp_client};
use tern_client::{QoS, filter};
use tern_transport_quic::AppCode;

#[tokio::test]
async fn garbage_datagrams_are_counted_logged_and_harmless() {
    let (logs, _guard) = Logs::capture();
    let server = start().await;
    let quic = quic_client(&server.cert, b"mqtt");
    let (_conn, mut sub) = quic.mqtt(server.quic, "steady").await;
    sub.subscribe([filter("steady", QoS::AtLeastOnce)]).await.unwrap();

    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut short_initial = vec![0xc0, 0, 0, 0, 1];
    short_initial.resize(100, 0);
    let garbage: [&[u8]; 4] = [
        b"",
        b"\x10\x0c\x00\x04MQTT\x05\x02\x00\x3c",
        &[0x00; 1200],
        &short_initial,
    ];
    for d in garbage {
        udp.send_to(d, server.quic).await.unwrap();
    }
    // Noise quinn treats as packets for unknown connections: dropped too, not counted.
    udp.send_to(&[0x5a; 64], server.quic).await.unwrap();
    // The empty datagram may never reach the endpoint (a zero-length read); the other three must count.
    common::eventually("garbage counted", || server.stats.non_quic_datagrams() >= 3).await;

    let publ = tcp_client(server.tcp, "steady-pub").await;
    publ.publish("steady", "still here", QoS::AtLeastOnce, false)
        .await
        .unwrap();
    assert_eq!(recv(&mut sub).await.payload, Bytes::from("still here"));
    assert!(!sub.is_closed());
    assert!(logs.text().contains("is not QUIC v1"), "{}", logs.text());
}

#[tokio::test]
async fn a_client_with_the_wrong_alpn_is_refused_with_a_clear_log_line() {
    let (logs, _guard) = Logs::capture();
    let server = start().await;
    let h3 = quic_client(&server.cert, b"h3");
    let attempt = h3.endpoint.connect(server.quic, "localhost").unwrap();
    let err = tokio::time::timeout(WAIT, attempt)
        .await
        .unwrap()
        .expect_err("must be refused");
    assert!(err.to_string().to_lowercase().contains("protocol"), "{err}");
    common::eventually("ALPN refusal counted", || server.stats.alpn_refused() == 1).await;
    assert!(
        logs.text()
            .contains("offered no ALPN protocol this listener speaks"),
        "{}",
        logs.text()
    );
    assert_eq!(server.stats.handshakes(), 0);
}

#[tokio::test]
async fn streams_beyond_the_first_are_reset_with_stream_refused() {
    let (logs, _guard) = Logs::capture();
    let server = start().await;
    let quic = quic_client(&server.cert, b"mqtt");
    let (conn, mut client) = quic.mqtt(server.quic, "multi").await;

    // What an EMQX multi-stream client does: a data stream next to the control stream.
    let (mut send, mut recv_half) = conn.open_bi().await.unwrap();
    send.write_all(b"\x30\x07\x00\x03a/b\x00hi").await.unwrap();
    let read = tokio::time::timeout(WAIT, recv_half.read_to_end(1024))
        .await
        .unwrap();
    match read {
        Err(quinn::ReadToEndError::Read(quinn::ReadError::Reset(code))) => {
            assert_eq!(code, AppCode::StreamRefused.varint())
        }
        other => panic!("expected a reset with STREAM_REFUSED, got {other:?}"),
    }
    assert_eq!(server.stats.streams_refused(), 1);
    assert!(
        logs.text().contains("multi-stream mode is not supported"),
        "{}",
        logs.text()
    );

    // The MQTT connection on the first stream is unaffected.
    client
        .subscribe([filter("multi/ok", QoS::AtLeastOnce)])
        .await
        .unwrap();
    client
        .publish("multi/ok", "fine", QoS::AtLeastOnce, false)
        .await
        .unwrap();
    assert_eq!(recv(&mut client).await.payload, Bytes::from("fine"));
}

#[tokio::test]
async fn a_connection_that_opens_no_stream_is_closed_with_no_stream() {
    let server = common::start_with(tern_transport_quic::QuicListenerConfig {
        handshake_timeout: std::time::Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let quic = quic_client(&server.cert, b"mqtt");
    let conn = tokio::time::timeout(WAIT, quic.endpoint.connect(server.quic, "localhost").unwrap())
        .await
        .unwrap()
        .unwrap();
    match tokio::time::timeout(WAIT, conn.closed()).await.unwrap() {
        quinn::ConnectionError::ApplicationClosed(c) => {
            assert_eq!(c.error_code, AppCode::NoStream.varint())
        }
        other => panic!("expected NO_STREAM, got {other}"),
    }
    assert_eq!(server.broker.live_connections(), 0);
}

#[tokio::test]
async fn connections_over_connection_rate_are_refused_before_the_handshake() {
    let server = common::start_with(tern_transport_quic::QuicListenerConfig {
        connection_rate: Some(1),
        ..Default::default()
    })
    .await;
    let quic = quic_client(&server.cert, b"mqtt");
    // Burst 1, refilling at 1/s: within 20 attempts (well under a second each on loopback) one is refused.
    let (_first, client) = quic.mqtt(server.quic, "first").await;
    let mut refused = None;
    for _ in 0..20 {
        let attempt = quic.endpoint.connect(server.quic, "localhost").unwrap();
        match tokio::time::timeout(WAIT, attempt).await.unwrap() {
            Ok(conn) => conn.close(0u32.into(), b""),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let err = refused.expect("a connection over the rate is refused");
    assert!(
        matches!(&err, quinn::ConnectionError::ConnectionClosed(c) if c.error_code == quinn::TransportErrorCode::CONNECTION_REFUSED),
        "{err:?}"
    );
    assert!(server.stats.refused_rate() >= 1);
    // A refusal costs the listener no handshake, and connected clients keep working.
    assert!(!client.is_closed());
    client
        .publish("still/here", "x", QoS::AtLeastOnce, false)
        .await
        .unwrap();
}
