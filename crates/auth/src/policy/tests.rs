//! The policy as the core sees it: CONNECTs from loopback and remote peers, password files in both
//! formats, JWT, ACL with reload, MQTT-SN admission, counters.

use super::*;
use crate::password::{HashCost, StoredHash};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use tern_mqtt_codec::ProtocolVersion;

const CHEAP: HashCost = HashCost {
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
};

struct Dir(PathBuf);
impl Dir {
    fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("tern-auth-policy-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
    fn file(&self, name: &str, data: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, data).unwrap();
        p
    }
}
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn meta(peer: &str) -> ConnMeta {
    ConnMeta {
        peer: peer.parse().unwrap(),
        transport: TransportKind::Tcp,
        tls_identity: None,
        listener: None,
    }
}

fn connect(user: Option<&str>, password: Option<&str>) -> Connect {
    let mut c = Connect::new(ProtocolVersion::V5, "c1");
    c.username = user.map(Into::into);
    c.password = password.map(|p| Bytes::copy_from_slice(p.as_bytes()));
    c
}

fn tcp(allow_anonymous: Anonymous) -> Vec<ListenerAuth> {
    vec![ListenerAuth {
        name: "tcp:0.0.0.0:1883".into(),
        transport: TransportKind::Tcp,
        allow_anonymous,
    }]
}

/// A Mosquitto `$7$` entry built the way mosquitto_passwd builds one.
fn mosquitto_entry(password: &str) -> String {
    let salt = b"abcdefghijkl";
    let mut out = [0u8; 64];
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA512,
        std::num::NonZeroU32::new(101).unwrap(),
        salt,
        password.as_bytes(),
        &mut out,
    );
    format!("$7$101${}${}", STANDARD.encode(salt), STANDARD.encode(out))
}

#[test]
fn allow_anonymous_is_per_listener() {
    let listener = |name: &str, transport, allow_anonymous| ListenerAuth {
        name: name.into(),
        transport,
        allow_anonymous,
    };
    let listeners = vec![
        listener("tcp-open", TransportKind::Tcp, Anonymous::Allow),
        listener("tcp-closed", TransportKind::Tcp, Anonymous::Loopback),
        listener("quic-open", TransportKind::Quic, Anonymous::Allow),
        listener("ws-deny", TransportKind::WebSocket, Anonymous::Deny),
    ];
    let p = TernPolicy::new(&AuthConfig::default(), listeners).unwrap();
    let from = |name: Option<&str>, transport| ConnMeta {
        transport,
        listener: name.map(Arc::from),
        ..meta("192.0.2.1:4000")
    };
    let anon = connect(None, None);
    assert!(
        p.authenticate(&from(Some("tcp-open"), TransportKind::Tcp), &anon)
            .is_ok()
    );
    assert!(
        p.authenticate(&from(Some("quic-open"), TransportKind::Quic), &anon)
            .is_ok()
    );
    let refused = Err(ReasonCode::NotAuthorized);
    assert_eq!(
        p.authenticate(&from(Some("tcp-closed"), TransportKind::Tcp), &anon),
        refused
    );
    // Unnamed connections get their transport's setting, closed when its listeners differ.
    assert_eq!(p.authenticate(&from(None, TransportKind::Tcp), &anon), refused);
    assert!(p.authenticate(&from(None, TransportKind::Quic), &anon).is_ok());
    // `false` refuses anonymous clients from loopback too; the default admits them from there only.
    let local = |name: &str, transport| ConnMeta {
        transport,
        listener: Some(Arc::from(name)),
        ..meta("127.0.0.1:4000")
    };
    assert_eq!(
        p.authenticate(&local("ws-deny", TransportKind::WebSocket), &anon),
        refused
    );
    assert!(
        p.authenticate(&local("tcp-closed", TransportKind::Tcp), &anon)
            .is_ok()
    );
    // An unknown name admits no one.
    assert_eq!(
        p.authenticate(&from(Some("other"), TransportKind::Quic), &anon),
        refused
    );
    // Names are unique.
    let twice = vec![
        listener("a", TransportKind::Tcp, Anonymous::Allow),
        listener("a", TransportKind::WebSocket, Anonymous::Allow),
    ];
    assert!(TernPolicy::new(&AuthConfig::default(), twice).is_err());
}

