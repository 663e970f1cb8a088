//! SCRAM-SHA-256 (RFC 5802, RFC 7677), server side: the message logic of the exchange MQTT 5 enhanced
//! authentication carries (client-first in CONNECT, server-first in AUTH 0x18, client-final in AUTH 0x18,
//! server-final in CONNACK). The SCRAM crates on crates.io do not fit: `scram` and `scram-2` want the salted
//! password on the server (which logs in as well as the password does) rather than RFC 5803's StoredKey and
//! ServerKey, and `scram-rs` is source-available rather than open source. So the messages are parsed here;
//! the primitives (SHA-256, HMAC, PBKDF2, randomness) are `ring`'s.
//!
//! Credentials are stored as RFC 5803 strings, `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`
//! (base64), so the broker never holds the password nor anything that logs in without the password
//! (StoredKey alone cannot produce a proof). Channel binding is not supported (`n` or `y` GS2 flag only).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::{digest, hmac, pbkdf2};
use std::num::NonZeroU32;

/// The MQTT Authentication Method name of this mechanism.
pub const METHOD: &str = "SCRAM-SHA-256";

/// Iterations of new credentials (RFC 7677's minimum is 4096; more makes a stolen file costlier to attack).
pub const DEFAULT_ITERATIONS: u32 = 4096;

/// Why an exchange failed; the text goes to the log, never to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    /// A message is not valid SCRAM syntax.
    #[error("malformed SCRAM message: {0}")]
    Malformed(&'static str),
    /// The client asked for channel binding, which the broker does not offer.
    #[error("channel binding requested but not supported (use the GS2 flag n)")]
    ChannelBinding,
    /// A mandatory extension (`m=`) the broker does not know.
    #[error("unsupported mandatory SCRAM extension")]
    Extension,
    /// The client-final's nonce or channel binding data differs from the first messages'.
    #[error("client-final does not match the exchange (nonce or channel binding data)")]
    Mismatch,
    /// Unknown user or wrong password (the proof did not verify).
    #[error("wrong user name or password")]
    InvalidProof,
}

/// What the broker stores for one SCRAM user (RFC 5802 section 3).
#[derive(Clone, PartialEq, Eq)]
pub struct ScramCredential {
    /// PBKDF2 iterations.
    pub iterations: NonZeroU32,
    /// PBKDF2 salt.
    pub salt: Vec<u8>,
    /// H(ClientKey): checks the client's proof.
    pub stored_key: [u8; 32],
    /// HMAC(SaltedPassword, "Server Key"): signs the server's answer.
    pub server_key: [u8; 32],
}

impl std::fmt::Debug for ScramCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramCredential")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

fn hmac256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), msg);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, data).as_ref());
    out
}

/// SaltedPassword := Hi(password, salt, i), PBKDF2-HMAC-SHA-256 (RFC 5802 section 3).
pub fn salted_password(password: &[u8], salt: &[u8], iterations: NonZeroU32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, iterations, salt, password, &mut out);
    out
}

/// ClientKey := HMAC(SaltedPassword, "Client Key").
pub fn client_key(salted: &[u8; 32]) -> [u8; 32] {
    hmac256(salted, b"Client Key")
}

impl ScramCredential {
    /// Derives the stored form of `password`.
    pub fn derive(password: &[u8], salt: Vec<u8>, iterations: NonZeroU32) -> ScramCredential {
        let salted = salted_password(password, &salt, iterations);
        ScramCredential {
            iterations,
            salt,
            stored_key: sha256(&client_key(&salted)),
            server_key: hmac256(&salted, b"Server Key"),
        }
    }

    /// Parses the RFC 5803 form `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`.
    pub fn parse(text: &str) -> Option<ScramCredential> {
        let rest = text.strip_prefix("SCRAM-SHA-256$")?;
        let (params, keys) = rest.split_once('$')?;
        let (iterations, salt) = params.split_once(':')?;
        let (stored, server) = keys.split_once(':')?;
        let key = |s: &str| -> Option<[u8; 32]> { STANDARD.decode(s).ok()?.try_into().ok() };
        let salt = STANDARD.decode(salt).ok().filter(|s| !s.is_empty())?;
        Some(ScramCredential {
            iterations: iterations.parse().ok()?,
            salt,
            stored_key: key(stored)?,
            server_key: key(server)?,
        })
    }

