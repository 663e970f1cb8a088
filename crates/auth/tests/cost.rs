//! What one credential check costs (run: `cargo test -p tern-auth --release -- --ignored --nocapture`).
//! This is the time a connection's task spends inside `block_in_place` at CONNECT.

use std::time::Instant;
use tern_auth::password::{HashCost, StoredHash};

fn per_check(label: &str, n: u32, mut f: impl FnMut() -> bool) {
    assert!(f(), "{label}: the check must pass");
    let t = Instant::now();
    for _ in 0..n {
        assert!(f());
    }
    println!(
        "{label}: {:.2} ms per check",
        t.elapsed().as_secs_f64() * 1000.0 / f64::from(n)
    );
}

#[test]
#[ignore = "timing, run on demand in release"]
fn credential_check_cost() {
    let argon = StoredHash::create("pw", HashCost::default()).unwrap();
    per_check("argon2id m=19456 t=2 p=1 (tern passwd default)", 20, || {
        argon.verify(b"pw")
    });
    // mosquitto_passwd's $7$: 101 iterations of PBKDF2-HMAC-SHA512 (its default).
    let mut out = [0u8; 64];
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA512,
        std::num::NonZeroU32::new(101).unwrap(),
        b"abcdefghijkl",
        b"pw",
        &mut out,
    );
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let seven = StoredHash::parse(&format!(
        "$7$101${}${}",
        b64.encode(b"abcdefghijkl"),
        b64.encode(out)
    ))
    .unwrap();
    per_check("mosquitto $7$ (PBKDF2-SHA512, 101 iterations)", 2000, || {
        seven.verify(b"pw")
    });
}

/// Where the cost lands: 8 argon2id CONNECT checks at once on a 2-worker runtime, next to a task that
/// ticks every millisecond (standing in for every other connection). Reports the tick's worst delay with
/// the checks inside the policy (`block_in_place`) and, for comparison, run directly on the workers.
#[test]
#[ignore = "timing, run on demand in release"]
fn connect_storm_does_not_stall_other_tasks() {
    use std::sync::Arc;
    use std::time::Duration;
    use tern_auth::{AuthConfig, ListenerAuth, TernPolicy};
    use tern_broker_core::{AuthPolicy, ConnMeta, TransportKind};
    use tern_mqtt_codec::{Connect, ProtocolVersion};

    let dir = std::env::temp_dir().join(format!("tern-auth-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("passwd");
    let hash = StoredHash::create("pw", HashCost::default()).unwrap();
    std::fs::write(&path, format!("u:{}\n", hash.as_str())).unwrap();
    let cfg = AuthConfig {
        password_file: Some(path),
        ..AuthConfig::default()
    };
    let listeners = vec![ListenerAuth {
        name: "tcp".into(),
        transport: TransportKind::Tcp,
        allow_anonymous: false,
    }];
    let policy = Arc::new(TernPolicy::new(&cfg, listeners).unwrap());
    let meta = ConnMeta {
        peer: "192.0.2.1:1".parse().unwrap(),
        transport: TransportKind::Tcp,
        tls_identity: None,
        listener: None,
    };
    let mut connect = Connect::new(ProtocolVersion::V5, "c");
    connect.username = Some("u".into());
    connect.password = Some(bytes::Bytes::from_static(b"pw"));

    for inside_policy in [true, false] {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let worst = rt.block_on(async {
            let ticker = tokio::spawn(async {
                let mut worst = Duration::ZERO;
                for _ in 0..300 {
                    let t = Instant::now();
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    worst = worst.max(t.elapsed());
                }
                worst
            });
            let checks: Vec<_> = (0..8)
                .map(|_| {
                    let (policy, meta, connect, hash) =
                        (policy.clone(), meta.clone(), connect.clone(), hash.clone());
                    tokio::spawn(async move {
                        if inside_policy {
                            assert!(policy.authenticate(&meta, &connect).is_ok());
                        } else {
                            assert!(hash.verify(b"pw"));
                        }
                    })
                })
                .collect();
            for c in checks {
                c.await.unwrap();
            }
            ticker.await.unwrap()
        });
        let how = if inside_policy {
            "inside the policy (block_in_place)"
        } else {
            "directly on the workers"
        };
        println!(
            "8 concurrent argon2id checks {how}: worst 1 ms tick took {:.1} ms",
            worst.as_secs_f64() * 1000.0
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
