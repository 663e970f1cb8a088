//! MQTT over plain TCP and over TLS: bind a listener with the socket options a broker wants (backlog, reuse,
//! nodelay), cap concurrent connections, optionally read a PROXY protocol header, do the TLS handshake under a
//! deadline, and hand every stream to [`tern_broker::Broker::serve_stream`]. No MQTT logic lives here.
//!
//! [`StreamListener`] is the shared accept loop; the WebSocket frontend builds on it too.

mod listen;
mod proxy;
mod tls;

pub use listen::{Incoming, ListenerStats, StreamListener};
pub use proxy::{Prefixed, read_proxy_header};
pub use tls::{TlsFrontend, classify_tls_error};

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tern_broker::{Broker, ConnMeta, TransportKind};

/// Settings of one TCP-based listener (plain TCP, TLS, WebSocket).
#[derive(Debug, Clone)]
pub struct TcpListenerConfig {
    /// Address to bind; port 0 picks a free port (tests).
    pub bind: SocketAddr,
    /// Listen backlog.
    pub backlog: u32,
    /// Connections this listener serves at once; further ones are accepted and closed at once.
    pub max_connections: usize,
    /// Disable Nagle's algorithm: MQTT packets are small and latency matters.
    pub nodelay: bool,
    /// TCP keepalive probes for half-open peers that never send again (MQTT keep alive 0).
    pub tcp_keepalive: Option<Duration>,
    /// Expect a PROXY protocol v1/v2 header first and take the client address from it. Only behind a proxy
    /// that always sends one: anyone who can reach the port could otherwise claim any address.
    pub proxy_protocol: bool,
    /// Time from accept to the end of every handshake before MQTT (PROXY header, TLS, WebSocket upgrade).
    pub handshake_timeout: Duration,
    /// New connections accepted per second (token bucket, burst of one second's worth); `None`: no limit.
    /// Connections over the rate are closed at accept, before any handshake.
    pub connection_rate: Option<u32>,
    /// The listener's name, passed on as [`ConnMeta::listener`] so per-listener policy applies.
    pub name: Option<Arc<str>>,
}

impl Default for TcpListenerConfig {
    fn default() -> Self {
        TcpListenerConfig {
            bind: SocketAddr::from(([0, 0, 0, 0], 1883)),
            backlog: 1024,
            max_connections: 100_000,
            nodelay: true,
            tcp_keepalive: Some(Duration::from_secs(120)),
            proxy_protocol: false,
            handshake_timeout: Duration::from_secs(10),
            connection_rate: None,
            name: None,
        }
    }
}

/// A bound plain-TCP listener, ready to [`run`](TcpFrontend::run).
pub struct TcpFrontend {
    listener: StreamListener,
}

impl TcpFrontend {
    /// Binds the socket now, so the caller learns the real port and bind errors before serving.
    pub fn bind(config: TcpListenerConfig) -> io::Result<TcpFrontend> {
        Ok(TcpFrontend {
            listener: StreamListener::bind(config, "TCP")?,
        })
    }

    /// The bound address (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// This listener's counters.
    pub fn stats(&self) -> Arc<ListenerStats> {
        self.listener.stats()
    }

    /// Accepts connections until the broker shuts down; each is served on its own task.
    pub async fn run(self, broker: Broker) {
        self.listener
            .run(broker, "TCP", |incoming: Incoming, broker: Broker| {
                let meta = ConnMeta {
                    peer: incoming.peer,
                    transport: TransportKind::Tcp,
                    tls_identity: None,
                    listener: incoming.listener,
                };
                // The driver's future itself, not an `async` block around it: one copy of the stream.
                broker.serve_stream(incoming.stream, meta, Some(incoming.guard))
            })
            .await;
    }
}
