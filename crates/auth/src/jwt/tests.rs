//! Tokens signed here (HS256 with a secret, ES256 with a fresh ring key, RS256 with the test key in
//! `testdata/`) and verified through key files and a JWKS file.

use super::*;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{EncodingKey, Header, encode};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::json;
use std::time::{SystemTime, UNIX_EPOCH};

struct Dir(PathBuf);
impl Dir {
    fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("tern-auth-jwt-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
    fn file(&self, name: &str, data: &[u8]) -> PathBuf {
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

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn config(alg: JwtAlgorithm) -> JwtConfig {
    JwtConfig {
        algorithm: alg,
        key_file: None,
        jwks_file: None,
        audience: Vec::new(),
        issuer: None,
        username_claim: None,
        leeway: Some(0),
    }
}

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn hs(claims: serde_json::Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap()
}

#[test]
fn hs256_claims_expiry_and_audience() {
    let dir = Dir::new("hs");
    let mut cfg = config(JwtAlgorithm::HS256);
    cfg.key_file = Some(dir.file("secret", &[SECRET, b"\n"].concat()));
    cfg.audience = vec!["tern".into()];
    let v = JwtVerifier::new(&cfg).unwrap();
    let good = hs(json!({"sub": "alice", "aud": "tern", "exp": now() + 60, "tenant": "acme", "level": 3}));
    assert!(JwtVerifier::looks_like_jwt(good.as_bytes()));
    let ok = v.verify(&good).unwrap();
    assert_eq!(&*ok.username, "alice");
    assert!(ok.claims.contains(&(Arc::from("tenant"), Arc::from("acme"))));
    assert!(ok.claims.contains(&(Arc::from("level"), Arc::from("3"))));

    let expired = hs(json!({"sub": "alice", "aud": "tern", "exp": now() - 10}));
    assert!(matches!(v.verify(&expired), Err(JwtError::Invalid(_))));
    let early = hs(json!({"sub": "alice", "aud": "tern", "exp": now() + 60, "nbf": now() + 30}));
    assert!(v.verify(&early).is_err(), "nbf in the future");
    let wrong_aud = hs(json!({"sub": "alice", "aud": "other", "exp": now() + 60}));
    assert!(v.verify(&wrong_aud).is_err());
    let no_exp = hs(json!({"sub": "alice", "aud": "tern"}));
    assert!(v.verify(&no_exp).is_err(), "exp is required");
    let no_sub = hs(json!({"aud": "tern", "exp": now() + 60}));
    assert_eq!(v.verify(&no_sub), Err(JwtError::NoUsername("sub".into())));
    let forged = encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": "alice", "aud": "tern", "exp": now() + 60}),
        &EncodingKey::from_secret(b"another secret of thirty-two bytes!"),
    )
    .unwrap();
    assert!(v.verify(&forged).is_err());
    assert!(!JwtVerifier::looks_like_jwt(b"hunter2"));
}

#[test]
fn short_hs256_secret_refused() {
    let dir = Dir::new("short");
    let mut cfg = config(JwtAlgorithm::HS256);
    cfg.key_file = Some(dir.file("secret", b"short"));
    assert!(JwtVerifier::new(&cfg).is_err());
    cfg.jwks_file = Some(dir.file("jwks", b"{}"));
    assert!(JwtVerifier::new(&cfg).is_err(), "both key sources");
}

#[test]
fn rs256_with_pem_key_and_algorithm_pinned() {
    let dir = Dir::new("rs");
    let mut cfg = config(JwtAlgorithm::RS256);
    cfg.key_file = Some(dir.file("pub.pem", include_bytes!("../../testdata/rsa_test_pub.pem")));
    cfg.username_claim = Some("user".into());
    let v = JwtVerifier::new(&cfg).unwrap();
    let key = EncodingKey::from_rsa_pem(include_bytes!("../../testdata/rsa_test_key.pem")).unwrap();
    let token = encode(
        &Header::new(Algorithm::RS256),
        &json!({"user": "bob", "exp": now() + 60}),
        &key,
    )
    .unwrap();
    assert_eq!(&*v.verify(&token).unwrap().username, "bob");
    // An HS256 token "signed" with the public key must not pass (algorithm confusion).
    let pem = include_bytes!("../../testdata/rsa_test_pub.pem");
    let confused = encode(
        &Header::new(Algorithm::HS256),
        &json!({"user": "bob", "exp": now() + 60}),
        &EncodingKey::from_secret(pem),
    )
    .unwrap();
    assert!(v.verify(&confused).is_err());
}

fn es_key() -> (EcdsaKeyPair, Vec<u8>) {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    (pair, pkcs8.as_ref().to_vec())
}

#[test]
fn es256_with_pem_and_jwks_with_reload() {
    let dir = Dir::new("es");
    let (pair, pkcs8) = es_key();
    let point = pair.public_key().as_ref().to_vec();
    // SubjectPublicKeyInfo for a P-256 key: fixed prefix, then the uncompressed point.
    let mut spki = hex("3059301306072a8648ce3d020106082a8648ce3d030107034200");
    spki.extend_from_slice(&point);
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        STANDARD.encode(&spki)
    );
    let mut cfg = config(JwtAlgorithm::ES256);
    cfg.key_file = Some(dir.file("pub.pem", pem.as_bytes()));
    let v = JwtVerifier::new(&cfg).unwrap();
    let key = EncodingKey::from_ec_der(&pkcs8);
    let mut header = Header::new(Algorithm::ES256);
    let token = encode(&header, &json!({"sub": "carol", "exp": now() + 60}), &key).unwrap();
    assert_eq!(&*v.verify(&token).unwrap().username, "carol");

    // The same key in a JWKS, picked by kid; a second key arrives by reloading the file.
    let jwk = |kid: &str, point: &[u8]| {
        json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256",
               "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])})
    };
    let jwks_path = dir.file(
        "jwks.json",
        json!({"keys": [jwk("k1", &point)]}).to_string().as_bytes(),
    );
    let mut cfg = config(JwtAlgorithm::ES256);
    cfg.jwks_file = Some(jwks_path.clone());
    let v = JwtVerifier::new(&cfg).unwrap();
    assert!(v.verify(&token).is_ok(), "a set of one needs no kid");
    header.kid = Some("k1".into());
    let with_kid = encode(&header, &json!({"sub": "carol", "exp": now() + 60}), &key).unwrap();
    assert!(v.verify(&with_kid).is_ok());

    let (pair2, pkcs8_2) = es_key();
    header.kid = Some("k2".into());
    let token2 = encode(
        &header,
        &json!({"sub": "dave", "exp": now() + 60}),
        &EncodingKey::from_ec_der(&pkcs8_2),
    )
    .unwrap();
    assert_eq!(v.verify(&token2), Err(JwtError::UnknownKey(Some("k2".into()))));
    let both = json!({"keys": [jwk("k1", &point), jwk("k2", pair2.public_key().as_ref())]});
    std::fs::write(&jwks_path, both.to_string()).unwrap();
    v.keys.reload_if_changed().unwrap();
    assert_eq!(&*v.verify(&token2).unwrap().username, "dave");
    assert!(
        v.verify(&token).is_err(),
        "two keys: a token without kid is refused"
    );
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
