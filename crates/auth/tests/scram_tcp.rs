//! SCRAM-SHA-256 enhanced authentication end to end: the real broker behind TCP on loopback with the
//! password-file policy, and `tern-client` doing the client side.

use std::sync::Arc;
use std::time::Duration;
use tern_auth::password::{HashCost, PasswordFile, StoredHash};
use tern_auth::{AuthConfig, ListenerAuth, TernPolicy};
use tern_broker::{Broker, CoreConfig, DriverConfig, TransportKind};
use tern_broker_core::Hooks;
use tern_client::{Client, ConnectOptions, ConnectProperties, ErrorKind, ProtocolVersion, QoS, ReasonCode};
use tern_transport_tcp::{TcpFrontend, TcpListenerConfig};

const WAIT: Duration = Duration::from_secs(10);

struct Setup {
    _dir: TempDir,
    _broker: Broker,
    url: String,
    policy: Arc<TernPolicy>,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start(tag: &str) -> Setup {
    let dir = std::env::temp_dir().join(format!("tern-scram-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("passwd");
    let mut file = PasswordFile::default();
    file.set("alice", StoredHash::create_scram("pencil", 4096).unwrap())
        .unwrap();
    let cheap = HashCost {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
    file.set("bob", StoredHash::create("builder", cheap).unwrap())
        .unwrap();
    file.save(&path).unwrap();
    let policy = Arc::new(
        TernPolicy::new(
            &AuthConfig {
                password_file: Some(path),
                ..AuthConfig::default()
            },
            vec![ListenerAuth {
                name: "tcp".into(),
                transport: TransportKind::Tcp,
                allow_anonymous: false,
            }],
        )
        .unwrap(),
    );
    let broker = Broker::start_with_hooks(
        CoreConfig::default(),
        DriverConfig::default(),
        Hooks {
            policy: policy.clone(),
            ..Hooks::default()
        },
    );
    let frontend = TcpFrontend::bind(TcpListenerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..TcpListenerConfig::default()
    })
    .unwrap();
    let url = format!("mqtt://{}", frontend.local_addr().unwrap());
    tokio::spawn(frontend.run(broker.clone()));
    Setup {
        _dir: TempDir(dir),
        _broker: broker,
        url,
        policy,
    }
}

fn v5(url: &str, id: &str) -> ConnectOptions {
    ConnectOptions::new(url)
        .protocol(ProtocolVersion::V5)
        .client_id(id)
        .timeout(WAIT)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_login_then_publish_and_subscribe() {
    let s = start("ok").await;
    let (mut sub, ack) = Client::connect(v5(&s.url, "sub").scram("alice", "pencil"))
        .await
        .expect("SCRAM login");
    assert_eq!(ack.reason_code, ReasonCode::Success);
    assert_eq!(
        ack.properties.authentication_method.as_deref(),
        Some("SCRAM-SHA-256")
    );
    sub.subscribe([tern_client::filter("t/#", QoS::AtLeastOnce)])
        .await
        .unwrap();
    let (publisher, _) = Client::connect(v5(&s.url, "pub").scram("alice", "pencil"))
        .await
        .unwrap();
    publisher
        .publish("t/1", "hello", QoS::AtLeastOnce, false)
        .await
        .unwrap();
    let got = tokio::time::timeout(WAIT, sub.recv()).await.unwrap().unwrap();
    assert_eq!(&got.payload[..], b"hello");
    assert_eq!(s.policy.stats().authenticated, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_scram_password_is_refused_with_0x86() {
    let s = start("wrong").await;
    let err = Client::connect(v5(&s.url, "c").scram("alice", "pencils"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectRefused);
    assert_eq!(err.reason_code(), Some(ReasonCode::BadUserNameOrPassword));
    // Unknown users look the same as wrong passwords.
    let err = Client::connect(v5(&s.url, "c").scram("mallory", "pencil"))
        .await
        .unwrap_err();
    assert_eq!(err.reason_code(), Some(ReasonCode::BadUserNameOrPassword));
    assert_eq!(s.policy.stats().bad_credentials, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argon2_user_cannot_use_scram_but_can_log_in_with_its_password() {
    let s = start("argon").await;
    let err = Client::connect(v5(&s.url, "c").scram("bob", "builder"))
        .await
        .unwrap_err();
    assert_eq!(err.reason_code(), Some(ReasonCode::NotAuthorized));
    Client::connect(v5(&s.url, "c").credentials("bob", Some("builder".into())))
        .await
        .expect("password login");
    // A SCRAM entry also accepts a plain password login.
    Client::connect(v5(&s.url, "d").credentials("alice", Some("pencil".into())))
        .await
        .expect("password login against a SCRAM entry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_4_12_0_1_unknown_method_is_refused_with_0x8c() {
    let s = start("method").await;
    let props = ConnectProperties {
        authentication_method: Some("GS2-KRB5".into()),
        ..ConnectProperties::default()
    };
    let err = Client::connect(v5(&s.url, "c").properties(props))
        .await
        .unwrap_err();
    assert_eq!(err.reason_code(), Some(ReasonCode::BadAuthenticationMethod));
}
