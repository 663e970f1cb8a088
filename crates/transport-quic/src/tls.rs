//! The TLS 1.3 half of the listener: rustls configured the way QUIC and EMQX clients need it.
//!
//! Certificates and client verification come from the caller's rustls configuration (in Tern: from
//! `tern-tls`, so TLS, WSS and QUIC share one reloadable certificate); this module only adds what is
//! QUIC-specific: TLS 1.3 (RFC 9001; rustls negotiates nothing older over QUIC), ALPN `mqtt` (what EMQX and its clients, NanoSDK and emqtt/quicer, negotiate), session
//! tickets for resumption, and 0-RTT acceptance when enabled.

use crate::QuicError;
use quinn::crypto::rustls::QuicServerConfig;
use std::sync::Arc;

/// The ALPN protocol id of MQTT over QUIC, as EMQX's listener and its clients use it.
pub const ALPN_MQTT: &[u8] = b"mqtt";

/// TLS session tickets sent after each full handshake: one for the next reconnect, one spare for a client
/// that races two connections (rustls' default is the same).
const TICKETS_PER_HANDSHAKE: usize = 2;

/// Resumable sessions the server remembers when 0-RTT is on (rustls accepts early data only with
/// stateful resumption). Each entry is a few hundred bytes; the oldest are forgotten first, and a client
/// whose entry is gone simply does a full handshake.
const SESSION_CACHE_ENTRIES: usize = 16_384;

/// Builds the QUIC server crypto: TLS 1.3 with the ring provider, ALPN `mqtt`, session tickets for
/// resumption, and `max_early_data_size` at the only value QUIC allows for 0-RTT (`u32::MAX`) when
/// `zero_rtt` is on, else 0.
///
/// Tickets: with 0-RTT off they are stateless (encrypted session state, no memory per client); with 0-RTT
/// on they are stateful, because rustls only accepts early data from a session it remembers, and each such
/// ticket is single-use, which already stops a replayed ClientHello from being accepted twice.
///
/// Why accepting 0-RTT is safe here: 0-RTT data can be replayed by an attacker who captured it (a replayed
/// CONNECT could take over the session, a replayed PUBLISH would be delivered twice). The listener never
/// reads a stream before the handshake has completed (it does not call `Connecting::into_0rtt`), and a
/// replayed first flight cannot complete a handshake without the client's keys, so replayed early data is
/// never seen by the broker. The client still gains: its CONNECT travels with the first flight and the
/// CONNACK leaves one round trip after the client started instead of two.
pub(crate) fn server_crypto(
    base: &rustls::ServerConfig,
    zero_rtt: bool,
) -> Result<QuicServerConfig, QuicError> {
    // Certificates and client verification come from `base`; the rest is QUIC's.
    let mut tls = base.clone();
    tls.alpn_protocols = vec![ALPN_MQTT.to_vec()];
    tls.send_tls13_tickets = TICKETS_PER_HANDSHAKE;
    if zero_rtt {
        tls.session_storage = rustls::server::ServerSessionMemoryCache::new(SESSION_CACHE_ENTRIES);
        tls.ticketer = Arc::new(NoTickets);
        tls.max_early_data_size = u32::MAX;
    } else {
        tls.ticketer = rustls::crypto::ring::Ticketer::new()
            .map_err(|e| QuicError::Tls(format!("cannot create a session ticket key: {e}")))?;
        tls.max_early_data_size = 0;
    }
    QuicServerConfig::try_from(tls).map_err(|e| QuicError::Tls(e.to_string()))
}

/// Stateful resumption: rustls then issues session ids as tickets and keeps the state in `session_storage`.
#[derive(Debug)]
struct NoTickets;

impl rustls::server::ProducesTickets for NoTickets {
    fn enabled(&self) -> bool {
        false
    }
    fn lifetime(&self) -> u32 {
        0
    }
    fn encrypt(&self, _plain: &[u8]) -> Option<Vec<u8>> {
        None
    }
    fn decrypt(&self, _cipher: &[u8]) -> Option<Vec<u8>> {
        None
    }
}
