//! `quic://`: MQTT over QUIC as EMQX and Tern serve it. The client opens a QUIC connection with ALPN
//! `mqtt` and one bidirectional stream, and the MQTT connection runs on that stream; closing it ends the
//! QUIC connection too.
//!
//! Certificates are checked with the same [`TlsOptions`] as `mqtts://` (`ca_file`, `insecure`, client
//! certificate). QUIC always uses TLS 1.3.

use crate::error::ClientError;
use crate::tls::TlsOptions;
use crate::transport::{BoxStream, ServerUrl};
use quinn::crypto::rustls::QuicClientConfig;
use quinn::{Connection, Endpoint, RecvStream, SendStream};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, Join, ReadBuf};

/// The ALPN protocol id of MQTT over QUIC (EMQX, NanoSDK, emqtt).
const ALPN_MQTT: &[u8] = b"mqtt";

/// QUIC PINGs while the MQTT connection is quiet: shorter than quinn's 30 s default idle timeout, so a
/// client with a long MQTT keep alive is not dropped by QUIC, and short enough for common NAT bindings.
const QUIC_KEEP_ALIVE: Duration = Duration::from_secs(10);

/// Opens a QUIC connection to `url` and its first bidirectional stream, within `timeout`.
pub(crate) async fn connect(
    url: &ServerUrl,
    timeout: Duration,
    tls: &TlsOptions,
) -> Result<BoxStream, ClientError> {
    let work = async {
        let addr = resolve(url).await?;
        let mut crypto = (*tls.client_config(&[ALPN_MQTT])?).clone();
        crypto.enable_early_data = true;
        let crypto = QuicClientConfig::try_from(crypto)
            .map_err(|e| ClientError::invalid_argument(format!("QUIC TLS setup: {e}")))?;
        let mut config = quinn::ClientConfig::new(Arc::new(crypto));
        let mut transport = quinn::TransportConfig::default();
        transport.keep_alive_interval(Some(QUIC_KEEP_ALIVE));
        config.transport_config(Arc::new(transport));
        let local: SocketAddr = if addr.is_ipv6() {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        };
        let endpoint = Endpoint::client(local)
            .map_err(|e| ClientError::io(format!("cannot open a UDP socket for {url}"), e))?;
        let connection = endpoint
            .connect_with(config, addr, url.host())
            .map_err(|e| ClientError::invalid_argument(format!("cannot connect to {url}: {e}")))?
            .await
            .map_err(|e| ClientError::io(format!("QUIC handshake with {url} failed"), quic_io(e)))?;
        let (send, recv) = connection
            .open_bi()
            .await
            .map_err(|e| ClientError::io(format!("cannot open the MQTT stream to {url}"), quic_io(e)))?;
        let stream: BoxStream = Box::new(QuicStream {
            io: tokio::io::join(recv, send),
            _connection: connection,
            _endpoint: endpoint,
        });
        Ok(stream)
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| ClientError::timeout("the QUIC handshake", timeout))?
}

async fn resolve(url: &ServerUrl) -> Result<SocketAddr, ClientError> {
    let mut addrs = tokio::net::lookup_host((url.host(), url.port()))
        .await
        .map_err(|e| ClientError::io(format!("cannot resolve {url}"), e))?;
    addrs.next().ok_or_else(|| {
        ClientError::io(
            format!("cannot resolve {url}"),
            io::Error::new(io::ErrorKind::NotFound, "no address"),
        )
    })
}

fn quic_io(e: quinn::ConnectionError) -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionRefused, e)
}

/// The MQTT stream, owning the connection and endpoint it runs on so they live exactly as long.
struct QuicStream {
    io: Join<RecvStream, SendStream>,
    _connection: Connection,
    _endpoint: Endpoint,
}

impl AsyncRead for QuicStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for QuicStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