    /// The RFC 5803 text written to the password file.
    pub fn render(&self) -> String {
        format!(
            "SCRAM-SHA-256${}:{}${}:{}",
            self.iterations,
            STANDARD.encode(&self.salt),
            STANDARD.encode(self.stored_key),
            STANDARD.encode(self.server_key)
        )
    }

    /// Checks a plain password (CONNECT with user name and password against a SCRAM entry), in constant
    /// time. Costs one PBKDF2 run.
    pub fn verify_password(&self, password: &[u8]) -> bool {
        let salted = salted_password(password, &self.salt, self.iterations);
        crate::password::constant_time_eq(&sha256(&client_key(&salted)), &self.stored_key)
    }
}

/// What the broker knows about the user a client-first names.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// A SCRAM entry.
    Found(ScramCredential),
    /// A user whose entry cannot do SCRAM (e.g. argon2): the exchange runs with a decoy and fails at the end.
    NotScram(&'static str),
    /// No such user: the exchange runs with a decoy (a salt derived from the name) and fails at the end,
    /// so the answer does not tell which users exist.
    Unknown,
}

/// After client-first: waiting for client-final.
#[derive(Debug)]
pub struct ScramServer {
    username: String,
    /// `None` for a decoy exchange (unknown or non-SCRAM user).
    credential: Option<ScramCredential>,
    not_scram: Option<&'static str>,
    gs2_header: String,
    nonce: String,
    /// client-first-message-bare "," server-first-message: the start of the AuthMessage.
    transcript: String,
}

/// A verified exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramSuccess {
    /// The user the client proved to be.
    pub username: String,
    /// server-final-message (`v=<ServerSignature>`), for the CONNACK's Authentication Data.
    pub server_final: Vec<u8>,
}

/// A finished exchange that failed, with the user it named (for the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramFailure {
    /// The user name the client sent, if it got that far.
    pub username: Option<String>,
    /// Why.
    pub error: ScramError,
    /// Set when the user exists but its entry is not SCRAM (says which scheme it is).
    pub not_scram: Option<&'static str>,
}

/// Undoes SASLprep-free `saslname` escaping (`=2C` → `,`, `=3D` → `=`).
fn decode_saslname(s: &str) -> Result<String, ScramError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        match rest.get(i..i + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err(ScramError::Malformed("bad '=' escape in user name")),
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Escapes a user name as a `saslname`.
pub fn encode_saslname(s: &str) -> String {
    s.replace('=', "=3D").replace(',', "=2C")
}

/// Fresh printable nonce material (base64 of 18 random bytes).
pub fn random_nonce() -> Option<String> {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 18];
    ring::rand::SystemRandom::new().fill(&mut b).ok()?;
    Some(STANDARD.encode(b))
}

/// The attribute value of `a=value`, checking the attribute letter.
fn attr(part: Option<&str>, name: char) -> Result<&str, ScramError> {
    let part = part.ok_or(ScramError::Malformed("message too short"))?;
    let mut chars = part.chars();
    if chars.next() != Some(name) || chars.next() != Some('=') {
        return Err(ScramError::Malformed("unexpected attribute"));
    }
    Ok(&part[2..])
}

