//! MQTT-SN throughput through the gateway: N sensors on their own UDP sockets publish QoS 0 or QoS 1
//! messages to a running Tern; one MQTT 5 client over TCP subscribes and counts what arrives.
//!
//! ```text
//! cargo run --release -p tern-transport-mqttsn --example sn_bench -- \
//!     --sn 127.0.0.1:1884 --tcp 127.0.0.1:1883 --qos 1 --clients 8 --messages 20000 --payload 32
//! ```
//! QoS 1 keeps `--window` publishes unacknowledged per sensor (1 is the spec's one-outstanding rule);
//! QoS 0 paces each sensor to `--window` datagrams in flight per 1 ms tick so the kernel's UDP buffers, not
//! the gateway, are not what is measured.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use bytes::{Bytes, BytesMut};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tern_client::{Client, ConnectOptions, filter};
use tern_mqtt_codec::{ProtocolVersion as MqttVersion, QoS as MqttQoS};
use tern_mqttsn_codec::{Connect, Message, ProtocolVersion, Publish, QoS, Register, Topic, Utf8Bytes};
use tokio::net::UdpSocket;

struct Args {
    sn: SocketAddr,
    tcp: SocketAddr,
    qos: u8,
    clients: usize,
    messages: usize,
    payload: usize,
    window: usize,
}

fn parse() -> Args {
    let mut a = Args {
        sn: "127.0.0.1:1884".parse().unwrap(),
        tcp: "127.0.0.1:1883".parse().unwrap(),
        qos: 0,
        clients: 8,
        messages: 20_000,
        payload: 32,
        window: 16,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--sn" => a.sn = v.parse().unwrap(),
            "--tcp" => a.tcp = v.parse().unwrap(),
            "--qos" => a.qos = v.parse().unwrap(),
            "--clients" => a.clients = v.parse().unwrap(),
            "--messages" => a.messages = v.parse().unwrap(),
            "--payload" => a.payload = v.parse().unwrap(),
            "--window" => a.window = v.parse().unwrap(),
            other => panic!("unknown option {other}"),
        }
    }
    a
}

fn encode(m: &Message) -> Bytes {
    let mut b = BytesMut::new();
    m.encode(&mut b).unwrap();
    b.freeze()
}

async fn recv(socket: &UdpSocket, buf: &mut [u8]) -> Option<Message> {
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(buf))
        .await
        .ok()?
        .ok()?;
    Message::decode(&Bytes::copy_from_slice(&buf[..n])).ok()
}

/// One sensor: CONNECT, REGISTER, then `messages` publishes. Returns how many were acknowledged (QoS 1) or
/// sent (QoS 0).
async fn sensor(a: Arc<Args>, i: usize) -> usize {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.connect(a.sn).await.unwrap();
    let mut buf = vec![0u8; 65_535];
    let connect = Message::Connect(Connect {
        will: false,
        clean_session: true,
        version: ProtocolVersion::V1_2,
        duration: 120,
        client_id: Utf8Bytes::from(format!("snbench-{i}")),
    });
    socket.send(&encode(&connect)).await.unwrap();
    assert!(
        matches!(recv(&socket, &mut buf).await, Some(Message::ConnAck { .. })),
        "no CONNACK"
    );
    let reg = Message::Register(Register {
        topic_id: 0,
        msg_id: 1,
        topic_name: Utf8Bytes::from(format!("bench/sn/{i}")),
    });
    socket.send(&encode(&reg)).await.unwrap();
    let Some(Message::RegAck(ack)) = recv(&socket, &mut buf).await else {
        panic!("no REGACK")
    };
    let payload = Bytes::from(vec![b'x'; a.payload]);
    let qos = if a.qos == 1 {
        QoS::AtLeastOnce
    } else {
        QoS::AtMostOnce
    };
    let publish = |msg_id: u16| {
        encode(&Message::Publish(Publish {
            dup: false,
            qos,
            retain: false,
            topic: Topic::Id(ack.topic_id),
            msg_id,
            payload: payload.clone(),
        }))
    };
    if a.qos == 0 {
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        let mut sent = 0;
        while sent < a.messages {
            tick.tick().await;
            for _ in 0..a.window.min(a.messages - sent) {
                socket.send(&publish(0)).await.unwrap();
                sent += 1;
            }
        }
        return sent;
    }
    let mut next = 0usize;
    let mut acked = 0usize;
    let mut inflight = 0usize;
    while acked < a.messages {
        while inflight < a.window && next < a.messages {
            next += 1;
            socket.send(&publish((next % 65_535 + 1) as u16)).await.unwrap();
            inflight += 1;
        }
        match recv(&socket, &mut buf).await {
            Some(Message::PubAck(_)) => {
                acked += 1;
                inflight -= 1;
            }
            Some(_) => {}
            None => break,
        }
    }
    acked
}

#[tokio::main]
async fn main() {
    let a = Arc::new(parse());
    let opts = ConnectOptions::new(format!("mqtt://{}", a.tcp))
        .protocol(MqttVersion::V5)
        .client_id("snbench-sub")
        .incoming_capacity(100_000);
    let (mut sub, _) = Client::connect(opts).await.expect("TCP subscriber connects");
    let sub_qos = if a.qos == 1 {
        MqttQoS::AtLeastOnce
    } else {
        MqttQoS::AtMostOnce
    };
    sub.subscribe([filter("bench/sn/#", sub_qos)]).await.unwrap();
    let received = Arc::new(AtomicU64::new(0));
    let expected = (a.clients * a.messages) as u64;
    let counter = received.clone();
    let reader = tokio::spawn(async move {
        let mut last = Instant::now();
        loop {
            match tokio::time::timeout(Duration::from_secs(3), sub.recv()).await {
                Ok(Some(_)) => {
                    last = Instant::now();
                    if counter.fetch_add(1, Ordering::Relaxed) + 1 == expected {
                        return last;
                    }
                }
                _ => return last,
            }
        }
    });
    let start = Instant::now();
    let sensors: Vec<_> = (0..a.clients)
        .map(|i| tokio::spawn(sensor(a.clone(), i)))
        .collect();
    let mut sent = 0;
    for s in sensors {
        sent += s.await.unwrap();
    }
    let send_done = start.elapsed();
    let last = reader.await.unwrap();
    let got = received.load(Ordering::Relaxed);
    let elapsed = last
        .duration_since(start)
        .as_secs_f64()
        .max(send_done.as_secs_f64());
    println!(
        "mqttsn qos{} clients={} payload={}B window={}: sent {} ({}), received by TCP subscriber {} in {:.2}s = {:.0} msgs/s ({:.1}% delivered)",
        a.qos,
        a.clients,
        a.payload,
        a.window,
        sent,
        if a.qos == 1 { "acknowledged" } else { "datagrams" },
        got,
        elapsed,
        got as f64 / elapsed,
        100.0 * got as f64 / expected as f64
    );
}
