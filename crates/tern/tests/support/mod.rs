//! Test support: a broker in process with every frontend (tcp, tls, ws, wss, quic, mqttsn) on port 0, wired
//! the way `tern serve` wires it (TernPolicy from password, ACL and ban files; TLS material from PEM files
//! with optional client certificates), plus clients for every transport.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use bytes::{Bytes, BytesMut};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SanType};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tern_auth::password::{HashCost, PasswordFile, StoredHash};
use tern_auth::{Anonymous, AuthConfig, ListenerAuth, TernPolicy};
use tern_broker::{Broker, CoreConfig, DriverConfig};
use tern_broker_core::{BrokerCore, Hooks, TransportKind};
use tern_client::{Client, ClientError, ConnAck, ConnectOptions, ProtocolVersion, RawConnection, TlsOptions};
use tern_tls::{ClientAuth, TlsMaterial, TlsSettings};
use tern_transport_mqttsn::{SnFrontend, SnListenerConfig};
use tern_transport_quic::{QuicFrontend, QuicListenerConfig, QuicStats};
use tern_transport_tcp::{ListenerStats, TcpFrontend, TcpListenerConfig, TlsFrontend};
use tern_transport_ws::{WsFrontend, WsListenerConfig};

/// Upper bound on any single wait, so a broken mechanism fails instead of hanging.
pub const WAIT: Duration = Duration::from_secs(10);

/// The password of [`USER`] in the password file.
pub const PASSWORD: &str = "correct horse";
/// The one user in the password file.
pub const USER: &str = "alice";
/// A client id on the ban list.
pub const BANNED_ID: &str = "banned-device";
/// The certificate identity (CN) of a good client certificate.
pub const CERT_USER: &str = "device-7";
/// The certificate identity (CN) of a client certificate whose name is on the ban list.
pub const BANNED_CERT_USER: &str = "mallory-device";

/// The five MQTT frontends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frontend {
    Tcp,
    Tls,
    Ws,
    Wss,
    Quic,
}

impl Frontend {
    pub const ALL: [Frontend; 5] = [
        Frontend::Tcp,
        Frontend::Tls,
        Frontend::Ws,
        Frontend::Wss,
        Frontend::Quic,
    ];

    /// Whether certificates (and so client certificates) apply.
    pub fn is_tls(self) -> bool {
        matches!(self, Frontend::Tls | Frontend::Wss | Frontend::Quic)
    }

    fn transport(self) -> TransportKind {
        match self {
            Frontend::Tcp => TransportKind::Tcp,
            Frontend::Tls => TransportKind::Tls,
            Frontend::Ws => TransportKind::WebSocket,
            Frontend::Wss => TransportKind::WebSocketTls,
            Frontend::Quic => TransportKind::Quic,
        }
    }
}

/// Files shared by every broker of the test process: certificates, password file, ACL, ban list.
pub struct Files {
    pub dir: PathBuf,
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// (cert, key) of [`CERT_USER`].
    pub device: (PathBuf, PathBuf),
    /// (cert, key) of [`BANNED_CERT_USER`].
    pub banned_device: (PathBuf, PathBuf),
    pub auth: AuthConfig,
}

fn issue(
    issuer: &CertifiedIssuer<'static, KeyPair>,
    dir: &Path,
    cn: &str,
    sans: Vec<SanType>,
) -> (PathBuf, PathBuf) {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.subject_alt_names = sans;
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, issuer).unwrap();
    let (c, k) = (dir.join(format!("{cn}.pem")), dir.join(format!("{cn}.key")));
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c, k)
}

