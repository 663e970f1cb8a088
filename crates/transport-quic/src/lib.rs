//! MQTT over QUIC: a quinn endpoint on UDP (port 14567 by default, as EMQX) whose connections each carry
//! one MQTT connection on their first bidirectional stream; the stream's two halves are joined into one
//! byte stream and handed to [`tern_broker::Broker::serve_stream`]. No MQTT logic lives here.
//!
//! # Compatibility with EMQX's MQTT-over-QUIC listener
//!
//! Matched, so that clients written for EMQX (NanoSDK over MsQuic, emqtt over quicer) connect unchanged:
//! - **ALPN `mqtt`**, TLS 1.3 only (QUIC requires it); a client offering anything else is refused in the
//!   handshake with the TLS alert `no_application_protocol`, logged and counted.
//! - **The client opens the stream.** The first client-initiated bidirectional stream is the MQTT
//!   connection (EMQX's "control stream"); the server never opens one.
//! - **Single-stream mode**: the stream's end is the connection's end. When the MQTT connection ends the
//!   listener finishes the stream and closes the QUIC connection with application code 0; when the client
//!   closes the QUIC connection without DISCONNECT, the broker sees a lost connection and publishes the
//!   will, as for a dropped TCP socket.
//! - **Default port 14567/udp**, certificate required on the server (here: the same certificates as the TLS
//!   and WSS listeners, and the same optional client-certificate verification, whose identity reaches the
//!   broker as `ConnMeta::tls_identity`), session resumption on (EMQX `server_resumption_level = 2`, resume and 0-RTT).
//! - **Idle timeout and keep alive are QUIC settings** on the listener, as EMQX's `idle_timeout_ms` and
//!   `keep_alive_interval_ms`; the negotiated idle timeout is the smaller of both sides' (emqtt asks for 3×
//!   its MQTT keep alive).
//!
//! Not matched:
//! - **Multi-stream mode** (EMQX EIP-0023: further client streams carrying PUBLISH/SUBSCRIBE traffic of the
//!   same MQTT connection) is not implemented. Such streams are reset at once with application code
//!   [`AppCode::StreamRefused`] (0x1), logged once per connection and counted; nothing is dropped silently.
//!   A multi-stream client keeps working on its control stream.
//! - **Unidirectional streams** are not allowed (limit 0); EMQX allows one and does not use it either.
//! - **MsQuic-specific tuning** (`conn_acceptors`, `send_buffering_enabled`, load-balancing modes) has no
//!   equivalent; quinn's defaults apply.
//!
//! # Mobile clients
//! - **Connection migration** is on: a client whose address changes (Wi-Fi to cellular, NAT rebinding)
//!   keeps its QUIC connection, hence its MQTT connection, without reconnecting.
//! - **Resumption and 0-RTT**: every handshake issues TLS 1.3 session tickets; a reconnecting client
//!   resumes (no certificate exchange) and, with [`QuicListenerConfig::zero_rtt`], may send its CONNECT as
//!   0-RTT data. The broker only reads it once the handshake completed, so replayed 0-RTT data (a replayed
//!   CONNECT or PUBLISH) never reaches MQTT; see `tls::server_crypto` for the reasoning.
//! - **Idle timeout vs MQTT keep alive**: see [`QuicListenerConfig::idle_timeout`] and
//!   [`QuicListenerConfig::keep_alive_interval`].

mod codes;
mod connection;
mod socket;
mod stats;
mod tls;

pub use codes::AppCode;
pub use stats::QuicStats;
pub use tls::ALPN_MQTT;

use quinn::{Endpoint, EndpointConfig, IdleTimeout, ServerConfig, TokioRuntime, TransportConfig, VarInt};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tern_broker::{Broker, TokenBucket};
use tokio::sync::Semaphore;
use tracing::{info, warn};

/// Why a QUIC listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum QuicError {
    /// The UDP socket could not be bound.
    #[error("cannot listen on QUIC (UDP) {addr}: {source} (is another broker running on that port?)")]
    Bind {
        /// Address asked for.
        addr: SocketAddr,
        /// The socket error.
        source: io::Error,
    },
    /// The TLS configuration was refused.
    #[error("QUIC TLS configuration: {0}")]
    Tls(String),
    /// A setting is out of range.
    #[error("QUIC listener setting {0}")]
    Setting(String),
}

