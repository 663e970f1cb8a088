//! Test support: a broker with a TCP and an MQTT-SN listener on 127.0.0.1 ephemeral ports, a simulated
//! sensor on a real UDP socket, and an MQTT 5 client over TCP (tern-client).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use bytes::{Bytes, BytesMut};
use std::net::SocketAddr;
use std::time::Duration;
use tern_broker::{Broker, CoreConfig, DriverConfig};
use tern_client::{Client, ConnectOptions};
use tern_mqtt_codec::ProtocolVersion;
use tern_mqttsn_codec::{Connect, Message, ProtocolVersion as SnVersion, Utf8Bytes};
use tern_transport_mqttsn::{SnConfig, SnFrontend, SnListenerConfig};
use tern_transport_tcp::{TcpFrontend, TcpListenerConfig};
use tokio::net::UdpSocket;

/// Upper bound on any single wait, so a broken gateway fails instead of hanging.
pub const WAIT: Duration = Duration::from_secs(5);

pub struct Stack {
    pub broker: Broker,
    pub tcp: SocketAddr,
    pub ws: SocketAddr,
    pub sn: SocketAddr,
}

pub async fn start(gateway: SnConfig) -> Stack {
    let broker = Broker::start(
        CoreConfig {
            sys_interval: None,
            ..CoreConfig::default()
        },
        DriverConfig::default(),
    );
    let tcp = TcpFrontend::bind(TcpListenerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..TcpListenerConfig::default()
    })
    .unwrap();
    let tcp_addr = tcp.local_addr().unwrap();
    tokio::spawn(tcp.run(broker.clone()));
    let ws = tern_transport_ws::WsFrontend::bind(
        TcpListenerConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            ..TcpListenerConfig::default()
        },
        tern_transport_ws::WsListenerConfig {
            rules: tern_transport_ws::UpgradeRules::default(),
            max_message_size: None,
        },
        None,
    )
    .unwrap();
    let ws_addr = ws.local_addr().unwrap();
    tokio::spawn(ws.run(broker.clone()));
    let sn = SnFrontend::bind(SnListenerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        gateway,
        ..SnListenerConfig::default()
    })
    .unwrap();
    let sn_addr = sn.local_addr().unwrap();
    tokio::spawn(sn.run(broker.clone()));
    Stack {
        broker,
        tcp: tcp_addr,
        ws: ws_addr,
        sn: sn_addr,
    }
}

pub async fn mqtt5(stack: &Stack, id: &str) -> Client {
    connect_url(format!("mqtt://{}", stack.tcp), id).await
}

/// An MQTT 5 client over WebSocket (`ws://…/mqtt`).
pub async fn mqtt5_ws(stack: &Stack, id: &str) -> Client {
    connect_url(format!("ws://{}/mqtt", stack.ws), id).await
}

async fn connect_url(url: String, id: &str) -> Client {
    let opts = ConnectOptions::new(url)
        .protocol(ProtocolVersion::V5)
        .client_id(id)
        .timeout(WAIT);
    let (client, _) = Client::connect(opts).await.unwrap();
    client
}

/// A sensor: one UDP socket talking to the gateway.
pub struct Sensor {
    pub socket: UdpSocket,
    pub gateway: SocketAddr,
}

impl Sensor {
    pub async fn new(gateway: SocketAddr) -> Sensor {
        Sensor {
            socket: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            gateway,
        }
    }

    pub async fn send(&self, msg: &Message) {
        let mut buf = BytesMut::new();
        msg.encode(&mut buf).unwrap();
        self.socket.send_to(&buf, self.gateway).await.unwrap();
    }

    pub async fn send_raw(&self, bytes: &[u8]) {
        self.socket.send_to(bytes, self.gateway).await.unwrap();
    }

    /// The next message, or `None` after `wait`.
    pub async fn recv_within(&self, wait: Duration) -> Option<Message> {
        let mut buf = vec![0u8; 65_535];
        let (n, _) = tokio::time::timeout(wait, self.socket.recv_from(&mut buf))
            .await
            .ok()?
            .unwrap();
        Some(Message::decode(&Bytes::copy_from_slice(&buf[..n])).unwrap())
    }

    pub async fn recv(&self) -> Message {
        self.recv_within(WAIT).await.expect("a datagram from the gateway")
    }

    pub async fn connect(&self, id: &str, clean: bool, duration: u16) {
        self.send(&connect_msg(id, clean, false, duration)).await;
        match self.recv().await {
            Message::ConnAck { return_code } if return_code.is_accepted() => {}
            other => panic!("CONNACK expected, got {other:?}"),
        }
    }
}

pub fn connect_msg(id: &str, clean: bool, will: bool, duration: u16) -> Message {
    Message::Connect(Connect {
        will,
        clean_session: clean,
        version: SnVersion::V1_2,
        duration,
        client_id: Utf8Bytes::from(id.to_owned()),
    })
}
