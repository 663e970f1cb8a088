//! PROXY protocol v1 (text) and v2 (binary) headers, as HAProxy, nginx and cloud load balancers send them
//! ahead of the client's bytes: read before anything else, so the broker sees the real client address.
//! Parsing is the `ppp` crate's; this module reads exactly enough bytes and keeps whatever followed the header.

use ppp::v2::Command;
use ppp::{HeaderResult, PartialResult, v1, v2};
use std::io;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// Largest header accepted: a v1 line is at most 107 bytes; v2 TLVs beyond this are not worth buffering.
const MAX_HEADER: usize = 4096;

/// Reads a PROXY header from the start of `io`. Returns the client's address it names (`None` for `LOCAL`,
/// `UNKNOWN` or non-IP families, where the socket's own peer applies) and the bytes read past the header.
/// The caller bounds the time this takes.
pub async fn read_proxy_header<S: AsyncRead + Unpin>(
    io: &mut S,
) -> io::Result<(Option<SocketAddr>, Vec<u8>)> {
    let mut buf = Vec::with_capacity(128);
    loop {
        let parsed = HeaderResult::parse(&buf);
        if !buf.is_empty() && parsed.is_complete() {
            let (len, addr) = match parsed {
                HeaderResult::V1(Ok(h)) => (h.header.len(), v1_source(&h.addresses)),
                HeaderResult::V2(Ok(h)) => (h.len(), v2_source(&h)),
                HeaderResult::V1(Err(e)) => return Err(invalid(format!("bad PROXY v1 header: {e}"))),
                HeaderResult::V2(Err(e)) => return Err(invalid(format!("bad PROXY v2 header: {e}"))),
            };
            let rest = buf.get(len..).map(<[u8]>::to_vec).unwrap_or_default();
            return Ok((addr, rest));
        }
        if buf.len() >= MAX_HEADER {
            return Err(invalid(format!("PROXY header longer than {MAX_HEADER} bytes")));
        }
        let mut chunk = [0u8; 512];
        let want = chunk.len().min(MAX_HEADER - buf.len());
        let n = io.read(chunk.get_mut(..want).unwrap_or_default()).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before a complete PROXY header",
            ));
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn v1_source(a: &v1::Addresses) -> Option<SocketAddr> {
    match a {
        v1::Addresses::Tcp4(ip) => Some(SocketAddrV4::new(ip.source_address, ip.source_port).into()),
        v1::Addresses::Tcp6(ip) => Some(SocketAddrV6::new(ip.source_address, ip.source_port, 0, 0).into()),
        v1::Addresses::Unknown => None,
    }
}

fn v2_source(h: &v2::Header<'_>) -> Option<SocketAddr> {
    if h.command == Command::Local {
        return None;
    }
    match &h.addresses {
        v2::Addresses::IPv4(ip) => Some(SocketAddrV4::new(ip.source_address, ip.source_port).into()),
        v2::Addresses::IPv6(ip) => Some(SocketAddrV6::new(ip.source_address, ip.source_port, 0, 0).into()),
        _ => None,
    }
}

/// A stream that first yields bytes already read from it (those after a PROXY header), then reads on.
/// Writes go straight through.
#[derive(Debug)]
pub struct Prefixed<S> {
    /// The bytes still to yield and how many were yielded; boxed and `None` once empty, so the stream of
    /// a connection without a PROXY header (held by every idle connection's task) is one pointer larger.
    prefix: Option<Box<(Vec<u8>, usize)>>,
    inner: S,
}

impl<S> Prefixed<S> {
    /// `inner` with `prefix` to be read before it.
    pub fn new(prefix: Vec<u8>, inner: S) -> Prefixed<S> {
        Prefixed {
            prefix: (!prefix.is_empty()).then(|| Box::new((prefix, 0))),
            inner,
        }
    }

    /// The wrapped stream (for socket options and addresses).
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(prefix) = &mut this.prefix {
            let (bytes, pos) = &mut **prefix;
            let rest = bytes.get(*pos..).unwrap_or_default();
            let n = rest.len().min(buf.remaining());
            buf.put_slice(rest.get(..n).unwrap_or_default());
            *pos += n;
            if *pos >= bytes.len() {
                this.prefix = None;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    async fn parse(bytes: &[u8]) -> io::Result<(Option<SocketAddr>, Vec<u8>)> {
        let (mut a, mut b) = tokio::io::duplex(8192);
        let bytes = bytes.to_vec();
        tokio::spawn(async move {
            // Byte by byte: the header may arrive in any split.
            for byte in bytes {
                let _ = tokio::io::AsyncWriteExt::write_all(&mut a, &[byte]).await;
            }
        });
        read_proxy_header(&mut b).await
    }

    #[tokio::test]
    async fn v1_and_v2_headers_give_the_source_and_keep_what_follows() {
        let (addr, rest) = parse(b"PROXY TCP4 192.0.2.7 198.51.100.1 40000 1883\r\n\x10\x0c")
            .await
            .unwrap();
        assert_eq!(addr, Some("192.0.2.7:40000".parse().unwrap()));
        assert!(rest.len() <= 2 && b"\x10\x0c".starts_with(&rest));

        let (addr, _) = parse(b"PROXY TCP6 2001:db8::5 2001:db8::1 4000 1883\r\n")
            .await
            .unwrap();
        assert_eq!(addr, Some("[2001:db8::5]:4000".parse().unwrap()));
        let (addr, _) = parse(b"PROXY UNKNOWN\r\n").await.unwrap();
        assert_eq!(addr, None);

        let header = v2::Builder::with_addresses(
            v2::Version::Two | v2::Command::Proxy,
            v2::Protocol::Stream,
            (
                "203.0.113.9:5555".parse::<SocketAddr>().unwrap(),
                "127.0.0.1:1883".parse::<SocketAddr>().unwrap(),
            ),
        )
        .build()
        .unwrap();
        let (addr, _) = parse(&header).await.unwrap();
        assert_eq!(addr, Some("203.0.113.9:5555".parse().unwrap()));
    }

    #[tokio::test]
    async fn garbage_and_plain_mqtt_are_refused() {
        assert!(
            parse(b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00")
                .await
                .is_err()
        );
        assert!(parse(b"GET / HTTP/1.1\r\n\r\n").await.is_err());
        assert!(parse(b"PROXY TCP4 nonsense\r\n").await.is_err());
    }

    #[tokio::test]
    async fn prefixed_stream_yields_the_prefix_first() {
        let (mut a, b) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut a, b"world")
            .await
            .unwrap();
        drop(a);
        let mut p = Prefixed::new(b"hello ".to_vec(), b);
        let mut out = String::new();
        p.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "hello world");
    }
}
