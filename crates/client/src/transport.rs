//! Server URLs and the byte streams they open.
//!
//! Everything above this module sees only a [`BoxStream`]: any `AsyncRead + AsyncWrite + Unpin + Send`
//! stream. Adding TLS, WebSocket or QUIC means teaching [`open`] one more scheme; the connection driver,
//! raw mode and CLI stay as they are. Callers with their own stream (an in-memory pipe, a proxy) skip the URL
//! entirely with [`Client::connect_stream`](crate::Client::connect_stream) or
//! [`RawConnection::from_stream`](crate::RawConnection::from_stream).

use crate::error::ClientError;
use crate::tls::TlsOptions;
use std::fmt;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// A bidirectional byte stream a connection can run over.
pub trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> ByteStream for T {}

/// A boxed [`ByteStream`], so every transport yields one type.
pub type BoxStream = Box<dyn ByteStream>;

/// The transport a URL scheme selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// `mqtt://`: plain TCP.
    Tcp,
    /// `mqtts://`: TLS over TCP.
    Tls,
    /// `ws://`: MQTT over WebSocket.
    Ws,
    /// `wss://`: MQTT over WebSocket over TLS.
    Wss,
    /// `quic://`: MQTT over a QUIC bidirectional stream.
    Quic,
}

impl Transport {
    /// The URL scheme naming this transport.
    pub fn scheme(self) -> &'static str {
        match self {
            Transport::Tcp => "mqtt",
            Transport::Tls => "mqtts",
            Transport::Ws => "ws",
            Transport::Wss => "wss",
            Transport::Quic => "quic",
        }
    }

    /// The port used when the URL names none (IANA 1883/8883 for MQTT, 80/443 for WebSocket, 14567 for QUIC).
    pub fn default_port(self) -> u16 {
        match self {
            Transport::Tcp => 1883,
            Transport::Tls => 8883,
            Transport::Ws => 80,
            Transport::Wss => 443,
            Transport::Quic => 14567,
        }
    }

    fn from_scheme(s: &str) -> Option<Transport> {
        let t = match s.to_ascii_lowercase().as_str() {
            "mqtt" | "tcp" => Transport::Tcp,
            "mqtts" | "ssl" | "tls" => Transport::Tls,
            "ws" => Transport::Ws,
            "wss" => Transport::Wss,
            "quic" => Transport::Quic,
            _ => return None,
        };
        Some(t)
    }
}

/// A parsed server address: `scheme://host[:port][/path]`, e.g. `mqtt://localhost:1883` or
/// `ws://[::1]:8080/mqtt`. A bare `host:port` means `mqtt://`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    transport: Transport,
    host: String,
    port: u16,
    path: String,
}

impl ServerUrl {
    /// Parses a URL; errors name the part that is wrong.
    pub fn parse(url: &str) -> Result<ServerUrl, ClientError> {
        let (scheme, rest) = match url.split_once("://") {
            Some((s, r)) => (s, r),
            None => ("mqtt", url),
        };
        let transport = Transport::from_scheme(scheme).ok_or_else(|| {
            ClientError::invalid_url(url, "unknown scheme (use mqtt, mqtts, ws, wss or quic)")
        })?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(ClientError::invalid_url(
                url,
                "credentials in the URL are not supported; use options",
            ));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| ClientError::invalid_url(url, "unclosed '['"))?;
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| ClientError::invalid_url(url, "junk after ']'"))?,
                ),
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(ClientError::invalid_url(url, "missing host"));
        }
        let port = match port {
            None => transport.default_port(),
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| ClientError::invalid_url(url, "port is not a number 0-65535"))?,
        };
        Ok(ServerUrl {
            transport,
            host: host.to_owned(),
            port,
            path: path.to_owned(),
        })
    }

    /// A `mqtt://host:port` URL, for callers that have the parts already (`tern pub -h -p`).
    pub fn tcp(host: impl Into<String>, port: u16) -> ServerUrl {
        ServerUrl {
            transport: Transport::Tcp,
            host: host.into(),
            port,
            path: String::new(),
        }
    }

    /// The transport the scheme selects.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Host name or IP address (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Port, defaulted from the scheme when the URL has none.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Path (WebSocket only), empty or starting with `/`.
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        write!(
            f,
            "{}://{}:{}{}",
            self.transport.scheme(),
            host,
            self.port,
            self.path
        )
    }
}

