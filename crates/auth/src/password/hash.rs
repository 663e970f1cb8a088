//! Stored password hashes: argon2id PHC strings (what Tern writes), and Mosquitto's `$7$` (PBKDF2-SHA512) and
//! `$6$` (salted SHA-512) so a Mosquitto password file works unchanged, and RFC 5803 SCRAM-SHA-256 entries,
//! the only kind MQTT 5 enhanced authentication (SCRAM) can use.

use crate::scram::ScramCredential;
use argon2::password_hash::{PasswordHash as Phc, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::rand::{SecureRandom, SystemRandom};
use std::fmt;
use std::num::NonZeroU32;

/// Why a stored hash or a hashing request was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HashError {
    /// The string is none of the supported formats.
    #[error("unsupported password hash format (expected $argon2id$…, $7$…, $6$… or SCRAM-SHA-256$…)")]
    UnknownFormat,
    /// A supported format with a malformed field.
    #[error("malformed {0} password hash")]
    Malformed(&'static str),
    /// Hashing a new password failed (bad cost parameters or no randomness).
    #[error("cannot hash the password: {0}")]
    Hashing(String),
}

/// Cost of new argon2id hashes. The default is argon2's recommended m=19 MiB, t=2, p=1 (about 20-40 ms per
/// check on one core in a release build).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for HashCost {
    fn default() -> HashCost {
        HashCost {
            memory_kib: Params::DEFAULT_M_COST,
            iterations: Params::DEFAULT_T_COST,
            parallelism: Params::DEFAULT_P_COST,
        }
    }
}

/// One user's stored hash. The original text is kept so rewriting a file leaves untouched entries byte for byte.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredHash {
    text: String,
    kind: Kind,
}

#[derive(Clone, PartialEq, Eq)]
enum Kind {
    /// A PHC string for argon2 (id, i or d); parameters and salt live in the string.
    Argon2,
    /// Mosquitto `$7$iterations$salt$hash`: PBKDF2-HMAC-SHA512.
    Pbkdf2Sha512 {
        iterations: NonZeroU32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    /// Mosquitto `$6$salt$hash`: SHA-512 over password then salt.
    Sha512 { salt: Vec<u8>, hash: Vec<u8> },
    /// RFC 5803 `SCRAM-SHA-256$i:salt$StoredKey:ServerKey`.
    Scram(ScramCredential),
}

impl fmt::Debug for StoredHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            Kind::Argon2 => "StoredHash(argon2, <redacted>)",
            Kind::Pbkdf2Sha512 { .. } => "StoredHash(pbkdf2-sha512, <redacted>)",
            Kind::Sha512 { .. } => "StoredHash(sha512, <redacted>)",
            Kind::Scram(_) => "StoredHash(scram-sha-256, <redacted>)",
        })
    }
}

impl StoredHash {
    /// Parses a stored hash as found after `user:` in a password file.
    pub fn parse(text: &str) -> Result<StoredHash, HashError> {
        let kind = if text.starts_with("$argon2") {
            let phc = Phc::new(text).map_err(|_| HashError::Malformed("argon2"))?;
            Algorithm::try_from(phc.algorithm).map_err(|_| HashError::Malformed("argon2"))?;
            if phc.hash.is_none() || phc.salt.is_none() {
                return Err(HashError::Malformed("argon2"));
            }
            Kind::Argon2
        } else if let Some(rest) = text.strip_prefix("$7$") {
            let mut parts = rest.split('$');
            let bad = || HashError::Malformed("$7$ (PBKDF2-SHA512)");
            let iterations = parts
                .next()
                .and_then(|i| i.parse::<NonZeroU32>().ok())
                .ok_or_else(bad)?;
            let salt = parts
                .next()
                .and_then(|s| STANDARD.decode(s).ok())
                .ok_or_else(bad)?;
            let hash = parts
                .next()
                .and_then(|s| STANDARD.decode(s).ok())
                .ok_or_else(bad)?;
            if parts.next().is_some() || hash.is_empty() || salt.is_empty() {
                return Err(bad());
            }
            Kind::Pbkdf2Sha512 {
                iterations,
                salt,
                hash,
            }
        } else if let Some(rest) = text.strip_prefix("$6$") {
            let bad = || HashError::Malformed("$6$ (SHA-512)");
            let (salt, hash) = rest.split_once('$').ok_or_else(bad)?;
            let salt = STANDARD.decode(salt).map_err(|_| bad())?;
            let hash = STANDARD.decode(hash).map_err(|_| bad())?;
            if hash.len() != 64 || salt.is_empty() {
                return Err(bad());
            }
            Kind::Sha512 { salt, hash }
        } else if text.starts_with("SCRAM-SHA-256$") {
            Kind::Scram(ScramCredential::parse(text).ok_or(HashError::Malformed("SCRAM-SHA-256"))?)
        } else {
            return Err(HashError::UnknownFormat);
        };
        Ok(StoredHash {
            text: text.to_string(),
            kind,
        })
    }