/// The shared files, made once per test process.
pub fn files() -> &'static Files {
    static FILES: OnceLock<Files> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("tern-limits-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, "tern test CA");
        let ca = CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap();
        let ca_path = dir.join("ca.pem");
        std::fs::write(&ca_path, ca.pem()).unwrap();
        let sans = vec![
            SanType::DnsName("localhost".try_into().unwrap()),
            SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        ];
        let (server_cert, server_key) = issue(&ca, &dir, "server", sans);
        let device = issue(&ca, &dir, CERT_USER, Vec::new());
        let banned_device = issue(&ca, &dir, BANNED_CERT_USER, Vec::new());

        let cheap = HashCost {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        };
        let mut passwords = PasswordFile::parse("").unwrap();
        passwords
            .set(USER, StoredHash::create(PASSWORD, cheap).unwrap())
            .unwrap();
        let password_file = dir.join("passwd");
        passwords.save(&password_file).unwrap();
        // Publishing under secret/ is denied to everyone, subscribing under forbidden/ too; certs/<cn> is
        // open to the certificate user of that name only.
        let acl = format!(
            "default = \"allow\"\n\
             [[rule]]\npermission = \"deny\"\naction = \"publish\"\ntopics = [\"secret/#\"]\n\
             [[rule]]\npermission = \"deny\"\naction = \"subscribe\"\ntopics = [\"forbidden/#\"]\n\
             [[rule]]\npermission = \"allow\"\naction = \"publish\"\nuser = \"{CERT_USER}\"\ntopics = [\"certs/{CERT_USER}\"]\n\
             [[rule]]\npermission = \"deny\"\naction = \"publish\"\ntopics = [\"certs/#\"]\n"
        );
        let acl_file = dir.join("acl.toml");
        std::fs::write(&acl_file, acl).unwrap();
        let ban_file = dir.join("bans.toml");
        std::fs::write(
            &ban_file,
            format!("client_ids = [\"{BANNED_ID}\"]\nusernames = [\"{BANNED_CERT_USER}\"]\n"),
        )
        .unwrap();
        let auth = AuthConfig {
            password_file: Some(password_file),
            acl_file: Some(acl_file),
            ban_file: Some(ban_file),
            ..AuthConfig::default()
        };
        Files {
            dir,
            ca: ca_path,
            server_cert,
            server_key,
            device,
            banned_device,
            auth,
        }
    })
}

/// What a test changes from the defaults.
#[derive(Clone)]
pub struct Setup {
    pub core: CoreConfig,
    /// Every listener's `connection_rate`.
    pub connection_rate: Option<u32>,
    /// Every listener's handshake deadline (TLS, WebSocket, QUIC's first stream).
    pub handshake_timeout: Duration,
    /// Which anonymous clients the listeners admit (default: from loopback, as `tern serve` does).
    pub anonymous: Anonymous,
    /// Also bind a second listener of every frontend, with `allow_anonymous = true`.
    pub open_twins: bool,
}

impl Default for Setup {
    fn default() -> Setup {
        Setup {
            core: CoreConfig::default(),
            connection_rate: None,
            handshake_timeout: Duration::from_secs(10),
            anonymous: Anonymous::Loopback,
            open_twins: false,
        }
    }
}

/// A running broker with all six listeners bound to 127.0.0.1 on port 0, named `<frontend>` (anonymous
/// clients as [`Setup::anonymous`] says) and, with [`Setup::open_twins`], `<frontend>-open` (anonymous
/// admitted).
pub struct Server {
    pub broker: Broker,
    pub policy: Arc<TernPolicy>,
    /// (frontend, allow_anonymous, port).
    ports: Vec<(Frontend, bool, u16)>,
    pub sn: SocketAddr,
    pub stream_stats: Vec<(Frontend, Arc<ListenerStats>)>,
    pub quic_stats: Arc<QuicStats>,
}

impl Server {
    pub fn port(&self, f: Frontend) -> u16 {
        self.port_of(f, false)
    }

    /// The port of `f`'s listener with `allow_anonymous = open`.
    pub fn port_of(&self, f: Frontend, open: bool) -> u16 {
        self.ports
            .iter()
            .find(|(k, o, _)| *k == f && *o == open)
            .map(|(_, _, p)| *p)
            .unwrap()
    }

    /// The URL of frontend `f` at `host` (`127.0.0.1` or a non-loopback address).
    pub fn url(&self, f: Frontend, host: IpAddr) -> String {
        url(f, host, self.port(f))
    }

