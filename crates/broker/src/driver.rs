//! The per-connection driver: one task owns one `MqttConnection` and moves bytes between it and the
//! transport. It selects over the socket (only while the connection wants to read: a publisher feeding a
//! full subscriber queue is paused), the session's notifier and the connection's timer; everything MQTT
//! happens in the core.

use crate::handle::ShutdownSignal;
use bytes::BytesMut;
use std::sync::Arc;
use std::time::Duration;
use tern_broker_core::{BrokerCore, ConnMeta, MqttConnection, Notifier};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::{Instrument, debug, info_span, warn};

/// Tuning of the connection driver, shared by every frontend.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// Smallest read reservation: what an idle connection holds while it waits for bytes.
    pub read_buffer_min: usize,
    /// Largest read reservation: a busy publisher's reads grow to this, so one read brings many packets.
    /// Kept small on purpose: a read is routed as one batch, and a 64 KiB read of a flood (hundreds of
    /// publishes, each fanned out) starved the subscribers' tasks before publishers got back-pressure: fan-out
    /// to 500 subscribers fell from 1.6M to 0.13M deliveries/s with 64 KiB against 4 KiB.
    pub read_buffer_max: usize,
    /// A write that makes no progress for this long closes the connection: a peer that stops reading must
    /// not pin the broker's buffers forever.
    pub write_timeout: Duration,
    /// How long a closing connection may take to flush its last packets.
    pub close_timeout: Duration,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            read_buffer_min: 256,
            read_buffer_max: 4096,
            write_timeout: Duration::from_secs(30),
            close_timeout: Duration::from_secs(5),
        }
    }
}

/// Why the driver loop ended, for the closing log line.
#[derive(Debug)]
enum End {
    PeerClosed,
    ReadError(std::io::Error),
    WriteError(std::io::Error),
    WriteTimeout,
    ClosedByBroker,
}

/// Runs one connection to its end.
pub(crate) async fn drive<S>(
    core: Arc<BrokerCore>,
    io: S,
    meta: ConnMeta,
    cfg: &DriverConfig,
    shutdown: ShutdownSignal,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let span = info_span!("conn", peer = %meta.peer, transport = ?meta.transport);
    drive_inner(core, io, meta, cfg, shutdown).instrument(span).await;
}

