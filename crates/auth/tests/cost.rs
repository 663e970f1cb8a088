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