/// Settings of one QUIC listener.
#[derive(Debug, Clone)]
pub struct QuicListenerConfig {
    /// UDP address to bind; port 0 picks a free port (tests).
    pub bind: SocketAddr,
    /// Connections served at once; further attempts are refused in the handshake.
    pub max_connections: usize,
    /// QUIC max idle timeout: a connection that hears nothing (not even an ACK) for this long is gone.
    /// The effective value is the smaller of ours and the client's. Default 300 s: longer than 1.5× any
    /// usual MQTT keep alive (so MQTT, not QUIC, decides when a quiet client is dead) and long enough for a
    /// phone to cross a dead spot without losing its connection; zero disables it (MQTT keep alive alone).
    pub idle_timeout: Duration,
    /// Interval of QUIC PINGs the server sends while nothing else is sent, keeping NAT bindings (often
    /// 30 s for UDP) open between MQTT keep alives; `None` leaves it to the client. Default 25 s.
    pub keep_alive_interval: Option<Duration>,
    /// Bidirectional streams a client may have open at once. Only the first carries MQTT; the others are
    /// refused (reset with [`AppCode::StreamRefused`]). Above 1 so that a multi-stream client gets a clear
    /// refusal instead of blocking on stream credit. Default 4.
    pub max_streams: u32,
    /// Accept 0-RTT data from resuming clients (processed only after the handshake; see the crate docs).
    pub zero_rtt: bool,
    /// Bound on the handshake and then on the wait for the client's first stream (EMQX's
    /// `handshake_idle_timeout`, 10 s).
    pub handshake_timeout: Duration,
    /// New connections accepted per second (token bucket, burst of one second's worth); `None`: no limit.
    /// An attempt over the rate is refused from its first datagram (QUIC CONNECTION_REFUSED), before any
    /// handshake work, so a flood of Initial packets costs no cryptography.
    pub connection_rate: Option<u32>,
    /// The listener's name, passed on as `ConnMeta::listener` so per-listener policy applies.
    pub name: Option<Arc<str>>,
}

impl Default for QuicListenerConfig {
    fn default() -> Self {
        QuicListenerConfig {
            bind: SocketAddr::from(([0, 0, 0, 0], 14567)),
            max_connections: 100_000,
            idle_timeout: Duration::from_secs(300),
            keep_alive_interval: Some(Duration::from_secs(25)),
            max_streams: 4,
            zero_rtt: true,
            handshake_timeout: Duration::from_secs(10),
            connection_rate: None,
            name: None,
        }
    }
}

/// A bound QUIC listener, ready to [`run`](QuicFrontend::run).
pub struct QuicFrontend {
    endpoint: Endpoint,
    config: QuicListenerConfig,
    stats: Arc<QuicStats>,
}

impl QuicFrontend {
    /// Binds the UDP socket now, so the caller learns the real port and bind errors before serving.
    /// `tls` supplies the certificate resolver and client verification (in Tern: `tern-tls`, shared with
    /// the TLS and WSS listeners); ALPN, tickets and early data are set here.
    pub fn bind(config: QuicListenerConfig, tls: &rustls::ServerConfig) -> Result<QuicFrontend, QuicError> {
        let server = server_config(&config, tls)?;
        let stats = Arc::new(QuicStats::default());
        let bind_err = |source| QuicError::Bind {
            addr: config.bind,
            source,
        };
        let udp = std::net::UdpSocket::bind(config.bind).map_err(bind_err)?;
        let runtime = Arc::new(TokioRuntime);
        let socket = quinn::Runtime::wrap_udp_socket(&*runtime, udp).map_err(bind_err)?;
        let socket = Arc::new(socket::CountingSocket::new(socket, stats.clone()));
        let mut endpoint_config = EndpointConfig::default();
        // Peers must keep the fixed bit set, which lets the socket recognise garbage (see `socket`).
        endpoint_config.grease_quic_bit(false);
        let endpoint = Endpoint::new_with_abstract_socket(endpoint_config, Some(server), socket, runtime)
            .map_err(bind_err)?;
        Ok(QuicFrontend {
            endpoint,
            config,
            stats,
        })
    }