async fn drive_inner<S>(
    core: Arc<BrokerCore>,
    io: S,
    meta: ConnMeta,
    cfg: &DriverConfig,
    _shutdown: ShutdownSignal,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let wake = Arc::new(Notify::new());
    let notifier: Notifier = {
        let wake = wake.clone();
        Arc::new(move || wake.notify_one())
    };
    let mut conn = MqttConnection::new(core, meta, notifier, Instant::now().into_std());
    let (mut rd, mut wr) = tokio::io::split(io);
    let mut rbuf = BytesMut::new();
    let mut wbuf = BytesMut::new();
    // The read reservation adapts: it doubles while reads fill it and halves while they use little of it,
    // so a flood is read in large gulps and an idle connection holds only `read_buffer_min` bytes.
    let mut chunk = cfg.read_buffer_min;
    // The last `handle_read` paused the connection and may have left whole packets in `rbuf`: they are
    // handled as soon as it wants to read again, before the socket is read.
    let mut parked = false;

    let end = loop {
        conn.poll_transmit(Instant::now().into_std(), &mut wbuf);
        if !wbuf.is_empty() {
            // Flush too: TLS and WebSocket writers buffer until flushed.
            let write = async {
                wr.write_all(&wbuf).await?;
                wr.flush().await
            };
            match tokio::time::timeout(cfg.write_timeout, write).await {
                Ok(Ok(())) => wbuf.clear(),
                Ok(Err(e)) => break End::WriteError(e),
                Err(_) => break End::WriteTimeout,
            }
            // Let a burst's buffer go once written: a connection between bursts (or a fan-out subscriber
            // among thousands) should not hold one. One allocation per write call is cheap by comparison.
            if wbuf.capacity() > 1024 {
                wbuf = BytesMut::new();
            }
        }
        if conn.is_closed() {
            break End::ClosedByBroker;
        }
        if parked && conn.wants_read(Instant::now().into_std()) {
            let now = Instant::now().into_std();
            conn.handle_read(now, &mut rbuf);
            parked = !conn.wants_read(now);
            continue;
        }
        let deadline = conn.poll_timeout().map(Instant::from_std);
        // Back-pressure: a paused publisher is not read; the drain notifier or the pause's deadline wakes us.
        let reading = conn.wants_read(Instant::now().into_std());
        if rbuf.capacity() - rbuf.len() < chunk / 2 {
            rbuf.reserve(chunk);
        }
        let room = rbuf.capacity() - rbuf.len();
        // The core stopped at its write budget with deliveries queued: poll again at once, but through the
        // select, so a subscriber with a long queue still reads its socket and keeps its timers.
        let more = conn.has_more_to_send();
        tokio::select! {
            _ = std::future::ready(()), if more => {}
            read = rd.read_buf(&mut rbuf), if reading => match read {
                Ok(0) => break End::PeerClosed,
                Ok(n) => {
                    chunk = next_chunk(chunk, n, room, cfg);
                    let now = Instant::now().into_std();
                    conn.handle_read(now, &mut rbuf);
                    parked = !conn.wants_read(now);
                }
                Err(e) => break End::ReadError(e),
            },
            _ = wake.notified() => {}
            _ = sleep_until_opt(deadline) => conn.handle_timeout(Instant::now().into_std()),
        }
        // Idle connections hold no read buffer: packets already split off keep their own bytes alive.
        if rbuf.is_empty() && rbuf.capacity() > 0 {
            rbuf = BytesMut::new();
        }
    };

    match &end {
        End::ClosedByBroker => {}
        _ => conn.handle_close(Instant::now().into_std()),
    }
    // Flush whatever the close produced (a DISCONNECT on 5.0), bounded in time.
    conn.poll_transmit(Instant::now().into_std(), &mut wbuf);
    if !wbuf.is_empty() && !matches!(end, End::WriteError(_) | End::WriteTimeout) {
        let _ = tokio::time::timeout(cfg.close_timeout, async {
            wr.write_all(&wbuf).await?;
            wr.flush().await
        })
        .await;
    }
    let _ = tokio::time::timeout(cfg.close_timeout, wr.shutdown()).await;
    let client_id = conn.client_id().unwrap_or("");
    match &end {
        End::ReadError(e) | End::WriteError(e) => {
            debug!(client_id, error = %e, "connection closed after an I/O error")
        }
        End::WriteTimeout => {
            warn!(client_id, timeout = ?cfg.write_timeout, "peer stopped reading: connection closed")
        }
        End::PeerClosed | End::ClosedByBroker => debug!(client_id, reason = ?end, "connection closed"),
    }
}

/// The next read reservation after a read of `n` bytes into `room` bytes of space.
fn next_chunk(chunk: usize, n: usize, room: usize, cfg: &DriverConfig) -> usize {
    if n >= room {
        (chunk * 2).min(cfg.read_buffer_max)
    } else if n < chunk / 4 {
        (chunk / 2).max(cfg.read_buffer_min)
    } else {
        chunk
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_reservation_grows_under_load_and_shrinks_when_idle() {
        let cfg = DriverConfig::default();
        let mut chunk = cfg.read_buffer_min;
        for _ in 0..20 {
            chunk = next_chunk(chunk, chunk, chunk, &cfg);
        }
        assert_eq!(chunk, cfg.read_buffer_max);
        for _ in 0..20 {
            chunk = next_chunk(chunk, 2, chunk, &cfg);
        }
        assert_eq!(chunk, cfg.read_buffer_min);
    }
}
