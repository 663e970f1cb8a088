//! Tern's MQTT-SN 1.2 frontend: one UDP socket feeding the core's `SnGateway` (from `tern-broker-core`).
//!
//! This crate owns the socket loop (receive, flood control, hand datagrams to the gateway, send what it
//! produces), the timer that drives retransmission, keep alive and ADVERTISE, the wake-up when a session
//! has deliveries, metrics and log lines. It owns no MQTT-SN logic: every protocol decision is the
//! gateway's, so it can be tested without sockets.

mod limiter;

pub use limiter::FloodLimits;
pub use tern_broker_core::mqttsn::{SnConfig, SnStats};

use bytes::Bytes;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tern_broker::Broker;
use tern_broker_core::mqttsn::SnGateway;
use tokio::net::UdpSocket;
use tokio::sync::Notify;

/// The loop wakes at least this often, so a deadline added while it slept is never late by more.
const MAX_SLEEP: Duration = Duration::from_millis(500);
/// Datagrams handled per wake-up before transmitting, so one busy socket cannot starve outbound traffic.
const RECV_BATCH: usize = 256;
/// Largest datagram read (the MQTT-SN length field allows 65,535 octets).
const MAX_DATAGRAM: usize = 65_535;

/// Settings of one MQTT-SN listener.
#[derive(Debug, Clone)]
pub struct SnListenerConfig {
    /// UDP address to bind; port 0 picks a free port (tests).
    pub bind: SocketAddr,
    /// The gateway's settings.
    pub gateway: SnConfig,
    /// Flood control.
    pub limits: FloodLimits,
    /// Socket receive buffer asked of the kernel (capped by `net.core.rmem_max`): room for bursts of
    /// datagrams while the loop is busy, instead of dropping them in the kernel.
    pub recv_buffer: usize,
}

impl Default for SnListenerConfig {
    fn default() -> SnListenerConfig {
        SnListenerConfig {
            bind: SocketAddr::from(([0, 0, 0, 0], 1884)),
            gateway: SnConfig::default(),
            limits: FloodLimits::default(),
            recv_buffer: 4 * 1024 * 1024,
        }
    }
}

/// A bound MQTT-SN listener, ready to [`run`](SnFrontend::run).
pub struct SnFrontend {
    socket: UdpSocket,
    config: SnListenerConfig,
}

impl SnFrontend {
    /// Binds the UDP socket (broadcast enabled when ADVERTISE is configured). Must be called inside a tokio
    /// runtime; synchronous so bind errors stop start-up before anything is served.
    pub fn bind(config: SnListenerConfig) -> io::Result<SnFrontend> {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(config.bind),
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )?;
        if let Err(e) = socket.set_recv_buffer_size(config.recv_buffer) {
            tracing::warn!(error = %e, "cannot size the MQTT-SN receive buffer; using the system default");
        }
        socket.bind(&config.bind.into())?;
        let std_socket: std::net::UdpSocket = socket.into();
        if config.gateway.advertise_address.is_some() {
            std_socket.set_broadcast(true)?;
        }
        std_socket.set_nonblocking(true)?;
        let socket = UdpSocket::from_std(std_socket)?;
        Ok(SnFrontend { socket, config })
    }

    /// The bound address (the real port when 0 was asked for).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Serves datagrams until the broker shuts down; then says DISCONNECT to every client.
    pub async fn run(self, broker: Broker) {
        let _guard = broker.connection_guard();
        let mut shutdown = broker.shutdown_signal();
        let notify = Arc::new(Notify::new());
        let waker = {
            let notify = notify.clone();
            Arc::new(move || notify.notify_one())
        };
        let start = Instant::now();
        let mut gw = SnGateway::new(broker.core().clone(), self.config.gateway.clone(), waker, start);
        let mut limiter = limiter::Limiter::new(self.config.limits, start);
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut report = start + Duration::from_secs(60);
        let local = self.socket.local_addr().ok();
        tracing::info!(addr = ?local, "MQTT-SN gateway listening");
        loop {
            let now = Instant::now();
            transmit(&self.socket, &mut gw, now).await;
            if now >= report {
                report = now + Duration::from_secs(60);
                let s = gw.stats();
                tracing::info!(
                    clients = s.clients,
                    datagrams_in = s.datagrams_in,
                    datagrams_out = s.datagrams_out,
                    malformed = s.malformed,
                    unknown_peer = s.unknown_peer,
                    flood_dropped = limiter.dropped,
                    lost = s.lost,
                    refused_rate = s.refused_rate,
                    retransmissions = s.retransmissions,
                    "MQTT-SN gateway stats"
                );
            }
            let cap = tokio::time::Instant::now() + MAX_SLEEP;
            let wake = gw
                .poll_timeout()
                .map(|at| tokio::time::Instant::from_std(at).min(cap))
                .unwrap_or(cap);
            tokio::select! {
                r = self.socket.recv_from(&mut buf) => {
                    let mut next = Some(r);
                    let mut handled = 0;
                    // One clock reading per batch: the datagrams of a batch arrived together.
                    let now = Instant::now();
                    while let Some(r) = next.take() {
                        match r {
                            Ok((n, peer)) => {
                                if limiter.allow(now, peer, gw.clients_at(peer)) {
                                    let d = Bytes::copy_from_slice(buf.get(..n).unwrap_or_default());
                                    gw.handle_datagram(now, peer, d);
                                } else {
                                    tracing::trace!(%peer, "datagram over the flood limit, dropped");
                                }
                            }
                            // ICMP port unreachable from an earlier send and the like: not fatal.
                            Err(e) => tracing::debug!(error = %e, "MQTT-SN receive error"),
                        }
                        handled += 1;
                        if handled < RECV_BATCH {
                            match self.socket.try_recv_from(&mut buf) {
                                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                                other => next = Some(other),
                            }
                        }
                    }
                }
                _ = notify.notified() => {}
                _ = tokio::time::sleep_until(wake) => gw.handle_timeout(Instant::now()),
                _ = shutdown.wait() => {
                    gw.shutdown(Instant::now());
                    transmit(&self.socket, &mut gw, Instant::now()).await;
                    tracing::info!(addr = ?local, "MQTT-SN gateway stopped");
                    return;
                }
            }
        }
    }
}

/// Sends everything the gateway has to say; a failed send is logged and the datagram lost (UDP).
async fn transmit(socket: &UdpSocket, gw: &mut SnGateway, now: Instant) {
    while let Some((to, datagram)) = gw.poll_transmit(now) {
        if let Err(e) = socket.send_to(&datagram, to).await {
            tracing::debug!(%to, error = %e, "MQTT-SN send failed");
        }
    }
}