/// Opens the byte stream a URL names, within `timeout`, trusting the system's CAs for `mqtts`/`wss`.
pub async fn open(url: &ServerUrl, timeout: Duration) -> Result<BoxStream, ClientError> {
    open_with(url, timeout, &TlsOptions::default()).await
}

/// Opens the byte stream a URL names, within `timeout`, with `tls` deciding which server certificates
/// `mqtts://` and `wss://` trust.
pub async fn open_with(
    url: &ServerUrl,
    timeout: Duration,
    tls: &TlsOptions,
) -> Result<BoxStream, ClientError> {
    match url.transport {
        Transport::Tcp => Ok(Box::new(connect_tcp(url, timeout).await?)),
        Transport::Tls | Transport::Ws | Transport::Wss => open_stream_transport(url, timeout, tls).await,
        Transport::Quic => crate::quic::connect(url, timeout, tls).await,
    }
}

/// A TCP connection to the URL's host and port, Nagle off.
async fn connect_tcp(url: &ServerUrl, timeout: Duration) -> Result<tokio::net::TcpStream, ClientError> {
    let addr = (url.host.as_str(), url.port);
    let stream = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| ClientError::timeout("the TCP connection", timeout))?
        .map_err(|e| ClientError::io(format!("cannot connect to {url}"), e))?;
    // Small packets (acks, pings) must not wait for Nagle; a failure here only costs latency.
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// `mqtts://`, `ws://`, `wss://`: TCP, then TLS and/or the WebSocket upgrade, all within `timeout`.
async fn open_stream_transport(
    url: &ServerUrl,
    timeout: Duration,
    tls: &TlsOptions,
) -> Result<BoxStream, ClientError> {
    let tcp = connect_tcp(url, timeout).await?;
    let work = async {
        match url.transport {
            Transport::Tls => {
                let config = tls.client_config(&[b"mqtt"])?;
                let stream = crate::tls::handshake(tcp, &url.host, config)
                    .await
                    .map_err(|e| ClientError::io(format!("TLS handshake with {url} failed"), e))?;
                Ok(Box::new(stream) as BoxStream)
            }
            Transport::Wss => {
                let config = tls.client_config(&[b"http/1.1"])?;
                let stream = crate::tls::handshake(tcp, &url.host, config)
                    .await
                    .map_err(|e| ClientError::io(format!("TLS handshake with {url} failed"), e))?;
                crate::ws::upgrade(stream, url).await
            }
            _ => crate::ws::upgrade(tcp, url).await,
        }
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| ClientError::timeout("the TLS/WebSocket handshake", timeout))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn parses_schemes_hosts_and_ports() {
        let u = ServerUrl::parse("mqtt://example.com:1884").expect("valid");
        assert_eq!(
            (u.transport(), u.host(), u.port()),
            (Transport::Tcp, "example.com", 1884)
        );
        let u = ServerUrl::parse("localhost").expect("valid");
        assert_eq!(
            (u.transport(), u.host(), u.port()),
            (Transport::Tcp, "localhost", 1883)
        );
        let u = ServerUrl::parse("ws://[::1]:8080/mqtt").expect("valid");
        assert_eq!(
            (u.transport(), u.host(), u.port(), u.path()),
            (Transport::Ws, "::1", 8080, "/mqtt")
        );
        assert_eq!(u.to_string(), "ws://[::1]:8080/mqtt");
        let u = ServerUrl::parse("mqtts://h").expect("valid");
        assert_eq!(u.port(), 8883);
    }

    #[test]
    fn rejects_bad_urls() {
        for bad in [
            "http://h",
            "mqtt://",
            "mqtt://h:99999",
            "mqtt://h:x",
            "mqtt://[::1",
            "mqtt://u:p@h",
        ] {
            let e = ServerUrl::parse(bad).expect_err(bad);
            assert_eq!(e.kind(), ErrorKind::InvalidUrl, "{bad}");
        }
    }

    #[tokio::test]
    async fn quic_to_a_closed_port_fails_within_the_timeout() {
        let u = ServerUrl::parse("quic://127.0.0.1:9").expect("valid");
        let e = open(&u, Duration::from_millis(500))
            .await
            .err()
            .expect("must not succeed");
        assert!(matches!(e.kind(), ErrorKind::Timeout | ErrorKind::Io), "{e}");
    }
}
