//! JWT in the CONNECT password field: HS256, RS256 or ES256, verified with a key file or a JWKS file (chosen
//! by `kid`); `exp` is required, `nbf`, `aud` and `iss` are checked when present or configured. The user name
//! comes from a claim (`sub` by default) and every scalar claim is kept for ACL patterns (`%{claim:NAME}`).

use crate::reload::{Reload, Watched};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `[auth.jwt]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// "HS256", "RS256" or "ES256".
    pub algorithm: JwtAlgorithm,
    /// HS256: a file holding the shared secret (a trailing newline is ignored); RS256/ES256: a PEM public key.
    pub key_file: Option<PathBuf>,
    /// A JWKS (JSON Web Key Set) file; the token's `kid` picks the key (a set of one needs no `kid`).
    pub jwks_file: Option<PathBuf>,
    /// Accepted `aud` values; when set, a token must name one of them.
    #[serde(default)]
    pub audience: Vec<String>,
    /// Required `iss`, if set.
    pub issuer: Option<String>,
    /// The claim that names the user (default `sub`).
    pub username_claim: Option<String>,
    /// Seconds of clock skew tolerated for `exp` and `nbf` (default 30).
    pub leeway: Option<u64>,
}

/// The algorithms accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum JwtAlgorithm {
    /// HMAC-SHA256 with a shared secret.
    HS256,
    /// RSA PKCS#1 v1.5 with SHA-256.
    RS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
}

impl JwtAlgorithm {
    fn to_jwt(self) -> Algorithm {
        match self {
            JwtAlgorithm::HS256 => Algorithm::HS256,
            JwtAlgorithm::RS256 => Algorithm::RS256,
            JwtAlgorithm::ES256 => Algorithm::ES256,
        }
    }
}

/// Verification keys as loaded from one file.
enum Keys {
    Single(DecodingKey),
    Set(Vec<(Option<String>, DecodingKey)>),
}

/// A verified token: the user it names and its scalar claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Value of the user-name claim.
    pub username: Arc<str>,
    /// Top-level string, number and boolean claims, by name.
    pub claims: Vec<(Arc<str>, Arc<str>)>,
}

/// Why a token was refused (for logs; the client only sees 0x86).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    /// Signature, expiry, audience or format check failed.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// No key matches the token's `kid`.
    #[error("no key for kid {0:?}")]
    UnknownKey(Option<String>),
    /// The user-name claim is missing or not a string.
    #[error("token has no string claim {0:?}")]
    NoUsername(String),
}

/// Verifies tokens against the configured keys (reloaded when their file changes).
pub struct JwtVerifier {
    algorithm: JwtAlgorithm,
    keys: Arc<Watched<Keys>>,
    validation: Validation,
    username_claim: String,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("algorithm", &self.algorithm)
            .field("keys", &self.keys.path())
            .finish_non_exhaustive()
    }
}

fn load_key(path: &Path, alg: JwtAlgorithm) -> Result<Keys, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let key = match alg {
        JwtAlgorithm::HS256 => {
            let secret = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
            let secret = secret.strip_suffix(b"\r").unwrap_or(secret);
            if secret.len() < 32 {
                return Err("an HS256 secret needs at least 32 bytes".into());
            }
            DecodingKey::from_secret(secret)
        }
        JwtAlgorithm::RS256 => DecodingKey::from_rsa_pem(&bytes).map_err(|e| e.to_string())?,
        JwtAlgorithm::ES256 => DecodingKey::from_ec_pem(&bytes).map_err(|e| e.to_string())?,
    };
    Ok(Keys::Single(key))
}

fn load_jwks(path: &Path) -> Result<Keys, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let set: JwkSet = serde_json::from_str(&text).map_err(|e| format!("not a JWKS: {e}"))?;
    let mut keys = Vec::new();
    for jwk in &set.keys {
        let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("key {:?}: {e}", jwk.common.key_id))?;
        keys.push((jwk.common.key_id.clone(), key));
    }
    if keys.is_empty() {
        return Err("the key set is empty".into());
    }
    Ok(Keys::Set(keys))
}

impl JwtVerifier {
    /// Loads the keys; errors are start-up errors.
    pub fn new(config: &JwtConfig) -> Result<JwtVerifier, String> {
        let keys = match (&config.key_file, &config.jwks_file) {
            (Some(path), None) => {
                let load: fn(&Path) -> Result<Keys, String> = match config.algorithm {
                    JwtAlgorithm::HS256 => |p| load_key(p, JwtAlgorithm::HS256),
                    JwtAlgorithm::RS256 => |p| load_key(p, JwtAlgorithm::RS256),
                    JwtAlgorithm::ES256 => |p| load_key(p, JwtAlgorithm::ES256),
                };
                Watched::open(path, "JWT key file", load)?
            }
            (None, Some(path)) => {
                if config.algorithm == JwtAlgorithm::HS256 {
                    return Err("auth.jwt: jwks_file is for RS256/ES256; HS256 takes key_file".into());
                }
                Watched::open(path, "JWKS file", load_jwks)?
            }
            _ => return Err("auth.jwt: set exactly one of key_file and jwks_file".into()),
        };
        let mut validation = Validation::new(config.algorithm.to_jwt());
        validation.leeway = config.leeway.unwrap_or(30);
        validation.validate_nbf = true;
        if config.audience.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&config.audience);
        }
        if let Some(iss) = &config.issuer {
            validation.set_issuer(&[iss]);
        }
        Ok(JwtVerifier {
            algorithm: config.algorithm,
            keys: Arc::new(keys),
            validation,
            username_claim: config.username_claim.clone().unwrap_or_else(|| "sub".into()),
        })
    }

    /// The key file, for the poller.
    pub fn reloadable(&self) -> Arc<dyn Reload> {
        self.keys.clone()
    }

    /// The configured algorithm.
    pub fn algorithm(&self) -> JwtAlgorithm {
        self.algorithm
    }

    /// Whether a password looks like a compact JWT (three base64url parts, a JSON header).
    pub fn looks_like_jwt(password: &[u8]) -> bool {
        password.starts_with(b"eyJ")
            && password.iter().filter(|&&b| b == b'.').count() == 2
            && password
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    }

    /// Verifies a token.
    pub fn verify(&self, token: &str) -> Result<Verified, JwtError> {
        let keys = self.keys.get();
        let key = match &*keys {
            Keys::Single(k) => k,
            Keys::Set(set) => {
                let kid = decode_header(token)
                    .map_err(|e| JwtError::Invalid(e.to_string()))?
                    .kid;
                let found = match &kid {
                    Some(kid) => set.iter().find(|(k, _)| k.as_deref() == Some(kid.as_str())),
                    None if set.len() == 1 => set.first(),
                    None => None,
                };
                &found.ok_or(JwtError::UnknownKey(kid))?.1
            }
        };
        let data = decode::<Map<String, Value>>(token, key, &self.validation)
            .map_err(|e| JwtError::Invalid(e.to_string()))?;
        let username = match data.claims.get(&self.username_claim) {
            Some(Value::String(s)) if !s.is_empty() => Arc::from(s.as_str()),
            _ => return Err(JwtError::NoUsername(self.username_claim.clone())),
        };
        let claims = data
            .claims
            .iter()
            .filter_map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return None,
                };
                Some((Arc::from(k.as_str()), Arc::from(v)))
            })
            .collect();
        Ok(Verified { username, claims })
    }
}

#[cfg(test)]
mod tests;
