//! SCRAM-SHA-256 enhanced authentication end to end: the real broker behind TCP on loopback with the
//! password-file policy, and `tern-client` doing the client side.

use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;
use tern_auth::password::{HashCost, PasswordFile, StoredHash};
use tern_auth::{AuthConfig, TernPolicy};
use tern_broker::Broker;
use tern_client::{
    Client, ConnectOptions, ConnectProperties, ErrorKind, Packet, ProtocolVersion, QoS, RawConnection,
    ReasonCode,
};
use tern_mqtt_codec::{Auth, AuthProperties, Connect};

mod support;

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
    let config = AuthConfig {
        password_file: Some(path),
        ..AuthConfig::default()
    };
    let policy = support::policy(&config, "tcp");
    let (broker, url) = support::serve(policy.clone()).await;
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

    // Re-authentication (AUTH 0x19) while connected; traffic goes on.
    sub.reauthenticate().await.expect("re-authentication");
    publisher.reauthenticate().await.expect("re-authentication");
    publisher
        .publish("t/2", "again", QoS::AtLeastOnce, false)
        .await
        .unwrap();
    let got = tokio::time::timeout(WAIT, sub.recv()).await.unwrap().unwrap();
    assert_eq!(&got.payload[..], b"again");
    assert_eq!(s.policy.stats().authenticated, 4);

    // Only connections made with SCRAM can re-authenticate.
    let (plain, _) = Client::connect(v5(&s.url, "plain").credentials("alice", Some("pencil".into())))
        .await
        .unwrap();
    let err = plain.reauthenticate().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
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

/// The client side of SCRAM written out for the raw-packet test (tern-client's is private).
struct RawScram {
    first_bare: String,
    nonce: String,
    password: &'static [u8],
}

impl RawScram {
    fn new(user: &str, password: &'static [u8], nonce: &str) -> RawScram {
        RawScram {
            first_bare: format!("n={user},r={nonce}"),
            nonce: nonce.into(),
            password,
        }
    }

    fn client_first(&self) -> Bytes {
        Bytes::from(format!("n,,{}", self.first_bare))
    }

    /// client-final for `server_first`, and the server-final to expect.
    fn client_final(&self, server_first: &[u8]) -> (Bytes, Vec<u8>) {
        use base64::Engine;
        use ring::hmac;
        use tern_auth::scram::{client_key, salted_password};
        let b64 = base64::engine::general_purpose::STANDARD;
        let sf = std::str::from_utf8(server_first).unwrap();
        let attr = |k: &str| sf.split(',').find_map(|p| p.strip_prefix(k)).unwrap().to_string();
        let (r, s, i) = (attr("r="), attr("s="), attr("i="));
        assert!(r.starts_with(&self.nonce));
        let salted = salted_password(self.password, &b64.decode(s).unwrap(), i.parse().unwrap());
        let ck = client_key(&salted);
        let stored = ring::digest::digest(&ring::digest::SHA256, &ck);
        let without_proof = format!("c=biws,r={r}");
        let auth_message = format!("{},{sf},{without_proof}", self.first_bare);
        let sign = |key: &[u8]| hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), auth_message.as_bytes());
        let proof: Vec<u8> = ck
            .iter()
            .zip(sign(stored.as_ref()).as_ref())
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &salted), b"Server Key");
        let server_final = format!("v={}", b64.encode(sign(server_key.as_ref())));
        (
            Bytes::from(format!("{without_proof},p={}", b64.encode(proof))),
            server_final.into_bytes(),
        )
    }
}

fn auth_packet(code: ReasonCode, data: Bytes) -> Packet {
    Packet::Auth(Auth {
        reason_code: code,
        properties: AuthProperties {
            authentication_method: Some("SCRAM-SHA-256".into()),
            authentication_data: Some(data),
            ..AuthProperties::default()
        },
    })
}

async fn recv_auth(raw: &mut RawConnection) -> Auth {
    match raw.recv_packet(WAIT).await.unwrap() {
        Some(Packet::Auth(a)) => a,
        other => panic!("expected AUTH, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_4_12_1_reauthentication_over_tcp() {
    let s = start("reauth").await;
    let mut raw = RawConnection::connect(&s.url).await.unwrap();
    raw.set_version(ProtocolVersion::V5);
    let first = RawScram::new("alice", b"pencil", "nonce-one");
    let mut connect = Connect::new(ProtocolVersion::V5, "raw-reauth");
    connect.properties.authentication_method = Some("SCRAM-SHA-256".into());
    connect.properties.authentication_data = Some(first.client_first());
    raw.send(&Packet::Connect(Box::new(connect)), ProtocolVersion::V5)
        .await
        .unwrap();
    let challenge = recv_auth(&mut raw).await;
    assert_eq!(challenge.reason_code, ReasonCode::ContinueAuthentication);
    let (answer, expected) = first.client_final(&challenge.properties.authentication_data.unwrap());
    raw.send(
        &auth_packet(ReasonCode::ContinueAuthentication, answer),
        ProtocolVersion::V5,
    )
    .await
    .unwrap();
    let Some(Packet::ConnAck(ack)) = raw.recv_packet(WAIT).await.unwrap() else {
        panic!("CONNACK")
    };
    assert_eq!(ack.reason_code, ReasonCode::Success);
    assert_eq!(ack.properties.authentication_data.as_deref(), Some(&expected[..]));

    // Re-authenticate: AUTH 0x19, the same exchange, AUTH 0x00 with the server's signature.
    let again = RawScram::new("alice", b"pencil", "nonce-two");
    raw.send(
        &auth_packet(ReasonCode::ReAuthenticate, again.client_first()),
        ProtocolVersion::V5,
    )
    .await
    .unwrap();
    let challenge = recv_auth(&mut raw).await;
    let (answer, expected) = again.client_final(&challenge.properties.authentication_data.unwrap());
    raw.send(
        &auth_packet(ReasonCode::ContinueAuthentication, answer),
        ProtocolVersion::V5,
    )
    .await
    .unwrap();
    let done = recv_auth(&mut raw).await;
    assert_eq!(done.reason_code, ReasonCode::Success);
    assert_eq!(
        done.properties.authentication_data.as_deref(),
        Some(&expected[..])
    );

    // [MQTT-4.12.1-2]: a failed re-authentication disconnects.
    let wrong = RawScram::new("alice", b"wrong", "nonce-three");
    raw.send(
        &auth_packet(ReasonCode::ReAuthenticate, wrong.client_first()),
        ProtocolVersion::V5,
    )
    .await
    .unwrap();
    let challenge = recv_auth(&mut raw).await;
    let (answer, _) = wrong.client_final(&challenge.properties.authentication_data.unwrap());
    raw.send(
        &auth_packet(ReasonCode::ContinueAuthentication, answer),
        ProtocolVersion::V5,
    )
    .await
    .unwrap();
    let d = raw.expect_closed(WAIT).await.unwrap().expect("DISCONNECT");
    assert_eq!(d.reason_code, ReasonCode::NotAuthorized);
}
