//! TLS listener refusals (mTLS without or with a foreign certificate, plain MQTT on the TLS port, a silent
//! peer past the handshake deadline) and the PROXY protocol header in the shared accept loop.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tern_broker::{Broker, CoreConfig, DriverConfig};
use tern_client::{Client, ConnectOptions, TlsOptions};
use tern_tls::{ClientAuth, TlsMaterial, TlsSettings};
use tern_transport_tcp::{ListenerStats, StreamListener, TcpListenerConfig, TlsFrontend};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(5);

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tern-tcp-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A CA in `dir` named `name`, returning its issuer and the CA file.
fn ca(dir: &Path, name: &str) -> (CertifiedIssuer<'static, KeyPair>, PathBuf) {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    let issuer = CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap();
    let path = dir.join(format!("{name}.pem"));
    std::fs::write(&path, issuer.pem()).unwrap();
    (issuer, path)
}

/// A client certificate for `cn` signed by `issuer`; returns (cert file, key file).
fn client_cert(dir: &Path, issuer: &CertifiedIssuer<'static, KeyPair>, cn: &str) -> (PathBuf, PathBuf) {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, cn);
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, issuer).unwrap();
    let (c, k) = (dir.join(format!("{cn}.pem")), dir.join(format!("{cn}.key")));
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c, k)
}

fn local(timeout: Duration, proxy: bool) -> TcpListenerConfig {
    TcpListenerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        handshake_timeout: timeout,
        proxy_protocol: proxy,
        ..TcpListenerConfig::default()
    }
}

async fn tls_broker(
    settings: TlsSettings,
    timeout: Duration,
) -> (std::net::SocketAddr, Arc<ListenerStats>, TlsMaterial) {
    let broker = Broker::start(CoreConfig::default(), DriverConfig::default());
    let material = TlsMaterial::load(&settings).unwrap();
    let f = TlsFrontend::bind(local(timeout, false), material.server_config(&[b"mqtt"]).unwrap()).unwrap();
    let (addr, stats) = (f.local_addr().unwrap(), f.stats());
    tokio::spawn(f.run(broker));
    (addr, stats, material)
}

async fn connect(port: u16, tls: TlsOptions) -> Result<(), tern_client::ClientError> {
    let opts = ConnectOptions::new(format!("mqtts://localhost:{port}"))
        .client_id("c")
        .timeout(WAIT)
        .tls(tls);
    Client::connect(opts).await.map(|_| ())
}

async fn wait_failures(stats: &ListenerStats, n: u64) {
    for _ in 0..100 {
        if stats.failures() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(stats.failures(), n);
}

#[tokio::test]
async fn mtls_admits_only_certificates_from_the_client_ca() {
    let dir = temp_dir("mtls");
    let (good_ca, good_ca_file) = ca(&dir, "devices-ca");
    let (other_ca, _) = ca(&dir, "other-ca");
    let (cert, key) = client_cert(&dir, &good_ca, "device-1");
    let (bad_cert, bad_key) = client_cert(&dir, &other_ca, "intruder");
    let settings = TlsSettings {
        client_ca: Some(good_ca_file),
        client_auth: ClientAuth::Required,
        data_dir: dir.clone(),
        ..TlsSettings::default()
    };
    let (addr, stats, material) = tls_broker(settings, WAIT).await;
    let trust = TlsOptions {
        ca_file: Some(material.cert_path().to_path_buf()),
        ..TlsOptions::default()
    };
    let with = |c: &PathBuf, k: &PathBuf| TlsOptions {
        client_cert: Some(c.clone()),
        client_key: Some(k.clone()),
        ..trust.clone()
    };
    connect(addr.port(), with(&cert, &key))
        .await
        .expect("a certificate from the client CA is admitted");
    assert!(
        connect(addr.port(), trust.clone()).await.is_err(),
        "no certificate"
    );
    assert!(
        connect(addr.port(), with(&bad_cert, &bad_key)).await.is_err(),
        "foreign certificate"
    );
    wait_failures(&stats, 2).await;
}

#[tokio::test]
async fn plain_mqtt_on_the_tls_port_is_closed_and_costs_no_one_else() {
    let dir = temp_dir("plain");
    let settings = TlsSettings {
        data_dir: dir,
        ..TlsSettings::default()
    };
    let (addr, stats, material) = tls_broker(settings, WAIT).await;
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00")
        .await
        .unwrap();
    let mut sink = Vec::new();
    // The server answers with at most a TLS alert, then closes: the read ends (EOF or reset) in time.
    let _ = tokio::time::timeout(WAIT, plain.read_to_end(&mut sink))
        .await
        .expect("closed in time");
    assert!(!sink.starts_with(&[0x20]), "no CONNACK over a TLS port");
    wait_failures(&stats, 1).await;
    let trust = TlsOptions {
        ca_file: Some(material.cert_path().to_path_buf()),
        ..TlsOptions::default()
    };
    connect(addr.port(), trust)
        .await
        .expect("a TLS client still connects");
}

#[tokio::test]
async fn a_silent_peer_is_dropped_at_the_handshake_deadline() {
    let dir = temp_dir("silent");
    let settings = TlsSettings {
        data_dir: dir,
        ..TlsSettings::default()
    };
    let (addr, stats, _m) = tls_broker(settings, Duration::from_millis(300)).await;
    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(WAIT, silent.read(&mut buf))
        .await
        .expect("closed in time");
    assert!(matches!(n, Ok(0) | Err(_)));
    wait_failures(&stats, 1).await;
}

#[tokio::test]
async fn proxy_header_sets_the_peer_and_keeps_the_bytes_after_it() {
    let broker = Broker::start(CoreConfig::default(), DriverConfig::default());
    let listener = StreamListener::bind(local(WAIT, true), "test").unwrap();
    let (addr, stats) = (listener.local_addr().unwrap(), listener.stats());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(listener.run(broker, "test", move |mut incoming, _broker| {
        let tx = tx.clone();
        async move {
            let mut first = [0u8; 5];
            let read = incoming.stream.read_exact(&mut first).await.map(|_| first);
            let _ = tx.send((incoming.peer, read.ok()));
        }
    }));
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    c.write_all(b"PROXY TCP4 203.0.113.9 127.0.0.1 40123 1883\r\nhello")
        .await
        .unwrap();
    let (peer, first) = tokio::time::timeout(WAIT, rx.recv()).await.unwrap().unwrap();
    assert_eq!(peer, "203.0.113.9:40123".parse().unwrap());
    assert_eq!(first, Some(*b"hello"));

    // Without the header the connection never reaches the frontend, and is counted.
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    c.write_all(b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00")
        .await
        .unwrap();
    wait_failures(&stats, 1).await;
    assert!(rx.try_recv().is_err());
}