    /// Connections closed or refused at accept for `connection_rate` on frontend `f`.
    pub fn refused_rate(&self, f: Frontend) -> u64 {
        if f == Frontend::Quic {
            return self.quic_stats.refused_rate();
        }
        let s = &self.stream_stats.iter().find(|(k, _)| *k == f).unwrap().1;
        s.refused_rate.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The URL of frontend `f` at `host:port`.
pub fn url(f: Frontend, host: IpAddr, port: u16) -> String {
    match f {
        Frontend::Tcp => format!("mqtt://{host}:{port}"),
        Frontend::Tls => format!("mqtts://{host}:{port}"),
        Frontend::Ws => format!("ws://{host}:{port}/mqtt"),
        Frontend::Wss => format!("wss://{host}:{port}/mqtt"),
        Frontend::Quic => format!("quic://{host}:{port}"),
    }
}

fn listener_name(f: Frontend, open: bool) -> String {
    if open {
        format!("{f:?}-open")
    } else {
        format!("{f:?}")
    }
}

/// Starts a broker with `setup` on every frontend.
pub async fn start(setup: Setup) -> Server {
    let files = files();
    let mut variants = vec![false];
    if setup.open_twins {
        variants.push(true);
    }
    let listeners = Frontend::ALL
        .iter()
        .flat_map(|f| {
            variants.iter().map(|&open| ListenerAuth {
                name: listener_name(*f, open),
                transport: f.transport(),
                allow_anonymous: if open { Anonymous::Allow } else { setup.anonymous },
            })
        })
        .collect();
    let policy = Arc::new(TernPolicy::new(&files.auth, listeners).unwrap());
    let hooks = Hooks {
        policy: policy.clone(),
        ..Hooks::default()
    };
    let core = BrokerCore::with_hooks(setup.core.clone(), hooks, Instant::now());
    let broker = Broker::start_with_core(core, DriverConfig::default());
    let material = TlsMaterial::load(&TlsSettings {
        cert: Some(files.server_cert.clone()),
        key: Some(files.server_key.clone()),
        client_ca: Some(files.ca.clone()),
        client_auth: ClientAuth::Optional,
        data_dir: files.dir.clone(),
    })
    .unwrap();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut ports = Vec::new();
    let mut stream_stats = Vec::new();
    let mut quic_stats = None;
    for &open in &variants {
        let tcp = |f: Frontend| TcpListenerConfig {
            bind: any,
            connection_rate: setup.connection_rate,
            handshake_timeout: setup.handshake_timeout,
            name: Some(Arc::from(listener_name(f, open))),
            ..TcpListenerConfig::default()
        };

        let f = TcpFrontend::bind(tcp(Frontend::Tcp)).unwrap();
        ports.push((Frontend::Tcp, open, f.local_addr().unwrap().port()));
        stream_stats.push((Frontend::Tcp, f.stats()));
        tokio::spawn(f.run(broker.clone()));

        let f = TlsFrontend::bind(tcp(Frontend::Tls), material.server_config(&[b"mqtt"]).unwrap()).unwrap();
        ports.push((Frontend::Tls, open, f.local_addr().unwrap().port()));
        stream_stats.push((Frontend::Tls, f.stats()));
        tokio::spawn(f.run(broker.clone()));

        for (kind, tls) in [
            (Frontend::Ws, None),
            (
                Frontend::Wss,
                Some(material.server_config(&[b"http/1.1"]).unwrap()),
            ),
        ] {
            let ws = WsListenerConfig {
                rules: Default::default(),
                max_message_size: None,
            };
            let f = WsFrontend::bind(tcp(kind), ws, tls).unwrap();
            ports.push((kind, open, f.local_addr().unwrap().port()));
            stream_stats.push((kind, f.stats()));
            tokio::spawn(f.run(broker.clone()));
        }

        let quic = QuicListenerConfig {
            bind: any,
            connection_rate: setup.connection_rate,
            handshake_timeout: setup.handshake_timeout,
            name: Some(Arc::from(listener_name(Frontend::Quic, open))),
            ..QuicListenerConfig::default()
        };
        let server = material.server_config(&[tern_transport_quic::ALPN_MQTT]).unwrap();
        let f = QuicFrontend::bind(quic, &server).unwrap();
        ports.push((Frontend::Quic, open, f.local_addr().unwrap().port()));
        quic_stats.get_or_insert(f.stats());
        tokio::spawn(f.run(broker.clone()));
    }

    let mut sn = SnListenerConfig {
        bind: any,
        ..SnListenerConfig::default()
    };
    sn.gateway.connect_rate = setup.connection_rate;
    let f = SnFrontend::bind(sn).unwrap();
    let sn = f.local_addr().unwrap();
    tokio::spawn(f.run(broker.clone()));

    Server {
        broker,
        policy,
        ports,
        sn,
        stream_stats,
        quic_stats: quic_stats.unwrap(),
    }
}

/// Client options for frontend `f` at `host`, trusting the test CA.
pub fn options(server: &Server, f: Frontend, host: IpAddr, v: ProtocolVersion, id: &str) -> ConnectOptions {
    ConnectOptions::new(server.url(f, host))
        .client_id(id)
        .protocol(v)
        .timeout(WAIT)
        .tls(tls(None))
}

/// TLS options trusting the test CA, presenting `cert` (cert, key) if given.
pub fn tls(cert: Option<&(PathBuf, PathBuf)>) -> TlsOptions {
    TlsOptions {
        ca_file: Some(files().ca.clone()),
        insecure: false,
        client_cert: cert.map(|c| c.0.clone()),
        client_key: cert.map(|c| c.1.clone()),
    }
}

pub fn loopback() -> IpAddr {
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}

/// Connects with `opts`: the client and its CONNACK, or the error (a refusal carries its reason code).
pub async fn connect(opts: ConnectOptions) -> Result<(Client, ConnAck), ClientError> {
    Client::connect(opts).await
}

/// The transport of frontend `f` opened raw (no CONNECT sent).
pub async fn raw(server: &Server, f: Frontend) -> Result<RawConnection, ClientError> {
    let url = tern_client::ServerUrl::parse(&server.url(f, loopback()))?;
    let stream = tern_client::open_with(&url, WAIT, &tls(None)).await?;
    Ok(RawConnection::from_stream(stream))
}

/// An MQTT-SN client: one UDP socket talking to the gateway.
pub struct SnClient {
    pub socket: tokio::net::UdpSocket,
    pub gateway: SocketAddr,
}

impl SnClient {
    /// A socket bound to `ip` (port 0) aimed at the server's gateway.
    pub async fn new(server: &Server, ip: IpAddr) -> SnClient {
        let socket = tokio::net::UdpSocket::bind((ip, 0)).await.unwrap();
        SnClient {
            socket,
            gateway: SocketAddr::new(ip, server.sn.port()),
        }
    }

    pub async fn send(&self, msg: tern_mqttsn_codec::Message) {
        let mut buf = BytesMut::new();
        msg.encode(&mut buf).unwrap();
        self.socket.send_to(&buf, self.gateway).await.unwrap();
    }

    /// The next message from the gateway, within [`WAIT`].
    pub async fn recv(&self) -> tern_mqttsn_codec::Message {
        let mut buf = vec![0u8; 65_536];
        let (n, _) = tokio::time::timeout(WAIT, self.socket.recv_from(&mut buf))
            .await
            .expect("a reply from the gateway in time")
            .unwrap();
        tern_mqttsn_codec::decode(&Bytes::copy_from_slice(&buf[..n])).unwrap()
    }

    /// CONNECT as `id`; the CONNACK's return code.
    pub async fn connect(&self, id: &str) -> tern_mqttsn_codec::ReturnCode {
        self.send(tern_mqttsn_codec::Message::Connect(tern_mqttsn_codec::Connect {
            will: false,
            clean_session: true,
            version: tern_mqttsn_codec::ProtocolVersion::V1_2,
            duration: 60,
            client_id: tern_mqttsn_codec::Utf8Bytes::from(id.to_owned()),
        }))
        .await;
        match self.recv().await {
            tern_mqttsn_codec::Message::ConnAck { return_code } => return_code,
            other => panic!("CONNACK expected, got {other:?}"),
        }
    }
}
