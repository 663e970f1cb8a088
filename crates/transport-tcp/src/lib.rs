//! MQTT over plain TCP: bind a listener with the socket options a broker wants (backlog, reuse, nodelay),
//! cap concurrent connections, and hand every accepted stream to [`tern_broker::Broker::serve_stream`].
//! No MQTT logic lives here.

use socket2::{Domain, Protocol, SockRef, Socket, TcpKeepalive, Type};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tern_broker::{Broker, ConnMeta, TransportKind};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tracing::{info, warn};

/// Settings of one TCP listener.
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
}

impl Default for TcpListenerConfig {
    fn default() -> Self {
        TcpListenerConfig {
            bind: SocketAddr::from(([0, 0, 0, 0], 1883)),
            backlog: 1024,
            max_connections: 100_000,
            nodelay: true,
            tcp_keepalive: Some(Duration::from_secs(120)),
        }
    }
}

/// A bound TCP listener, ready to [`run`](TcpFrontend::run).
pub struct TcpFrontend {
    listener: TcpListener,
    config: TcpListenerConfig,
}

impl TcpFrontend {
    /// Binds the socket now, so the caller learns the real port and bind errors before serving.
    pub fn bind(config: TcpListenerConfig) -> io::Result<TcpFrontend> {
        let listener = bind_socket(config.bind, config.backlog).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot listen on TCP {}: {e} (is another broker running on that port?)",
                    config.bind
                ),
            )
        })?;
        Ok(TcpFrontend { listener, config })
    }

    /// The bound address (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until the broker shuts down; each is served on its own task.
    pub async fn run(self, broker: Broker) {
        let permits = Arc::new(Semaphore::new(self.config.max_connections));
        let mut shutdown = broker.shutdown_signal();
        let local = self.local_addr().ok();
        info!(addr = ?local, "MQTT over TCP listening");
        loop {
            let accepted = tokio::select! {
                a = self.listener.accept() => a,
                _ = shutdown.wait() => break,
            };
            let (stream, peer) = match accepted {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    warn!(error = %e, "TCP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                warn!(%peer, limit = self.config.max_connections, "TCP listener at max_connections: closing new connection");
                drop(stream);
                continue;
            };
            self.tune(&stream);
            let broker = broker.clone();
            tokio::spawn(async move {
                let meta = ConnMeta {
                    peer,
                    transport: TransportKind::Tcp,
                    tls_identity: None,
                };
                broker.serve_stream(stream, meta, None).await;
                drop(permit);
            });
        }
        info!(addr = ?local, "MQTT over TCP listener stopped");
    }

    fn tune(&self, stream: &TcpStream) {
        let sock = SockRef::from(stream);
        if self.config.nodelay {
            let _ = sock.set_tcp_nodelay(true);
        }
        if let Some(idle) = self.config.tcp_keepalive {
            let _ = sock.set_tcp_keepalive(&TcpKeepalive::new().with_time(idle));
        }
    }
}

fn bind_socket(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    TcpListener::from_std(socket.into())
}
