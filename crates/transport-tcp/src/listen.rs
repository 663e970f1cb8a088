//! The accept loop every stream frontend (TCP, TLS, WebSocket) shares: bind with socket2, cap connections,
//! tune sockets, read an optional PROXY header under the handshake deadline, and hand each connection to
//! the frontend's own handshake on its own task. Failures before MQTT starts are logged once and counted.

use crate::TcpListenerConfig;
use crate::proxy::{Prefixed, read_proxy_header};
use socket2::{Domain, Protocol, SockRef, Socket, TcpKeepalive, Type};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tern_broker::{Broker, ConnectionGuard, TokenBucket};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::{info, warn};

/// Counters of one listener, readable while it runs (metrics, tests).
#[derive(Debug, Default)]
pub struct ListenerStats {
    /// Connections accepted (before any handshake).
    pub accepted: AtomicU64,
    /// Connections that failed before MQTT began: PROXY header, TLS or WebSocket handshake, or its deadline.
    pub handshake_failures: AtomicU64,
    /// Connections refused because the listener was at `max_connections`.
    pub refused_at_limit: AtomicU64,
    /// Connections closed at accept for exceeding `connection_rate`.
    pub refused_rate: AtomicU64,
    /// The broker whose `$SYS` counters add this listener's refusals (set when the listener runs).
    broker: OnceLock<Broker>,
}

impl ListenerStats {
    /// Records one failed handshake and logs it once, with the peer and the reason.
    pub fn handshake_failed(&self, listener: &str, peer: SocketAddr, reason: &dyn std::fmt::Display) {
        self.handshake_failures.fetch_add(1, Ordering::Relaxed);
        if let Some(b) = self.broker.get() {
            b.core().note_handshake_failure();
        }
        info!(listener, %peer, reason = %reason, "handshake failed; connection closed");
    }

    /// Handshake failures so far.
    pub fn failures(&self) -> u64 {
        self.handshake_failures.load(Ordering::Relaxed)
    }
}

/// A connection accepted by a [`StreamListener`], PROXY header (if any) already consumed.
pub struct Incoming {
    /// The byte stream, starting with the first byte after any PROXY header.
    pub stream: Prefixed<TcpStream>,
    /// The client's address: from the PROXY header when one was read, else the socket's peer.
    pub peer: SocketAddr,
    /// Keeps the connection counted by the broker from accept on, so shutdown waits for handshakes too.
    pub guard: ConnectionGuard,
    /// When the whole handshake (PROXY header included) must be done.
    pub deadline: Instant,
    /// The listener's counters, for the frontend to record its own handshake failures.
    pub stats: Arc<ListenerStats>,
    /// The listener's name (`TcpListenerConfig::name`), for `ConnMeta::listener`.
    pub listener: Option<Arc<str>>,
}

/// A bound TCP socket that accepts connections for one frontend.
pub struct StreamListener {
    listener: TcpListener,
    config: TcpListenerConfig,
    stats: Arc<ListenerStats>,
}

impl StreamListener {
    /// Binds now, so the caller learns the real port and bind errors before serving. `what` names the
    /// listener in errors ("TCP", "TLS", "WebSocket").
    pub fn bind(config: TcpListenerConfig, what: &str) -> io::Result<StreamListener> {
        let listener = bind_socket(config.bind, config.backlog).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot listen for {what} on {}: {e} (is another broker running on that port?)",
                    config.bind
                ),
            )
        })?;
        Ok(StreamListener {
            listener,
            config,
            stats: Arc::new(ListenerStats::default()),
        })
    }

    /// The bound address (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// This listener's counters.
    pub fn stats(&self) -> Arc<ListenerStats> {
        self.stats.clone()
    }

    /// Accepts until the broker shuts down; each connection runs `serve` on its own task after the PROXY
    /// header (when configured). `name` labels the logs.
    pub async fn run<F, Fut>(self, broker: Broker, name: &'static str, serve: F)
    where
        F: Fn(Incoming, Broker) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let serve = Arc::new(serve);
        let _ = self.stats.broker.set(broker.clone());
        let permits = Arc::new(Semaphore::new(self.config.max_connections));
        let mut shutdown = broker.shutdown_signal();
        let mut rate = self
            .config
            .connection_rate
            .map(|r| TokenBucket::new(u64::from(r), u64::from(r)));
        let mut rate_logged: Option<Instant> = None;
        let local = self.local_addr().ok();
        info!(addr = ?local, proxy_protocol = self.config.proxy_protocol, "MQTT over {name} listening");
        loop {
            let accepted = tokio::select! {
                a = self.listener.accept() => a,
                _ = shutdown.wait() => break,
            };
            let (stream, peer) = match accepted {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    warn!(error = %e, "{name} accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            self.stats.accepted.fetch_add(1, Ordering::Relaxed);
            if let Some(bucket) = &mut rate {
                let now = Instant::now();
                if !bucket.try_take(now.into_std(), 1) {
                    self.stats.refused_rate.fetch_add(1, Ordering::Relaxed);
                    broker.core().note_connection_rate_refused();
                    if rate_logged.is_none_or(|at| now.duration_since(at) >= Duration::from_secs(1)) {
                        rate_logged = Some(now);
                        warn!(%peer, rate = self.config.connection_rate, "{name} listener over connection_rate: closing new connections");
                    }
                    drop(stream);
                    continue;
                }
            }
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                self.stats.refused_at_limit.fetch_add(1, Ordering::Relaxed);
                warn!(%peer, limit = self.config.max_connections, "{name} listener at max_connections: closing new connection");
                drop(stream);
                continue;
            };
            self.tune(&stream);
            // The permit lives as long as the guard: the whole connection.
            let guard = broker.connection_guard().holding(permit);
            let deadline = Instant::now() + self.config.handshake_timeout;
            let stats = self.stats.clone();
            let listener = self.config.name.clone();
            if !self.config.proxy_protocol {
                // The task is `serve`'s own future: no wrapper keeping a second copy of the stream.
                let incoming = Incoming {
                    stream: Prefixed::new(Vec::new(), stream),
                    peer,
                    guard,
                    deadline,
                    stats,
                    listener,
                };
                tokio::spawn(serve(incoming, broker.clone()));
                continue;
            }
            let serve = serve.clone();
            let broker = broker.clone();
            tokio::spawn(async move {
                let mut stream = stream;
                let mut shutdown = broker.shutdown_signal();
                let read = tokio::select! {
                    r = tokio::time::timeout_at(deadline, read_proxy_header(&mut stream)) => r,
                    _ = shutdown.wait() => return,
                };
                let (stream, peer) = match read {
                    Ok(Ok((source, rest))) => (Prefixed::new(rest, stream), source.unwrap_or(peer)),
                    Ok(Err(e)) => return stats.handshake_failed(name, peer, &e),
                    Err(_) => {
                        return stats.handshake_failed(name, peer, &"no PROXY header before the deadline");
                    }
                };
                let incoming = Incoming {
                    stream,
                    peer,
                    guard,
                    deadline,
                    stats,
                    listener,
                };
                serve(incoming, broker).await;
            });
        }
        info!(addr = ?local, "MQTT over {name} listener stopped");
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
