//! What one credential check costs (run: `cargo test -p tern-auth --release -- --ignored --nocapture`).
//! This is the time a connection's task spends inside `block_in_place` at CONNECT.

use std::time::{Duration, Instant};
use tern_auth::password::{HashCost, StoredHash};

fn per_check(label: &str, n: u32, mut f: impl FnMut() -> bool) {
    assert!(f(), "{label}: the check must pass");
    let t = Instant::now();
    for _ in 0..n {
        assert!(f());
    }
    println!(
        "{label}: {:.3} ms per check",
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
        allow_anonymous: tern_auth::Anonymous::Loopback,
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

/// SCRAM-SHA-256's server side (no PBKDF2: StoredKey/ServerKey are stored) next to the client's PBKDF2.
#[test]
#[ignore = "timing, run on demand in release"]
fn scram_exchange_cost() {
    use base64::Engine;
    use tern_auth::scram::{Lookup, ScramCredential, ScramServer, client_key, salted_password};
    let b64 = base64::engine::general_purpose::STANDARD;
    let iterations = std::num::NonZeroU32::new(4096).unwrap();
    let cred = ScramCredential::derive(b"pencil", b"0123456789abcdef".to_vec(), iterations);
    // One client computation (its PBKDF2 is the expensive part), replayed against fresh server exchanges
    // with a fixed server nonce, so only the server's work is timed below.
    let salted = salted_password(b"pencil", &cred.salt, iterations);
    let ck = client_key(&salted);
    let stored = ring::digest::digest(&ring::digest::SHA256, &ck);
    let first_bare = "n=user,r=clientnonce";
    let server_first = format!("r=clientnonceSERVER,s={},i=4096", b64.encode(&cred.salt));
    let without_proof = "c=biws,r=clientnonceSERVER";
    let auth_message = format!("{first_bare},{server_first},{without_proof}");
    let sig = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, stored.as_ref()),
        auth_message.as_bytes(),
    );
    let proof: Vec<u8> = ck.iter().zip(sig.as_ref()).map(|(a, b)| a ^ b).collect();
    let client_final = format!("{without_proof},p={}", b64.encode(proof));
    per_check("SCRAM-SHA-256 server side, both steps", 20_000, || {
        let (server, _) = ScramServer::client_first(
            format!("n,,{first_bare}").as_bytes(),
            |_| Lookup::Found(cred.clone()),
            "SERVER",
            b"decoy",
        )
        .unwrap();
        server.client_final(client_final.as_bytes()).is_ok()
    });
    per_check("SCRAM-SHA-256 client side PBKDF2, 4096 iterations", 200, || {
        salted_password(b"pencil", &cred.salt, iterations) == salted
    });
}

/// The HTTP hook: one decision over loopback HTTP/1.1 (pooled connection) and one answered by the cache.
#[test]
#[ignore = "timing, run on demand in release"]
fn http_hook_cost() {
    use axum::routing::post;
    use tern_auth::http::{Action, DecisionCache, HttpHook};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let app = axum::Router::new().route(
            "/auth",
            post(|| async { axum::Json(serde_json::json!({"result": "allow"})) }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let hook = HttpHook::new(&tern_auth::HttpConfig {
            url: format!("http://{addr}/auth"),
            timeout_ms: Some(2000),
            authorize: true,
            cache_ttl: Some(60),
            cache_max_entries: None,
        })
        .unwrap();
        let body = serde_json::json!({"action": "connect", "username": "u"});
        assert!(hook.ask(&body).await.unwrap());
        let n = 2000;
        let t = Instant::now();
        for _ in 0..n {
            assert!(hook.ask(&body).await.unwrap());
        }
        println!(
            "HTTP decision over loopback: {:.1} µs per request (sequential, one pooled connection)",
            t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
        );
    });
    let cache = DecisionCache::new(Duration::from_secs(60), 100_000);
    let now = Instant::now();
    cache.insert("client-1", Action::Publish, "sensors/1/temp", true, now);
    let n = 1_000_000;
    let t = Instant::now();
    for _ in 0..n {
        assert_eq!(
            cache.get("client-1", Action::Publish, "sensors/1/temp", now),
            Some(true)
        );
    }
    println!(
        "cached publish decision: {:.0} ns per lookup",
        t.elapsed().as_secs_f64() * 1e9 / f64::from(n)
    );
}