#[test]
fn anonymous_is_loopback_only_by_default() {
    let p = TernPolicy::new(&AuthConfig::default(), tcp(Anonymous::Loopback)).unwrap();
    assert!(
        p.authenticate(&meta("127.0.0.1:4000"), &connect(None, None))
            .is_ok()
    );
    assert!(p.authenticate(&meta("[::1]:4000"), &connect(None, None)).is_ok());
    assert_eq!(
        p.authenticate(&meta("192.0.2.1:4000"), &connect(None, None)),
        Err(ReasonCode::NotAuthorized)
    );
    // With no credential mechanism configured a user name is ignored: still anonymous.
    let id = p
        .authenticate(&meta("127.0.0.1:4000"), &connect(Some("bob"), None))
        .unwrap();
    assert_eq!(id.username, None);
    let open = TernPolicy::new(&AuthConfig::default(), tcp(Anonymous::Allow)).unwrap();
    assert!(
        open.authenticate(&meta("192.0.2.1:4000"), &connect(None, None))
            .is_ok()
    );
    let s = p.stats();
    assert_eq!((s.anonymous, s.anonymous_refused), (3, 1));
    assert!(
        p.describe()
            .contains("tcp:0.0.0.0:1883: anonymous from loopback only"),
        "{}",
        p.describe()
    );
}

#[test]
fn conflicting_listeners_are_refused() {
    let mut l = tcp(Anonymous::Allow);
    l.extend(tcp(Anonymous::Loopback));
    assert!(TernPolicy::new(&AuthConfig::default(), l).is_err());
}

#[test]
fn password_file_both_formats_and_reload() {
    let dir = Dir::new("pw");
    let argon = StoredHash::create("alice-pw", CHEAP).unwrap();
    let path = dir.file(
        "passwd",
        &format!("alice:{}\nbob:{}\n", argon.as_str(), mosquitto_entry("bob-pw")),
    );
    let cfg = AuthConfig {
        password_file: Some(path.clone()),
        ..AuthConfig::default()
    };
    let p = TernPolicy::new(&cfg, tcp(Anonymous::Loopback)).unwrap();
    let remote = meta("192.0.2.9:1");
    let id = p
        .authenticate(&remote, &connect(Some("alice"), Some("alice-pw")))
        .unwrap();
    assert_eq!(id.username.as_deref(), Some("alice"));
    assert!(
        p.authenticate(&remote, &connect(Some("bob"), Some("bob-pw")))
            .is_ok()
    );
    let bad = Err(ReasonCode::BadUserNameOrPassword);
    assert_eq!(
        p.authenticate(&remote, &connect(Some("bob"), Some("alice-pw"))),
        bad
    );
    assert_eq!(p.authenticate(&remote, &connect(Some("eve"), Some("x"))), bad);
    // Credentials are never downgraded to anonymous, even from loopback.
    assert_eq!(
        p.authenticate(&meta("127.0.0.1:1"), &connect(Some("bob"), None)),
        bad
    );
    assert!(p.authenticate(&meta("127.0.0.1:1"), &connect(None, None)).is_ok());

    // Removing bob from the file takes effect at the next reload.
    std::fs::write(&path, format!("alice:{}\n", argon.as_str())).unwrap();
    p.reload_now();
    assert_eq!(
        p.authenticate(&remote, &connect(Some("bob"), Some("bob-pw"))),
        bad
    );
    let s = p.stats();
    assert_eq!((s.authenticated, s.bad_credentials), (2, 4));
}

#[test]
fn tls_identity_is_the_user_name() {
    let p = TernPolicy::new(&AuthConfig::default(), tcp(Anonymous::Loopback)).unwrap();
    let mut m = meta("192.0.2.1:1");
    m.tls_identity = Some("device-7".into());
    let id = p.authenticate(&m, &connect(None, None)).unwrap();
    assert_eq!(id.username.as_deref(), Some("device-7"));
}

#[test]
fn jwt_identity_and_claims_in_acl() {
    let dir = Dir::new("jwt");
    let secret = "0123456789abcdef0123456789abcdef";
    let acl = "default = \"deny\"\n[[rule]]\npermission = \"allow\"\ntopics = [\"t/%{claim:tenant}/#\"]\n";
    let cfg: AuthConfig = toml::from_str(&format!(
        "acl_file = {:?}\n[jwt]\nalgorithm = \"HS256\"\nkey_file = {:?}\naudience = [\"tern\"]\n",
        dir.file("acl.toml", acl),
        dir.file("secret", secret)
    ))
    .unwrap();
    let p = TernPolicy::new(&cfg, tcp(Anonymous::Loopback)).unwrap();
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 60;
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &serde_json::json!({"sub": "svc", "aud": "tern", "exp": exp, "tenant": "acme"}),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    let remote = meta("192.0.2.1:1");
    let mut id = p.authenticate(&remote, &connect(None, Some(&token))).unwrap();
    assert_eq!(id.username.as_deref(), Some("svc"));
    id.client_id = Some(Arc::from("c1"));
    assert!(p.authorize_publish(&id, "t/acme/x"));
    assert!(!p.authorize_publish(&id, "t/other/x"));
    assert!(p.authorize_subscribe(&id, "t/acme/#"));
    assert!(!p.authorize_subscribe(&id, "t/#"));
    assert_eq!(
        p.authenticate(&remote, &connect(Some("someone-else"), Some(&token))),
        Err(ReasonCode::BadUserNameOrPassword)
    );
    let tampered = format!("{}x", &token[..token.len() - 1]);
    assert!(p.authenticate(&remote, &connect(None, Some(&tampered))).is_err());
    let s = p.stats();
    assert_eq!((s.publish_denied, s.subscribe_denied), (1, 1));
}

