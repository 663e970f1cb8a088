//! What the WebSocket frontend refuses (wrong path or subprotocol, text frames) and how it frames bytes
//! (a packet split across frames, several packets in one frame).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use bytes::BytesMut;
use common::{Rig, WAIT};
use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::Ordering;
use tern_client::{ConnectProperties, Packet, ProtocolVersion, QoS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

async fn http_status(addr: std::net::SocketAddr, path: &str, protocol: Option<&str>) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let proto = protocol
        .map(|p| format!("Sec-WebSocket-Protocol: {p}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{proto}\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(WAIT, s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

#[tokio::test]
async fn wrong_path_and_wrong_subprotocol_are_refused_with_http_errors() {
    let rig = Rig::start().await;
    assert!(http_status(rig.ws, "/mqtt", Some("mqtt")).await.contains("101"));
    assert!(
        http_status(rig.ws, "/mqtt", None).await.contains("101"),
        "no subprotocol is accepted by default"
    );
    assert!(http_status(rig.ws, "/other", Some("mqtt")).await.contains("404"));
    assert!(
        http_status(rig.ws, "/mqtt", Some("wamp, soap"))
            .await
            .contains("400")
    );
    // Each refusal is counted as a handshake failure.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(rig.ws_stats.handshake_failures.load(Ordering::Relaxed), 2);
}

async fn ws_client(rig: &Rig) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
    let mut req = format!("ws://{}/mqtt", rig.ws).into_client_request().unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", "mqtt".parse().unwrap());
    let tcp = tokio::net::TcpStream::connect(rig.ws).await.unwrap();
    let (ws, resp) = tokio_tungstenite::client_async(req, tcp).await.unwrap();
    assert_eq!(resp.headers().get("sec-websocket-protocol").unwrap(), "mqtt");
    ws
}

fn encode(p: &Packet) -> Vec<u8> {
    let mut out = BytesMut::new();
    tern_mqtt_codec::encode_packet(p, ProtocolVersion::V3_1_1, &mut out).unwrap();
    out.to_vec()
}

async fn next_packets(
    ws: &mut tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    buf: &mut BytesMut,
    want: usize,
) -> Vec<Packet> {
    let mut got = Vec::new();
    while got.len() < want {
        while let Some(p) = tern_mqtt_codec::decode_packet(buf, ProtocolVersion::V3_1_1, u32::MAX).unwrap() {
            got.push(p);
        }
        if got.len() >= want {
            break;
        }
        match tokio::time::timeout(WAIT, ws.next()).await.unwrap() {
            Some(Ok(Message::Binary(b))) => buf.extend_from_slice(&b),
            other => panic!("expected a binary frame, got {other:?}"),
        }
    }
    got
}

#[tokio::test]
async fn packets_split_across_frames_and_batched_in_one_frame_both_work() {
    let rig = Rig::start().await;
    let mut ws = ws_client(&rig).await;
    let connect = encode(&Packet::Connect(Box::new(tern_mqtt_codec::Connect {
        protocol: ProtocolVersion::V3_1_1,
        clean_start: true,
        keep_alive: 30,
        client_id: "framing".into(),
        will: None,
        username: None,
        password: None,
        properties: ConnectProperties::default(),
    })));
    // CONNECT in three frames, cut inside the fixed header and inside the payload.
    for part in [&connect[..1], &connect[1..7], &connect[7..]] {
        ws.send(Message::Binary(part.to_vec().into())).await.unwrap();
    }
    let mut buf = BytesMut::new();
    let p = next_packets(&mut ws, &mut buf, 1).await;
    assert!(matches!(&p[0], Packet::ConnAck(_)), "{p:?}");

    // SUBSCRIBE and a PUBLISH to it in one frame.
    let subscribe = encode(&Packet::Subscribe(tern_mqtt_codec::Subscribe {
        packet_id: std::num::NonZeroU16::new(1).unwrap(),
        filters: vec![tern_client::filter("frames/t", QoS::AtMostOnce)],
        properties: Default::default(),
    }));
    let publish = encode(&Packet::Publish(tern_client::Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic: "frames/t".into(),
        packet_id: None,
        properties: Default::default(),
        payload: bytes::Bytes::from_static(b"batched"),
    }));
    let mut both = subscribe;
    both.extend_from_slice(&publish);
    ws.send(Message::Binary(both.into())).await.unwrap();
    let p = next_packets(&mut ws, &mut buf, 2).await;
    assert!(matches!(&p[0], Packet::SubAck(_)), "{p:?}");
    match &p[1] {
        Packet::Publish(p) => assert_eq!(&p.payload[..], b"batched"),
        other => panic!("expected PUBLISH, got {other:?}"),
    }

    // Pings are answered while MQTT runs.
    ws.send(Message::Ping(b"are you there".to_vec().into()))
        .await
        .unwrap();
    match tokio::time::timeout(WAIT, ws.next()).await.unwrap() {
        Some(Ok(Message::Pong(b))) => assert_eq!(&b[..], b"are you there"),
        other => panic!("expected a pong, got {other:?}"),
    }
}

#[tokio::test]
async fn text_frames_are_closed_with_1003() {
    let rig = Rig::start().await;
    let mut ws = ws_client(&rig).await;
    ws.send(Message::Text("CONNECT please".into())).await.unwrap();
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await.unwrap() {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(frame.code, CloseCode::Unsupported);
                break;
            }
            Some(Ok(Message::Close(None))) | None => panic!("closed without code 1003"),
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("error before the close frame: {e}"),
        }
    }
}
