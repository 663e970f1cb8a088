//! End to end over real QUIC on loopback: tern-client over a quinn stream against the whole broker.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use bytes::Bytes;
use common::{WAIT, options, quic_client, recv, start, tcp_client};
use std::time::Duration;
use tern_client::{QoS, ReasonCode, Will, WillProperties, filter};

#[tokio::test]
async fn publish_subscribe_at_every_qos_over_quic() {
    let server = start().await;
    let quic = quic_client(&server.cert, b"mqtt");
    let (_c1, mut sub) = quic.mqtt(server.quic, "q-sub").await;
    let (_c2, publ) = quic.mqtt(server.quic, "q-pub").await;
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let topic = format!("quic/qos/{}", qos as u8);
        sub.subscribe([filter(topic.as_str(), qos)]).await.unwrap();
        let outcome = publ
            .publish(topic.as_str(), format!("m{}", qos as u8), qos, false)
            .await
            .unwrap();
        assert!(outcome.is_success());
        let got = recv(&mut sub).await;
        assert_eq!(got.topic.as_str(), topic);
        assert_eq!(got.payload, Bytes::from(format!("m{}", qos as u8)));
        assert_eq!(got.qos, qos);
    }
    assert_eq!(server.stats.handshakes(), 2);
}

#[tokio::test]
async fn retained_message_reaches_a_late_quic_subscriber() {
    let server = start().await;
    let quic = quic_client(&server.cert, b"mqtt");
    let (_c1, publ) = quic.mqtt(server.quic, "ret-pub").await;
    publ.publish("quic/retained", "kept", QoS::AtLeastOnce, true)
        .await
        .unwrap();
    let (_c2, mut late) = quic.mqtt(server.quic, "ret-late").await;
    late.subscribe([filter("quic/retained", QoS::AtLeastOnce)])
        .await
        .unwrap();
    let got = recv(&mut late).await;
    assert!(got.retain);
    assert_eq!(got.payload, Bytes::from("kept"));
}

#[tokio::test]
async fn will_is_published_when_the_quic_connection_drops_without_disconnect() {
    let server = start().await;
    let mut watcher = tcp_client(server.tcp, "will-watch").await;
    watcher
        .subscribe([filter("quic/will", QoS::AtLeastOnce)])
        .await
        .unwrap();
    let quic = quic_client(&server.cert, b"mqtt");
    let will = Will {
        topic: "quic/will".into(),
        payload: Bytes::from("gone"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: WillProperties::default(),
    };
    let (conn, client) = quic.mqtt_with(server.quic, options("will-quic").will(will)).await;
    // Abrupt: the QUIC connection closes under the MQTT client, no DISCONNECT is sent.
    conn.close(0u32.into(), b"radio off");
    let got = recv(&mut watcher).await;
    assert_eq!(got.payload, Bytes::from("gone"));
    drop(client);
}

#[tokio::test]
async fn normal_disconnect_sends_no_will_and_closes_the_quic_connection_with_code_0() {
    let server = start().await;
    let mut watcher = tcp_client(server.tcp, "nowill-watch").await;
    watcher
        .subscribe([filter("quic/nowill", QoS::AtLeastOnce)])
        .await
        .unwrap();
    let quic = quic_client(&server.cert, b"mqtt");
    let will = Will {
        topic: "quic/nowill".into(),
        payload: Bytes::from("gone"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: WillProperties::default(),
    };
    let (conn, client) = quic
        .mqtt_with(server.quic, options("nowill-quic").will(will))
        .await;
    client.disconnect(ReasonCode::NormalDisconnection).await.unwrap();
    let closed = tokio::time::timeout(WAIT, conn.closed())
        .await
        .expect("QUIC closed after DISCONNECT");
    match closed {
        quinn::ConnectionError::ApplicationClosed(c) => assert_eq!(c.error_code, 0u32.into()),
        other => panic!("expected an application close, got {other}"),
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(300), watcher.recv())
            .await
            .is_err(),
        "no will after DISCONNECT"
    );
}

#[tokio::test]
async fn quic_and_tcp_clients_exchange_messages() {
    let server = start().await;
    let quic = quic_client(&server.cert, b"mqtt");
    let (_c, mut q) = quic.mqtt(server.quic, "x-quic").await;
    let mut t = tcp_client(server.tcp, "x-tcp").await;
    q.subscribe([filter("x/to-quic", QoS::AtLeastOnce)])
        .await
        .unwrap();
    t.subscribe([filter("x/to-tcp", QoS::ExactlyOnce)]).await.unwrap();
    t.publish("x/to-quic", "from tcp", QoS::AtLeastOnce, false)
        .await
        .unwrap();
    q.publish("x/to-tcp", "from quic", QoS::ExactlyOnce, false)
        .await
        .unwrap();
    assert_eq!(recv(&mut q).await.payload, Bytes::from("from tcp"));
    assert_eq!(recv(&mut t).await.payload, Bytes::from("from quic"));
}

#[tokio::test]
async fn shutdown_disconnects_quic_clients_and_drains() {
    let server = start().await;
    let quic = quic_client(&server.cert, b"mqtt");
    let (conn, _client) = quic.mqtt(server.quic, "shut").await;
    let left = server.broker.shutdown(WAIT).await;
    assert_eq!(left, 0, "every QUIC connection task finished");
    tokio::time::timeout(WAIT, conn.closed())
        .await
        .expect("QUIC connection closed by the broker");
}

#[tokio::test]
async fn tern_client_speaks_quic_urls_with_a_ca_file() {
    let server = start().await;
    let dir = std::env::temp_dir().join(format!("tern-quic-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &server.cert_pem).unwrap();
    let tls = tern_client::TlsOptions {
        ca_file: Some(ca),
        ..Default::default()
    };
    let url = format!("quic://localhost:{}", server.quic.port());
    let opts = options("url-client").set_url(url.as_str()).tls(tls);
    let (mut client, ack) = tern_client::Client::connect(opts).await.unwrap();
    assert!(ack.reason_code.is_success());
    client
        .subscribe([filter("url/t", QoS::ExactlyOnce)])
        .await
        .unwrap();
    client
        .publish("url/t", "via url", QoS::ExactlyOnce, false)
        .await
        .unwrap();
    assert_eq!(recv(&mut client).await.payload, Bytes::from("via url"));

    // Without the CA the self-signed certificate is refused, clearly.
    let bare = options("url-bare").set_url(url.as_str());
    let Err(err) = tern_client::Client::connect(bare).await else {
        panic!("an untrusted certificate must be refused");
    };
    assert!(err.to_string().contains("QUIC handshake"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