impl ScramServer {
    /// Reads client-first and answers server-first. `lookup` finds the user's credential; `server_nonce`
    /// is fresh random printable text (see [`random_nonce`]); `decoy_key` is a per-process secret from
    /// which unknown users get a stable fake salt.
    pub fn client_first(
        msg: &[u8],
        lookup: impl FnOnce(&str) -> Lookup,
        server_nonce: &str,
        decoy_key: &[u8],
    ) -> Result<(ScramServer, Vec<u8>), ScramFailure> {
        let fail = |error| ScramFailure {
            username: None,
            error,
            not_scram: None,
        };
        let msg = std::str::from_utf8(msg).map_err(|_| fail(ScramError::Malformed("not UTF-8")))?;
        let mut parts = msg.splitn(3, ',');
        let flag = parts.next().unwrap_or("");
        let authzid = parts.next().ok_or(fail(ScramError::Malformed("no GS2 header")))?;
        let bare = parts.next().ok_or(fail(ScramError::Malformed("no GS2 header")))?;
        match flag {
            "n" | "y" => {}
            f if f.starts_with("p=") => return Err(fail(ScramError::ChannelBinding)),
            _ => return Err(fail(ScramError::Malformed("bad GS2 channel binding flag"))),
        }
        let gs2_header = format!("{flag},{authzid},");
        let mut attrs = bare.split(',');
        let first = attrs.next();
        if first.is_some_and(|a| a.starts_with("m=")) {
            return Err(fail(ScramError::Extension));
        }
        let username = decode_saslname(attr(first, 'n').map_err(fail)?).map_err(fail)?;
        if username.is_empty() {
            return Err(fail(ScramError::Malformed("empty user name")));
        }
        if !authzid.is_empty() && authzid != format!("a={}", encode_saslname(&username)) {
            return Err(fail(ScramError::Malformed(
                "authorization identity differs from the user name",
            )));
        }
        let client_nonce = attr(attrs.next(), 'r').map_err(fail)?;
        if client_nonce.is_empty() || !client_nonce.chars().all(|c| c.is_ascii_graphic() && c != ',') {
            return Err(fail(ScramError::Malformed("bad client nonce")));
        }
        let (credential, not_scram) = match lookup(&username) {
            Lookup::Found(c) => (Some(c), None),
            Lookup::NotScram(scheme) => (None, Some(scheme)),
            Lookup::Unknown => (None, None),
        };
        let (salt, iterations) = match &credential {
            Some(c) => (c.salt.clone(), c.iterations.get()),
            None => (
                hmac256(decoy_key, username.as_bytes())[..16].to_vec(),
                DEFAULT_ITERATIONS,
            ),
        };
        let nonce = format!("{client_nonce}{server_nonce}");
        let server_first = format!("r={nonce},s={},i={iterations}", STANDARD.encode(salt));
        let server = ScramServer {
            username,
            credential,
            not_scram,
            gs2_header,
            nonce,
            transcript: format!("{bare},{server_first}"),
        };
        Ok((server, server_first.into_bytes()))
    }

    /// Reads client-final and verifies the proof (in constant time); answers server-final on success.
    pub fn client_final(self, msg: &[u8]) -> Result<ScramSuccess, ScramFailure> {
        let fail = |error| ScramFailure {
            username: Some(self.username.clone()),
            error,
            not_scram: self.not_scram,
        };
        let msg = std::str::from_utf8(msg).map_err(|_| fail(ScramError::Malformed("not UTF-8")))?;
        let (without_proof, proof) = msg
            .rsplit_once(",p=")
            .ok_or(fail(ScramError::Malformed("no proof")))?;
        let mut attrs = without_proof.split(',');
        let binding = attr(attrs.next(), 'c').map_err(fail)?;
        let nonce = attr(attrs.next(), 'r').map_err(fail)?;
        if binding != STANDARD.encode(&self.gs2_header) || nonce != self.nonce {
            return Err(fail(ScramError::Mismatch));
        }
        let proof = STANDARD
            .decode(proof)
            .map_err(|_| fail(ScramError::Malformed("proof is not base64")))?;
        let Some(cred) = &self.credential else {
            return Err(fail(ScramError::InvalidProof));
        };
        if proof.len() != 32 {
            return Err(fail(ScramError::InvalidProof));
        }
        let auth_message = format!("{},{without_proof}", self.transcript);
        let client_signature = hmac256(&cred.stored_key, auth_message.as_bytes());
        let mut client_key = [0u8; 32];
        for (k, (p, s)) in client_key.iter_mut().zip(proof.iter().zip(client_signature)) {
            *k = p ^ s;
        }
        if !crate::password::constant_time_eq(&sha256(&client_key), &cred.stored_key) {
            return Err(fail(ScramError::InvalidProof));
        }
        let server_signature = hmac256(&cred.server_key, auth_message.as_bytes());
        Ok(ScramSuccess {
            username: self.username,
            server_final: format!("v={}", STANDARD.encode(server_signature)).into_bytes(),
        })
    }
}

#[cfg(test)]
mod tests;
