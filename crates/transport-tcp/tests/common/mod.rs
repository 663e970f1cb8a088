//! Test support: a broker on 127.0.0.1 with an ephemeral port, rumqttc clients, and a raw client that
//! speaks exact packets through the codec.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use bytes::BytesMut;
use std::net::SocketAddr;
use std::time::Duration;
use tern_broker::{Broker, CoreConfig, DriverConfig};
use tern_mqtt_codec::{Packet, ProtocolVersion};
use tern_transport_tcp::{TcpFrontend, TcpListenerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Upper bound on any single wait in these tests, so a broken broker fails instead of hanging.
pub const WAIT: Duration = Duration::from_secs(5);

pub async fn start() -> (Broker, SocketAddr) {
    start_with(CoreConfig::default()).await
}

pub async fn start_with(config: CoreConfig) -> (Broker, SocketAddr) {
    let broker = Broker::start(config, DriverConfig::default());
    let frontend = TcpFrontend::bind(TcpListenerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..TcpListenerConfig::default()
    })
    .unwrap();
    let addr = frontend.local_addr().unwrap();
    tokio::spawn(frontend.run(broker.clone()));
    (broker, addr)
}

/// A rumqttc MQTT 3.1.1 client whose event loop runs on its own task.
pub struct V4 {
    pub client: rumqttc::AsyncClient,
    pub publishes: mpsc::UnboundedReceiver<rumqttc::Publish>,
    pub connacks: mpsc::UnboundedReceiver<rumqttc::ConnAck>,
    pub subacks: mpsc::UnboundedReceiver<rumqttc::SubAck>,
}

pub async fn v4(addr: SocketAddr, id: &str, configure: impl FnOnce(&mut rumqttc::MqttOptions)) -> V4 {
    let mut opts = rumqttc::MqttOptions::new(id, addr.ip().to_string(), addr.port());
    opts.set_keep_alive(Duration::from_secs(5));
    configure(&mut opts);
    let (client, mut eventloop) = rumqttc::AsyncClient::new(opts, 100);
    let (ptx, publishes) = mpsc::unbounded_channel();
    let (ctx, mut connacks) = mpsc::unbounded_channel();
    let (stx, subacks) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                    let _ = ptx.send(p);
                }
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(c))) => {
                    let _ = ctx.send(c);
                }
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(s))) => {
                    let _ = stx.send(s);
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    let ack = tokio::time::timeout(WAIT, connacks.recv())
        .await
        .expect("CONNACK in time")
        .expect("CONNACK");
    assert_eq!(ack.code, rumqttc::ConnectReturnCode::Success);
    V4 {
        client,
        publishes,
        connacks,
        subacks,
    }
}

impl V4 {
    pub async fn subscribe(&mut self, filter: &str, qos: rumqttc::QoS) -> rumqttc::SubAck {
        self.client.subscribe(filter, qos).await.unwrap();
        tokio::time::timeout(WAIT, self.subacks.recv())
            .await
            .expect("SUBACK in time")
            .expect("SUBACK")
    }

    pub async fn recv(&mut self) -> rumqttc::Publish {
        tokio::time::timeout(WAIT, self.publishes.recv())
            .await
            .expect("message in time")
            .expect("message")
    }

    pub async fn expect_nothing(&mut self, wait: Duration) {
        if let Ok(Some(p)) = tokio::time::timeout(wait, self.publishes.recv()).await {
            panic!("unexpected message on {}", p.topic);
        }
    }
}

/// A client that sends and receives exact packets, for malformed input and protocol details.
pub struct Raw {
    pub stream: TcpStream,
    pub buf: BytesMut,
    pub version: ProtocolVersion,
}

impl Raw {
    pub async fn connect(addr: SocketAddr, version: ProtocolVersion) -> Raw {
        Raw {
            stream: TcpStream::connect(addr).await.unwrap(),
            buf: BytesMut::new(),
            version,
        }
    }

    pub async fn send(&mut self, packet: &Packet) {
        let mut out = BytesMut::new();
        tern_mqtt_codec::encode_packet(packet, self.version, &mut out).unwrap();
        self.stream.write_all(&out).await.unwrap();
    }

    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// The next packet, or `None` once the broker closed the connection.
    pub async fn recv(&mut self) -> Option<Packet> {
        tokio::time::timeout(WAIT, async {
            loop {
                if let Some(p) =
                    tern_mqtt_codec::decode_packet(&mut self.buf, self.version, u32::MAX).unwrap()
                {
                    return Some(p);
                }
                match self.stream.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
            }
        })
        .await
        .expect("broker answered in time")
    }

    /// Waits until the broker closes the connection, skipping packets on the way; returns them.
    pub async fn until_closed(&mut self) -> Vec<Packet> {
        let mut seen = Vec::new();
        while let Some(p) = self.recv().await {
            seen.push(p);
        }
        seen
    }
}
