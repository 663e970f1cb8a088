//! SCRAM-SHA-256 (RFC 5802, RFC 7677), client side, for MQTT 5 enhanced authentication: client-first goes in
//! CONNECT, client-final answers the server's AUTH 0x18, and the server's signature in CONNACK is checked,
//! so the client knows the server holds its credential (mutual authentication). No channel binding.

use crate::error::ClientError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use ring::{digest, hmac, pbkdf2};
use std::num::NonZeroU32;
use tern_mqtt_codec::{Auth, AuthProperties, ByteStr, Packet, ReasonCode};

/// The Authentication Method name.
pub const METHOD: &str = "SCRAM-SHA-256";

/// Most PBKDF2 iterations a server may ask for: bounds the work a hostile server can make us do.
const MAX_ITERATIONS: u32 = 1_000_000;

/// An AUTH packet of this method.
pub(crate) fn auth_packet(code: ReasonCode, data: Vec<u8>) -> Packet {
    Packet::Auth(Auth {
        reason_code: code,
        properties: AuthProperties {
            authentication_method: Some(ByteStr::from(METHOD)),
            authentication_data: Some(Bytes::from(data)),
            ..AuthProperties::default()
        },
    })
}

/// One exchange in progress.
pub(crate) struct ScramClient {
    password: Vec<u8>,
    client_first_bare: String,
    client_nonce: String,
    /// The expected server signature, once client-final is computed.
    server_signature: Option<[u8; 32]>,
}

fn hmac256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), msg).as_ref());
    out
}

fn bad(what: &str) -> ClientError {
    ClientError::protocol(format!("SCRAM-SHA-256: {what}"))
}

impl ScramClient {
    /// Starts an exchange for `username` with a fresh nonce.
    pub(crate) fn new(username: &str, password: &[u8]) -> Result<ScramClient, ClientError> {
        use ring::rand::SecureRandom;
        let mut raw = [0u8; 18];
        ring::rand::SystemRandom::new()
            .fill(&mut raw)
            .map_err(|_| ClientError::invalid_argument("no system randomness for the SCRAM nonce"))?;
        Ok(ScramClient::with_nonce(username, password, &STANDARD.encode(raw)))
    }

    fn with_nonce(username: &str, password: &[u8], nonce: &str) -> ScramClient {
        let user = username.replace('=', "=3D").replace(',', "=2C");
        ScramClient {
            password: password.to_vec(),
            client_first_bare: format!("n={user},r={nonce}"),
            client_nonce: nonce.to_string(),
            server_signature: None,
        }
    }

    /// client-first-message, for CONNECT's Authentication Data.
    pub(crate) fn client_first(&self) -> Vec<u8> {
        format!("n,,{}", self.client_first_bare).into_bytes()
    }

    /// Answers server-first with client-final.
    pub(crate) fn client_final(&mut self, server_first: &[u8]) -> Result<Vec<u8>, ClientError> {
        let server_first = std::str::from_utf8(server_first).map_err(|_| bad("server-first is not UTF-8"))?;
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for part in server_first.split(',') {
            match part.split_at_checked(2) {
                Some(("r=", v)) => nonce = Some(v),
                Some(("s=", v)) => salt = STANDARD.decode(v).ok(),
                Some(("i=", v)) => iterations = v.parse::<u32>().ok(),
                Some(("m=", _)) => return Err(bad("server requires an unsupported extension")),
                _ => {}
            }
        }
        let nonce = nonce.ok_or_else(|| bad("server-first has no nonce"))?;
        if !nonce.starts_with(&self.client_nonce) || nonce.len() == self.client_nonce.len() {
            return Err(bad("server nonce does not extend ours"));
        }
        let salt = salt.ok_or_else(|| bad("server-first has no valid salt"))?;
        let iterations = iterations
            .filter(|i| *i <= MAX_ITERATIONS)
            .and_then(NonZeroU32::new)
            .ok_or_else(|| bad("server-first iteration count missing or out of range"))?;
        let mut salted = [0u8; 32];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            &salt,
            &self.password,
            &mut salted,
        );
        let client_key = hmac256(&salted, b"Client Key");
        let mut stored_key = [0u8; 32];
        stored_key.copy_from_slice(digest::digest(&digest::SHA256, &client_key).as_ref());
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let signature = hmac256(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key.iter().zip(signature).map(|(k, s)| k ^ s).collect();
        let server_key = hmac256(&salted, b"Server Key");
        self.server_signature = Some(hmac256(&server_key, auth_message.as_bytes()));
        Ok(format!("{without_proof},p={}", STANDARD.encode(proof)).into_bytes())
    }

    /// Checks server-final (`v=<signature>`) from CONNACK: the server proved it knows our credential.
    pub(crate) fn verify_server_final(&self, server_final: Option<&[u8]>) -> Result<(), ClientError> {
        let expected = self
            .server_signature
            .ok_or_else(|| bad("CONNACK before the exchange finished"))?;
        let text = server_final
            .and_then(|d| std::str::from_utf8(d).ok())
            .ok_or_else(|| bad("CONNACK has no server-final message"))?;
        if let Some(e) = text.strip_prefix("e=") {
            return Err(bad(&format!("server reported {e}")));
        }
        let got = text
            .strip_prefix("v=")
            .and_then(|v| STANDARD.decode(v).ok())
            .ok_or_else(|| bad("malformed server-final message"))?;
        // Public data (the server's signature), so a plain comparison is fine.
        if got != expected {
            return Err(bad(
                "the server's signature is wrong: it does not know this user's credential",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 section 3.
    #[test]
    fn rfc7677_test_vector() {
        let mut c = ScramClient::with_nonce("user", b"pencil", "rOprNGfwEbeRWgbNEkqO");
        assert_eq!(c.client_first(), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let fin = c
            .client_final(
                b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            )
            .unwrap();
        assert_eq!(
            std::str::from_utf8(&fin).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        c.verify_server_final(Some(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="))
            .unwrap();
        assert!(
            c.verify_server_final(Some(b"v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="))
                .is_err()
        );
        assert!(c.verify_server_final(None).is_err());
    }

    #[test]
    fn hostile_server_first_is_refused() {
        let mut c = ScramClient::with_nonce("user", b"pencil", "abc");
        assert!(
            c.client_final(b"r=xyz,s=AAAA,i=4096").is_err(),
            "nonce must extend ours"
        );
        assert!(
            c.client_final(b"r=abc,s=AAAA,i=4096").is_err(),
            "server must add to the nonce"
        );
        assert!(c.client_final(b"r=abcd,s=AAAA,i=0").is_err());
        assert!(c.client_final(b"r=abcd,s=AAAA,i=99999999").is_err());
        assert!(c.client_final(b"r=abcd,i=4096").is_err());
        assert!(c.client_final(b"m=x,r=abcd,s=AAAA,i=4096").is_err());
        assert!(c.client_final(&[0xff]).is_err());
        assert!(
            c.verify_server_final(Some(b"v=x")).is_err(),
            "no client-final yet"
        );
    }
}