    /// Hashes a new password with argon2id and a fresh 16-byte salt.
    pub fn create(password: &str, cost: HashCost) -> Result<StoredHash, HashError> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| HashError::Hashing(e.to_string()))?;
        let mut salt = [0u8; 16];
        SystemRandom::new()
            .fill(&mut salt)
            .map_err(|_| HashError::Hashing("no system randomness".into()))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| HashError::Hashing(e.to_string()))?;
        let hash = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| HashError::Hashing(e.to_string()))?;
        Ok(StoredHash {
            text: hash.to_string(),
            kind: Kind::Argon2,
        })
    }

    /// A SCRAM-SHA-256 credential for `password` with a fresh 16-byte salt (`tern passwd --scram`).
    pub fn create_scram(password: &str, iterations: u32) -> Result<StoredHash, HashError> {
        let iterations = NonZeroU32::new(iterations)
            .filter(|i| i.get() >= 4096)
            .ok_or_else(|| HashError::Hashing("SCRAM needs at least 4096 iterations (RFC 7677)".into()))?;
        let mut salt = vec![0u8; 16];
        SystemRandom::new()
            .fill(&mut salt)
            .map_err(|_| HashError::Hashing("no system randomness".into()))?;
        let cred = ScramCredential::derive(password.as_bytes(), salt, iterations);
        Ok(StoredHash {
            text: cred.render(),
            kind: Kind::Scram(cred),
        })
    }

    /// The SCRAM credential, if this entry is one.
    pub fn scram(&self) -> Option<&ScramCredential> {
        match &self.kind {
            Kind::Scram(c) => Some(c),
            _ => None,
        }
    }

    /// Whether `password` matches, compared in constant time. Slow by design for argon2 and `$7$`.
    pub fn verify(&self, password: &[u8]) -> bool {
        match &self.kind {
            Kind::Argon2 => match Phc::new(&self.text) {
                Ok(phc) => Argon2::default().verify_password(password, &phc).is_ok(),
                Err(_) => false,
            },
            Kind::Pbkdf2Sha512 {
                iterations,
                salt,
                hash,
            } => ring::pbkdf2::verify(
                ring::pbkdf2::PBKDF2_HMAC_SHA512,
                *iterations,
                salt,
                password,
                hash,
            )
            .is_ok(),
            Kind::Sha512 { salt, hash } => {
                let mut ctx = ring::digest::Context::new(&ring::digest::SHA512);
                ctx.update(password);
                ctx.update(salt);
                constant_time_eq(ctx.finish().as_ref(), hash)
            }
            Kind::Scram(c) => c.verify_password(password),
        }
    }

    /// The text written to the password file.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// A short name of the scheme, for listings and logs.
    pub fn scheme(&self) -> &'static str {
        match self.kind {
            Kind::Argon2 => "argon2",
            Kind::Pbkdf2Sha512 { .. } => "pbkdf2-sha512",
            Kind::Sha512 { .. } => "sha512",
            Kind::Scram(_) => "scram-sha-256",
        }
    }
}

/// Equal-length byte strings compared without an early exit.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap argon2 parameters so debug-build tests stay fast.
    pub(crate) const CHEAP: HashCost = HashCost {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    #[test]
    fn argon2id_round_trip() {
        let h = StoredHash::create("s3cret", CHEAP).unwrap();
        assert!(
            h.as_str().starts_with("$argon2id$v=19$m=64,t=1,p=1$"),
            "{}",
            h.as_str()
        );
        assert!(h.verify(b"s3cret"));
        assert!(!h.verify(b"s3cret "));
        let again = StoredHash::parse(h.as_str()).unwrap();
        assert!(again.verify(b"s3cret"));
        assert_ne!(
            StoredHash::create("s3cret", CHEAP).unwrap(),
            h,
            "fresh salt every time"
        );
    }

    #[test]
    fn mosquitto_pbkdf2_sha512() {
        // Built the way mosquitto_passwd does: 12-byte salt, 101 iterations, 64-byte PBKDF2-HMAC-SHA512.
        let salt = b"0123456789ab";
        let mut out = [0u8; 64];
        ring::pbkdf2::derive(
            ring::pbkdf2::PBKDF2_HMAC_SHA512,
            NonZeroU32::new(101).unwrap(),
            salt,
            b"pw",
            &mut out,
        );
        let text = format!("$7$101${}${}", STANDARD.encode(salt), STANDARD.encode(out));
        let h = StoredHash::parse(&text).unwrap();
        assert_eq!(h.scheme(), "pbkdf2-sha512");
        assert!(h.verify(b"pw"));
        assert!(!h.verify(b"pW"));
    }

    #[test]
    fn mosquitto_sha512() {
        let salt = b"saltsaltsalt";
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA512);
        ctx.update(b"pw");
        ctx.update(salt);
        let text = format!("$6${}${}", STANDARD.encode(salt), STANDARD.encode(ctx.finish()));
        let h = StoredHash::parse(&text).unwrap();
        assert!(h.verify(b"pw"));
        assert!(!h.verify(b"px"));
    }

    #[test]
    fn scram_entries_parse_and_check_plain_passwords() {
        let h = StoredHash::create_scram("pencil", 4096).unwrap();
        assert_eq!(h.scheme(), "scram-sha-256");
        let parsed = StoredHash::parse(h.as_str()).unwrap();
        assert!(parsed.verify(b"pencil") && !parsed.verify(b"pencil!"));
        assert!(parsed.scram().is_some());
        assert!(StoredHash::create_scram("x", 100).is_err());
        assert!(StoredHash::create("x", CHEAP).unwrap().scram().is_none());
    }

    #[test]
    fn malformed_hashes_are_refused() {
        for bad in [
            "",
            "plain",
            "$7$0$AAAA$AAAA",
            "$7$x$AAAA$AAAA",
            "$7$10$!!$AAAA",
            "$6$AAAA",
            "$6$AAAA$AAAA",
            "$argon2id$garbage",
            "$5$a$b",
            "SCRAM-SHA-256$4096:AAAA$AAAA:AAAA",
        ] {
            assert!(StoredHash::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_redacts() {
        let h = StoredHash::create("s3cret", CHEAP).unwrap();
        let dbg = format!("{h:?}");
        assert!(!dbg.contains("argon2id$"), "{dbg}");
    }
}
