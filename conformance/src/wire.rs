//! Hand-built packets for malformed input the codec refuses to encode, and [`probe`]: send bytes on a fresh
//! connection and collect every byte the broker sends until it closes (for replies the codec cannot decode
//! at one protocol level, such as a 3.1.1-style CONNACK to an unknown protocol level).

use crate::registry::Stop;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A packet: `first` byte, remaining length, `body`.
pub fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![first];
    let mut len = body.len();
    loop {
        let mut b = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            b |= 0x80;
        }
        v.push(b);
        if len == 0 {
            break;
        }
    }
    v.extend_from_slice(body);
    v
}

/// A length-prefixed string of raw bytes (which may be invalid UTF-8 on purpose).
pub fn string(s: &[u8]) -> Vec<u8> {
    let mut v = (s.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(s);
    v
}

/// A CONNECT body: protocol `name`, `level`, `flags`, keep alive 60, (5.0: empty properties), `payload`.
pub fn connect(name: &[u8], level: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut b = string(name);
    b.push(level);
    b.push(flags);
    b.extend_from_slice(&60u16.to_be_bytes());
    if level == 5 {
        b.push(0);
    }
    b.extend_from_slice(payload);
    packet(0x10, &b)
}

/// A minimal valid CONNECT for `client_id` at `level` (4 or 5), Clean Start.
pub fn simple_connect(level: u8, client_id: &str) -> Vec<u8> {
    connect(b"MQTT", level, 0x02, &string(client_id.as_bytes()))
}

/// A PUBLISH QoS 0 with a raw topic and (5.0) raw property bytes.
pub fn publish(v5: bool, topic: &[u8], props: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut b = string(topic);
    if v5 {
        b.push(props.len() as u8);
        b.extend_from_slice(props);
    }
    b.extend_from_slice(payload);
    packet(0x30, &b)
}

/// What [`probe`] saw: the bytes the broker sent and whether it closed the connection.
#[derive(Debug)]
pub struct Probe {
    /// Everything received.
    pub bytes: Vec<u8>,
    /// True when the broker closed the connection within the time allowed.
    pub closed: bool,
}

impl Probe {
    /// The CONNACK at the start of the reply, if any: (session present flags byte, reason / return code).
    pub fn connack(&self) -> Option<(u8, u8)> {
        match self.bytes.as_slice() {
            [0x20, _, flags, code, ..] => Some((*flags, *code)),
            _ => None,
        }
    }
}

/// Opens `url` (TLS as `tls` says), sends `bytes`, and reads until the broker closes or `within` passes.
pub async fn probe(
    url: &str,
    tls: &tern_client::TlsOptions,
    bytes: &[u8],
    within: Duration,
) -> Result<Probe, Stop> {
    let parsed = tern_client::ServerUrl::parse(url).map_err(|e| Stop::Fail(e.to_string()))?;
    let mut s = tern_client::open_with(&parsed, within, tls)
        .await
        .map_err(|e| Stop::Fail(format!("could not open {url}: {e}")))?;
    s.write_all(bytes)
        .await
        .map_err(|e| Stop::Fail(format!("sending: {e}")))?;
    let _ = s.flush().await;
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    let mut buf = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => {
                return Ok(Probe {
                    bytes: out,
                    closed: false,
                });
            }
            Ok(Ok(0)) | Ok(Err(_)) => {
                return Ok(Probe {
                    bytes: out,
                    closed: true,
                });
            }
            Ok(Ok(n)) => out.extend_from_slice(buf.get(..n).unwrap_or_default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_length_is_variable() {
        assert_eq!(packet(0xC0, &[]), vec![0xC0, 0]);
        let p = packet(0x30, &[0u8; 200]);
        assert_eq!(&p[..3], &[0x30, 0xC8, 0x01]);
    }
}