    /// The bound address (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.endpoint.local_addr()
    }

    /// The listener's counters; stays valid after [`run`](QuicFrontend::run) took the frontend.
    pub fn stats(&self) -> Arc<QuicStats> {
        self.stats.clone()
    }

    /// Accepts connections until the broker shuts down; each is served on its own task. On shutdown it
    /// stops accepting, lets the connections finish (the broker disconnects them), then closes the
    /// endpoint.
    pub async fn run(self, broker: Broker) {
        self.stats.attach(&broker);
        let max = self.config.max_connections.min(Semaphore::MAX_PERMITS);
        let permits = Arc::new(Semaphore::new(max));
        let mut shutdown = broker.shutdown_signal();
        let local = self.local_addr().ok();
        info!(addr = ?local, zero_rtt = self.config.zero_rtt, "MQTT over QUIC listening (ALPN \"mqtt\")");
        let cx = Arc::new(connection::Context {
            broker: broker.clone(),
            stats: self.stats.clone(),
            handshake_timeout: self.config.handshake_timeout,
            listener: self.config.name.clone(),
        });
        let mut rate = RateGate::new(self.config.connection_rate);
        loop {
            let incoming = tokio::select! {
                i = self.endpoint.accept() => i,
                _ = shutdown.wait() => break,
            };
            let Some(incoming) = incoming else { break };
            if !rate.admit(incoming.remote_address()) {
                self.stats.note_refused_rate();
                incoming.refuse();
                continue;
            }
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                warn!(
                    peer = %incoming.remote_address(),
                    limit = self.config.max_connections,
                    "QUIC listener at max_connections: refusing new connection"
                );
                self.stats.note_refused_at_limit();
                incoming.refuse();
                continue;
            };
            // Counted as live before the handshake, so shutdown waits for connections mid-handshake.
            let guard = broker.connection_guard();
            tokio::spawn(connection::serve(incoming, cx.clone(), guard, permit));
        }
        // Every connection task holds a permit: having them all back means every connection has closed.
        let all = u32::try_from(max).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(Duration::from_secs(10), permits.acquire_many(all)).await;
        self.endpoint
            .close(AppCode::Shutdown.varint(), AppCode::Shutdown.reason());
        let _ = tokio::time::timeout(Duration::from_secs(2), self.endpoint.wait_idle()).await;
        info!(addr = ?local, "MQTT over QUIC listener stopped");
    }
}

/// The listener's `connection_rate`: a token bucket checked per incoming connection, with at most one log
/// line a second while it refuses.
struct RateGate {
    bucket: Option<TokenBucket>,
    rate: Option<u32>,
    logged: Option<Instant>,
}

impl RateGate {
    fn new(rate: Option<u32>) -> RateGate {
        RateGate {
            bucket: rate.map(|r| TokenBucket::new(u64::from(r), u64::from(r))),
            rate,
            logged: None,
        }
    }

    /// True when a new connection from `peer` fits the rate now.
    fn admit(&mut self, peer: SocketAddr) -> bool {
        let Some(bucket) = &mut self.bucket else {
            return true;
        };
        let now = Instant::now();
        if bucket.try_take(now, 1) {
            return true;
        }
        if self
            .logged
            .is_none_or(|at| now.duration_since(at) >= Duration::from_secs(1))
        {
            self.logged = Some(now);
            warn!(%peer, rate = self.rate, "QUIC listener over connection_rate: refusing new connections");
        }
        false
    }
}

/// quinn's server configuration from the listener settings.
fn server_config(
    config: &QuicListenerConfig,
    base: &rustls::ServerConfig,
) -> Result<ServerConfig, QuicError> {
    let crypto = tls::server_crypto(base, config.zero_rtt)?;
    let mut transport = TransportConfig::default();
    let idle = if config.idle_timeout.is_zero() {
        None
    } else {
        Some(IdleTimeout::try_from(config.idle_timeout).map_err(|_| {
            QuicError::Setting(format!("idle_timeout {:?} is too large", config.idle_timeout))
        })?)
    };
    transport.max_idle_timeout(idle);
    transport.keep_alive_interval(config.keep_alive_interval.filter(|d| !d.is_zero()));
    if config.max_streams == 0 {
        return Err(QuicError::Setting(
            "max_streams must be at least 1 (the MQTT stream)".into(),
        ));
    }
    transport.max_concurrent_bidi_streams(VarInt::from_u32(config.max_streams));
    transport.max_concurrent_uni_streams(VarInt::from_u32(0));
    let mut server = ServerConfig::with_crypto(Arc::new(crypto));
    server.transport_config(Arc::new(transport));
    server.migration(true);
    Ok(server)
}
