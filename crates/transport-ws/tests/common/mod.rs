//! Test support: one broker with a TCP, TLS, WS and WSS listener on 127.0.0.1 (ephemeral ports, the generated
//! development certificate in a fresh data directory), and tern-client connections over any of them.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tern_broker::{Broker, CoreConfig, DriverConfig};
use tern_client::{Client, ConnectOptions, ProtocolVersion, Publish, TlsOptions};
use tern_transport_tcp::{ListenerStats, TcpFrontend, TcpListenerConfig, TlsFrontend};
use tern_transport_ws::{WsFrontend, WsListenerConfig};

/// Upper bound on any single wait, so a broken broker fails a test instead of hanging it.
pub const WAIT: Duration = Duration::from_secs(5);

/// The four stream transports under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tcp,
    Tls,
    Ws,
    Wss,
}

pub const ALL: [Kind; 4] = [Kind::Tcp, Kind::Tls, Kind::Ws, Kind::Wss];

pub struct Rig {
    pub broker: Broker,
    pub tcp: SocketAddr,
    pub tls: SocketAddr,
    pub ws: SocketAddr,
    pub wss: SocketAddr,
    pub ca: PathBuf,
    pub ws_stats: Arc<ListenerStats>,
    pub data_dir: PathBuf,
}

pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "tern-ws-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn local() -> TcpListenerConfig {
    TcpListenerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        handshake_timeout: Duration::from_secs(2),
        ..TcpListenerConfig::default()
    }
}

impl Rig {
    pub async fn start() -> Rig {
        Rig::start_with(WsListenerConfig::default()).await
    }

    pub async fn start_with(ws: WsListenerConfig) -> Rig {
        let broker = Broker::start(CoreConfig::default(), DriverConfig::default());
        let data_dir = temp_dir("rig");
        let material = tern_tls::TlsMaterial::load(&tern_tls::TlsSettings {
            data_dir: data_dir.clone(),
            ..tern_tls::TlsSettings::default()
        })
        .unwrap();
        let tcp = TcpFrontend::bind(local()).unwrap();
        let tls = TlsFrontend::bind(local(), material.server_config(&[b"mqtt"]).unwrap()).unwrap();
        let wsf = WsFrontend::bind(local(), ws.clone(), None).unwrap();
        let wss =
            WsFrontend::bind(local(), ws, Some(material.server_config(&[b"http/1.1"]).unwrap())).unwrap();
        let rig = Rig {
            broker: broker.clone(),
            tcp: tcp.local_addr().unwrap(),
            tls: tls.local_addr().unwrap(),
            ws: wsf.local_addr().unwrap(),
            wss: wss.local_addr().unwrap(),
            ca: material.cert_path().to_path_buf(),
            ws_stats: wsf.stats(),
            data_dir,
        };
        tokio::spawn(tcp.run(broker.clone()));
        tokio::spawn(tls.run(broker.clone()));
        tokio::spawn(wsf.run(broker.clone()));
        tokio::spawn(wss.run(broker));
        rig
    }

    pub fn url(&self, kind: Kind) -> String {
        match kind {
            Kind::Tcp => format!("mqtt://{}", self.tcp),
            // By name, so the certificate's `localhost` SAN is what is checked.
            Kind::Tls => format!("mqtts://localhost:{}", self.tls.port()),
            Kind::Ws => format!("ws://{}/mqtt", self.ws),
            Kind::Wss => format!("wss://localhost:{}/mqtt", self.wss.port()),
        }
    }

    pub fn tls_options(&self) -> TlsOptions {
        TlsOptions {
            ca_file: Some(self.ca.clone()),
            ..TlsOptions::default()
        }
    }

    pub fn options(&self, kind: Kind, id: &str) -> ConnectOptions {
        ConnectOptions::new(self.url(kind))
            .client_id(id)
            .protocol(ProtocolVersion::V5)
            .timeout(WAIT)
            .tls(self.tls_options())
    }

    pub async fn client(&self, kind: Kind, id: &str) -> Client {
        let (client, ack) = Client::connect(self.options(kind, id))
            .await
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert!(ack.reason_code.is_success(), "{kind:?}: {ack:?}");
        client
    }

    /// A raw stream to a listener (for will tests: dropped without DISCONNECT).
    pub async fn raw(&self, kind: Kind) -> tern_client::RawConnection {
        let url = tern_client::ServerUrl::parse(&self.url(kind)).unwrap();
        let stream = tern_client::open_with(&url, WAIT, &self.tls_options())
            .await
            .unwrap();
        tern_client::RawConnection::from_stream(stream)
    }
}

pub async fn recv(client: &mut Client) -> Publish {
    tokio::time::timeout(WAIT, client.recv())
        .await
        .expect("message in time")
        .expect("connection open")
}

pub async fn nothing(client: &mut Client, wait: Duration) {
    if let Ok(Some(p)) = tokio::time::timeout(wait, client.recv()).await {
        panic!("unexpected message on {}", p.topic.as_str());
    }
}
