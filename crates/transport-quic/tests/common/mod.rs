//! Test support: a broker with a TCP and a QUIC listener on 127.0.0.1 (port 0), a self-signed certificate
//! made with rcgen, and quinn client endpoints whose TLS session store counts resumed handshakes.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use quinn::crypto::rustls::QuicClientConfig;
use quinn::{ClientConfig, Connection, Endpoint, RecvStream, SendStream};
use rustls::NamedGroup;
use rustls::client::{
    ClientSessionMemoryCache, ClientSessionStore, Tls12ClientSessionValue, Tls13ClientSessionValue,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tern_broker::{Broker, CoreConfig, DriverConfig};
use tern_client::{Client, ConnectOptions, ProtocolVersion};
use tern_transport_quic::{QuicFrontend, QuicListenerConfig, QuicStats};
use tern_transport_tcp::{TcpFrontend, TcpListenerConfig};
use tokio::io::Join;

/// Upper bound on any single wait in these tests, so a broken listener fails instead of hanging.
pub const WAIT: Duration = Duration::from_secs(5);

/// A self-signed certificate for `localhost` and 127.0.0.1.
pub struct TestCert {
    pub der: CertificateDer<'static>,
    pub pem: String,
    pub key: PrivateKeyDer<'static>,
}

pub fn test_cert() -> TestCert {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    TestCert {
        der: ck.cert.der().clone(),
        pem: ck.cert.pem(),
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der())),
    }
}

/// A running broker with both listeners.
pub struct Server {
    pub broker: Broker,
    pub quic: SocketAddr,
    pub tcp: SocketAddr,
    pub stats: Arc<QuicStats>,
    pub cert: CertificateDer<'static>,
    pub cert_pem: String,
}

pub async fn start() -> Server {
    start_with(QuicListenerConfig::default()).await
}

pub async fn start_with(mut config: QuicListenerConfig) -> Server {
    let broker = Broker::start(CoreConfig::default(), DriverConfig::default());
    let cert = test_cert();
    let provider = rustls::crypto::ring::default_provider();
    let certified =
        rustls::sign::CertifiedKey::from_der(vec![cert.der.clone()], cert.key.clone_key(), &provider)
            .unwrap();
    let resolver = Arc::new(rustls::sign::SingleCertAndKey::from(certified));
    let tls = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.bind = "127.0.0.1:0".parse().unwrap();
    let quic = QuicFrontend::bind(config, &tls).unwrap();
    let quic_addr = quic.local_addr().unwrap();
    let stats = quic.stats();
    tokio::spawn(quic.run(broker.clone()));
    let tcp = TcpFrontend::bind(TcpListenerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..TcpListenerConfig::default()
    })
    .unwrap();
    let tcp_addr = tcp.local_addr().unwrap();
    tokio::spawn(tcp.run(broker.clone()));
    Server {
        broker,
        quic: quic_addr,
        tcp: tcp_addr,
        stats,
        cert: cert.der,
        cert_pem: cert.pem,
    }
}

/// Counts TLS 1.3 tickets taken for a handshake: each take is a resumption attempt.
#[derive(Debug)]
pub struct CountingStore {
    inner: ClientSessionMemoryCache,
    pub taken: AtomicUsize,
    pub issued: AtomicUsize,
}

impl ClientSessionStore for CountingStore {
    fn set_kx_hint(&self, name: ServerName<'static>, group: NamedGroup) {
        self.inner.set_kx_hint(name, group)
    }
    fn kx_hint(&self, name: &ServerName<'_>) -> Option<NamedGroup> {
        self.inner.kx_hint(name)
    }
    fn set_tls12_session(&self, name: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.inner.set_tls12_session(name, value)
    }
    fn tls12_session(&self, name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.inner.tls12_session(name)
    }
    fn remove_tls12_session(&self, name: &ServerName<'static>) {
        self.inner.remove_tls12_session(name)
    }
    fn insert_tls13_ticket(&self, name: ServerName<'static>, value: Tls13ClientSessionValue) {
        self.issued.fetch_add(1, Ordering::SeqCst);
        self.inner.insert_tls13_ticket(name, value)
    }
    fn take_tls13_ticket(&self, name: &ServerName<'static>) -> Option<Tls13ClientSessionValue> {
        let t = self.inner.take_tls13_ticket(name);
        if t.is_some() {
            self.taken.fetch_add(1, Ordering::SeqCst);
        }
        t
    }
}

/// A quinn client endpoint on 127.0.0.1 trusting the test certificate, with ALPN `alpn`.
pub struct QuicClient {
    pub endpoint: Endpoint,
    pub sessions: Arc<CountingStore>,
}

pub fn quic_client(cert: &CertificateDer<'static>, alpn: &[u8]) -> QuicClient {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![alpn.to_vec()];
    tls.enable_early_data = true;
    let sessions = Arc::new(CountingStore {
        inner: ClientSessionMemoryCache::new(32),
        taken: AtomicUsize::new(0),
        issued: AtomicUsize::new(0),
    });
    tls.resumption = rustls::client::Resumption::store(sessions.clone());
    let mut client = ClientConfig::new(Arc::new(QuicClientConfig::try_from(tls).unwrap()));
    let mut transport = quinn::TransportConfig::default();
    transport.keep_alive_interval(Some(Duration::from_secs(1)));
    client.transport_config(Arc::new(transport));
    let mut endpoint = Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    endpoint.set_default_client_config(client);
    QuicClient { endpoint, sessions }
}

impl QuicClient {
    /// Handshake and first bidirectional stream, within [`WAIT`].
    pub async fn open(&self, server: SocketAddr) -> (Connection, Join<RecvStream, SendStream>) {
        let conn = tokio::time::timeout(WAIT, self.endpoint.connect(server, "localhost").unwrap())
            .await
            .expect("handshake in time")
            .expect("handshake");
        let (send, recv) = conn.open_bi().await.unwrap();
        (conn, tokio::io::join(recv, send))
    }

    /// An MQTT 5 tern-client over a fresh QUIC connection.
    pub async fn mqtt(&self, server: SocketAddr, id: &str) -> (Connection, Client) {
        self.mqtt_with(server, options(id)).await
    }

    pub async fn mqtt_with(&self, server: SocketAddr, opts: ConnectOptions) -> (Connection, Client) {
        let (conn, stream) = self.open(server).await;
        let (client, ack) = Client::connect_stream(stream, opts).await.unwrap();
        assert!(ack.reason_code.is_success(), "{ack:?}");
        (conn, client)
    }
}

pub fn options(id: &str) -> ConnectOptions {
    ConnectOptions::new("quic://localhost")
        .client_id(id)
        .protocol(ProtocolVersion::V5)
        .keep_alive(Duration::from_secs(30))
        .timeout(WAIT)
}

/// An MQTT 5 tern-client over TCP.
pub async fn tcp_client(server: SocketAddr, id: &str) -> Client {
    let opts = options(id).set_url(format!("mqtt://{server}"));
    Client::connect(opts).await.unwrap().0
}

/// The next message within [`WAIT`].
pub async fn recv(client: &mut Client) -> tern_client::Publish {
    tokio::time::timeout(WAIT, client.recv())
        .await
        .expect("message in time")
        .expect("connection open")
}

/// Log lines written during a test (set as the thread's subscriber; tests run on one thread).
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Polls `cond` every 10 ms until true or [`WAIT`] passes.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
