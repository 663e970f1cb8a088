//! Counters of one QUIC listener: what went wrong below MQTT, where the broker's own statistics cannot see.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use tern_broker::Broker;

/// Listener counters, shared by the accept loop, the connection tasks and the socket; read them through
/// [`QuicFrontend::stats`](crate::QuicFrontend::stats). Relaxed atomics: they are totals, not a protocol.
#[derive(Debug, Default)]
pub struct QuicStats {
    handshakes: AtomicU64,
    handshake_failures: AtomicU64,
    alpn_refused: AtomicU64,
    refused_at_limit: AtomicU64,
    refused_rate: AtomicU64,
    streams_refused: AtomicU64,
    non_quic_datagrams: AtomicU64,
    /// The broker whose `$SYS` counters add this listener's refusals (set when the listener runs).
    broker: OnceLock<Broker>,
}

impl QuicStats {
    /// QUIC handshakes completed with ALPN `mqtt` (each then carries one MQTT connection).
    pub fn handshakes(&self) -> u64 {
        self.handshakes.load(Ordering::Relaxed)
    }

    /// Handshakes that failed or timed out, ALPN refusals included.
    pub fn handshake_failures(&self) -> u64 {
        self.handshake_failures.load(Ordering::Relaxed)
    }

    /// Handshakes refused because the client offered no ALPN this listener speaks.
    pub fn alpn_refused(&self) -> u64 {
        self.alpn_refused.load(Ordering::Relaxed)
    }

    /// Connection attempts refused because the listener was at `max_connections`.
    pub fn refused_at_limit(&self) -> u64 {
        self.refused_at_limit.load(Ordering::Relaxed)
    }

    /// Connection attempts refused because they came faster than `connection_rate`.
    pub fn refused_rate(&self) -> u64 {
        self.refused_rate.load(Ordering::Relaxed)
    }

    /// Streams beyond a connection's first, reset with [`AppCode::StreamRefused`](crate::AppCode).
    pub fn streams_refused(&self) -> u64 {
        self.streams_refused.load(Ordering::Relaxed)
    }

    /// UDP datagrams that could not be QUIC v1 (see the `socket` module), dropped by quinn.
    pub fn non_quic_datagrams(&self) -> u64 {
        self.non_quic_datagrams.load(Ordering::Relaxed)
    }

    /// Connects these counters to `broker`'s `$SYS` totals.
    pub(crate) fn attach(&self, broker: &Broker) {
        let _ = self.broker.set(broker.clone());
    }

    pub(crate) fn note_handshake(&self) {
        self.handshakes.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn note_handshake_failure(&self, alpn: bool) {
        self.handshake_failures.fetch_add(1, Ordering::Relaxed);
        if let Some(b) = self.broker.get() {
            b.core().note_handshake_failure();
        }
        if alpn {
            self.alpn_refused.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn note_refused_at_limit(&self) {
        self.refused_at_limit.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn note_refused_rate(&self) {
        self.refused_rate.fetch_add(1, Ordering::Relaxed);
        if let Some(b) = self.broker.get() {
            b.core().note_connection_rate_refused();
        }
    }

    pub(crate) fn note_stream_refused(&self) {
        self.streams_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one non-QUIC datagram and returns the new total (for log rate limiting).
    pub(crate) fn note_non_quic_datagram(&self) -> u64 {
        self.non_quic_datagrams.fetch_add(1, Ordering::Relaxed) + 1
    }
}
