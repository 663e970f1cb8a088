//! The listener's UDP socket: quinn's own tokio socket, wrapped to count datagrams that cannot be QUIC.
//!
//! quinn drops garbage silently (a trace line at most), so a port scan, a misdirected MQTT-SN gateway or a
//! broken client would be invisible. The wrapper looks at every received datagram before quinn does and
//! counts those that are certainly not QUIC version 1 (see [`is_not_quic`]); quinn still sees and drops
//! them itself, the wrapper never filters. It logs the first one and then every 1000th, so a flood cannot
//! flood the log.

use crate::stats::QuicStats;
use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};
use std::fmt;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tracing::{debug, warn};

/// Smallest datagram that may carry a client Initial (RFC 9000 §14.1).
const MIN_INITIAL_DATAGRAM: usize = 1200;

/// QUIC version 1 (RFC 9000).
const QUIC_V1: u32 = 1;

/// An [`AsyncUdpSocket`] that delegates everything to quinn's socket and counts non-QUIC datagrams.
pub(crate) struct CountingSocket {
    inner: Arc<dyn AsyncUdpSocket>,
    stats: Arc<QuicStats>,
}

impl CountingSocket {
    pub(crate) fn new(inner: Arc<dyn AsyncUdpSocket>, stats: Arc<QuicStats>) -> CountingSocket {
        CountingSocket { inner, stats }
    }

    fn inspect(&self, datagram: &[u8], from: SocketAddr) {
        if !is_not_quic(datagram) {
            return;
        }
        let total = self.stats.note_non_quic_datagram();
        if total == 1 || total.is_multiple_of(1000) {
            warn!(
                %from,
                len = datagram.len(),
                total,
                "QUIC listener: dropped a UDP datagram that is not QUIC v1 (port scan, wrong protocol or a \
                 broken client); logged once per 1000"
            );
        } else {
            debug!(%from, len = datagram.len(), total, "QUIC listener: dropped a non-QUIC datagram");
        }
    }
}

/// True when `datagram` cannot be a QUIC v1 packet from a conforming peer: empty; the fixed bit (0x40)
/// clear, which RFC 9000 §17 requires set (Tern does not offer fixed-bit greasing, RFC 9287, so peers may
/// not clear it); a long header too short to hold its version; or a v1 Initial in a datagram under 1200
/// bytes (§14.1). Short-header garbage with the fixed bit set is indistinguishable from a packet for an
/// unknown connection and is not counted.
pub(crate) fn is_not_quic(datagram: &[u8]) -> bool {
    let Some(&first) = datagram.first() else {
        return true;
    };
    if first & 0x40 == 0 {
        return true;
    }
    if first & 0x80 == 0 {
        return false;
    }
    let Some(version) = datagram.get(1..5) else {
        return true;
    };
    let version = u32::from_be_bytes([version[0], version[1], version[2], version[3]]);
    let is_initial = (first & 0x30) == 0;
    version == QUIC_V1 && is_initial && datagram.len() < MIN_INITIAL_DATAGRAM
}

impl fmt::Debug for CountingSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountingSocket")
            .field("inner", &self.inner)
            .finish()
    }
}

impl AsyncUdpSocket for CountingSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        self.inner.clone().create_io_poller()
    }

    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        self.inner.try_send(transmit)
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let polled = self.inner.poll_recv(cx, bufs, meta);
        if let Poll::Ready(Ok(count)) = &polled {
            for (buf, m) in bufs.iter().zip(meta.iter()).take(*count) {
                let data = buf.get(..m.len).unwrap_or(&[]);
                // With GRO one buffer holds several datagrams of `stride` bytes (the last may be shorter).
                let stride = m.stride.max(1);
                for datagram in data.chunks(stride) {
                    self.inspect(datagram, m.addr);
                }
            }
        }
        polled
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn max_transmit_segments(&self) -> usize {
        self.inner.max_transmit_segments()
    }

    fn max_receive_segments(&self) -> usize {
        self.inner.max_receive_segments()
    }

    fn may_fragment(&self) -> bool {
        self.inner.may_fragment()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_datagrams() {
        assert!(is_not_quic(b""));
        assert!(is_not_quic(&[0x00, 1, 2, 3]), "fixed bit clear");
        assert!(
            is_not_quic(b"\x10\x0c\x00\x04MQTT"),
            "an MQTT CONNECT is not QUIC"
        );
        assert!(is_not_quic(&[0xc0, 0, 0]), "long header without a version");
        let mut short_initial = vec![0xc0, 0, 0, 0, 1];
        short_initial.resize(200, 0);
        assert!(is_not_quic(&short_initial), "Initial under 1200 bytes");
        let mut initial = vec![0xc0, 0, 0, 0, 1];
        initial.resize(1200, 0);
        assert!(!is_not_quic(&initial));
        assert!(
            !is_not_quic(&[0x40, 1, 2, 3]),
            "short header: maybe an unknown connection"
        );
        assert!(
            !is_not_quic(&[0xc0, 0xde, 0xad, 0xbe, 0xef]),
            "unknown version: quinn answers with version negotiation"
        );
    }
}