#[test]
fn acl_reload_and_sn() {
    let dir = Dir::new("acl");
    let path = dir.file("acl.toml", "default = \"allow\"\n");
    let cfg: AuthConfig = toml::from_str(&format!(
        "acl_file = {path:?}\n[mqttsn]\nnetworks = [\"10.0.0.0/8\"]\nclient_ids = [\"sn-*\"]\n"
    ))
    .unwrap();
    let p = TernPolicy::new(&cfg, tcp(Anonymous::Loopback)).unwrap();
    let id = p
        .authenticate_sn("sn-1", "10.1.1.1:5000".parse().unwrap())
        .unwrap();
    assert_eq!(id.client_id.as_deref(), Some("sn-1"));
    assert!(
        p.authenticate_sn("other", "10.1.1.1:5000".parse().unwrap())
            .is_err()
    );
    assert!(
        p.authenticate_sn("sn-1", "192.0.2.1:5000".parse().unwrap())
            .is_err()
    );
    assert!(p.authorize_publish(&id, "sensors/sn-1/t"));
    std::fs::write(
        &path,
        "default = \"deny\"\n[[rule]]\npermission = \"allow\"\naction = \"publish\"\ntopics = [\"sensors/%c/+\"]\n",
    )
    .unwrap();
    p.reload_now();
    assert!(p.authorize_publish(&id, "sensors/sn-1/t"));
    assert!(!p.authorize_publish(&id, "sensors/sn-2/t"));
    assert!(!p.authorize_subscribe(&id, "sensors/sn-1/t"));
    // A broken edit keeps the rules in force.
    std::fs::write(&path, "default = ").unwrap();
    p.reload_now();
    assert!(p.authorize_publish(&id, "sensors/sn-1/t"));
    assert_eq!(p.stats().sn_refused, 2);
}

#[test]
fn password_check_inside_a_multi_thread_runtime() {
    let dir = Dir::new("rt");
    let argon = StoredHash::create("pw", CHEAP).unwrap();
    let cfg = AuthConfig {
        password_file: Some(dir.file("passwd", &format!("u:{}\n", argon.as_str()))),
        ..AuthConfig::default()
    };
    let p = Arc::new(TernPolicy::new(&cfg, tcp(Anonymous::Loopback)).unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let ok = rt.block_on({
        let p = p.clone();
        async move {
            tokio::spawn(async move {
                p.authenticate(&meta("192.0.2.1:1"), &connect(Some("u"), Some("pw")))
                    .is_ok()
            })
            .await
            .unwrap()
        }
    });
    assert!(ok);
    // And on a current-thread runtime (no block_in_place there).
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert!(rt.block_on(async {
        p.authenticate(&meta("192.0.2.1:1"), &connect(Some("u"), Some("pw")))
            .is_ok()
    }));
}

#[test]
fn ban_list_refuses_and_reloads() {
    let dir = Dir::new("ban");
    let path = dir.file("bans.toml", "client_ids = [\"c1\"]\n");
    let config = AuthConfig {
        ban_file: Some(path.clone()),
        ..AuthConfig::default()
    };
    let p = TernPolicy::new(&config, tcp(Anonymous::Allow)).unwrap();
    let local = meta("127.0.0.1:5000");
    assert_eq!(
        p.authenticate(&local, &connect(None, None)),
        Err(ReasonCode::Banned)
    );
    let mut other = connect(Some("mallory"), None);
    other.client_id = "c2".into();
    assert!(p.authenticate(&local, &other).is_ok(), "mallory not banned yet");
    assert!(p.authenticate_sn("c1", "10.0.0.1:1".parse().unwrap()).is_err());
    // Runtime change: edit the file (a different length, so the change is seen within one mtime tick).
    std::fs::write(&path, "usernames = [\"mallory\"]\nnetworks = [\"10.9.0.0/16\"]\n").unwrap();
    p.reload_now();
    assert!(
        p.authenticate(&local, &connect(None, None)).is_ok(),
        "c1 unbanned"
    );
    assert_eq!(p.authenticate(&local, &other), Err(ReasonCode::Banned));
    assert_eq!(
        p.authenticate(&meta("10.9.3.4:1"), &connect(None, None)),
        Err(ReasonCode::Banned)
    );
    assert!(p.authenticate_sn("sn", "10.9.0.1:1".parse().unwrap()).is_err());
    assert!(p.authenticate_sn("sn", "127.0.0.1:1".parse().unwrap()).is_ok());
    assert_eq!(p.stats().banned, 5);
    assert!(p.describe().contains("ban list"));
}
