//! The per-connection driver: one task owns one `MqttConnection` and moves bytes between it and the
//! transport. It selects over the socket (only while the connection wants to read: a publisher feeding a
//! full subscriber queue is paused), the session's notifier and the connection's timer; everything MQTT
//! happens in the core.

use crate::handle::ConnectionGuard;
use crate::wakeup::Wakeup;
use bytes::BytesMut;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tern_broker_core::{ConnMeta, MqttConnection, Notifier};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::{Instant, Sleep};
use tracing::{debug, warn};

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

/// Bytes an idle connection reads into the driver's own inline buffer: enough for a PINGREQ, an ack or a
/// tiny publish (a longer packet is read on into the heap buffer), so a connection that waits for its next
/// packet holds no heap read buffer at all. Small because every connection's task carries it.
const IDLE_READ: usize = 16;

/// Why the driver loop ended, for the closing log line.
#[derive(Debug)]
enum End {
    PeerClosed,
    ReadError(std::io::Error),
    WriteError(std::io::Error),
    WriteTimeout,
    ClosedByBroker,
}

/// What a connection's task owns for its whole life; the loops borrow it as one reference, so their
/// futures keep one pointer instead of one per field.
struct Driven<S> {
    conn: MqttConnection,
    io: S,
    wake: Arc<Wakeup>,
    /// Keeps the connection counted as live, and leads to the broker's settings.
    guard: ConnectionGuard,
}

/// Runs one connection to its end; `guard` keeps it counted as live until then.
///
/// Written so the task's future stays small (it is most of what an idle connection costs): the connection
/// is built before the future, which then holds it, the stream and the guard once each (an `async fn`
/// would also keep its arguments' first copies); one timer serves the protocol deadline and the write
/// timeout; the stream is not split; the read buffers live on the heap only while bytes arrive.
pub(crate) fn drive<S>(io: S, meta: ConnMeta, guard: ConnectionGuard) -> impl Future<Output = ()> + use<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let wake = Arc::new(Wakeup::default());
    let notifier: Notifier = {
        let wake = wake.clone();
        Arc::new(move || wake.wake())
    };
    let core = guard.broker().core().clone();
    let conn = MqttConnection::new(core, meta, notifier, Instant::now().into_std());
    let mut d = Driven {
        conn,
        io,
        wake,
        guard,
    };
    async move {
        let end = run(&mut d).await;
        close(&mut d, end).await;
        // The connection stops counting as live only now, after its last write.
        drop(d);
    }
}

/// The connection's life until it ends: write what the core has, then wait for bytes, a wake-up or the
/// deadline.
async fn run<S>(d: &mut Driven<S>) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let cfg = d.guard.broker().driver_config();
    // Reused for every deadline: the connection's (keep alive, CONNECT, pause) and a write's timeout.
    let timer = tokio::time::sleep_until(Instant::now());
    tokio::pin!(timer);
    let mut rbuf = BytesMut::new();
    // The read reservation adapts: it doubles while reads fill it and halves while they use little of it,
    // so a flood is read in large gulps and an idle connection reads into `small` only.
    let mut chunk = cfg.read_buffer_min;
    // The last `handle_read` paused the connection and may have left whole packets in `rbuf`: they are
    // handled as soon as it wants to read again, before the socket is read.
    let mut parked = false;
    loop {
        if let Some(end) = transmit(&mut d.conn, &mut d.io, cfg, timer.as_mut()).await {
            return end;
        }
        let conn = &mut d.conn;
        if conn.is_closed() {
            return End::ClosedByBroker;
        }
        let now = Instant::now().into_std();
        if parked && conn.wants_read(now) {
            conn.handle_read(now, &mut rbuf);
            parked = !conn.wants_read(now);
            continue;
        }
        let timed = match conn.poll_timeout() {
            Some(at) => {
                timer.as_mut().reset(Instant::from_std(at));
                true
            }
            None => false,
        };
        // Back-pressure: a paused publisher is not read; the drain notifier or the pause's deadline wakes us.
        let reading = conn.wants_read(now);
        // Idle (nothing buffered, reads small): read into `small`; busy: straight into the heap buffer.
        let idle = rbuf.is_empty() && chunk <= cfg.read_buffer_min;
        if !idle && rbuf.capacity() - rbuf.len() < chunk / 2 {
            rbuf.reserve(chunk);
        }
        // One read takes at most `read_buffer_max` (a read is routed as one batch), even when the buffer grew
        // for a large packet.
        let room = if idle {
            IDLE_READ
        } else {
            (rbuf.capacity() - rbuf.len()).min(cfg.read_buffer_max)
        };
        // Where an idle connection's reads land; copied to `rbuf` only when bytes came.
        let mut small = [0u8; IDLE_READ];
        let wake = &d.wake;
        // The core stopped at its write budget with deliveries queued: poll again at once, but through the
        // select, so a subscriber with a long queue still reads its socket and keeps its timers.
        let more = conn.has_more_to_send();
        tokio::select! {
            _ = std::future::ready(()), if more => {}
            read = std::future::poll_fn(|cx| poll_read_into(&mut d.io, cx, idle, &mut small, &mut rbuf, room)),
                if reading => match read {
                Ok(0) => return End::PeerClosed,
                Ok(n) => {
                    chunk = next_chunk(chunk, n, room, cfg);
                    let now = Instant::now().into_std();
                    conn.handle_read(now, &mut rbuf);
                    parked = !conn.wants_read(now);
                }
                Err(e) => return End::ReadError(e),
            },
            _ = std::future::poll_fn(|cx| wake.poll_woken(cx)) => {}
            _ = timer.as_mut(), if timed => conn.handle_timeout(Instant::now().into_std()),
        }
        // Idle connections hold no read buffer: packets already split off keep their own bytes alive. Not
        // only when capacity is left: a buffer that packets were split off to its end has none, yet still
        // holds a reference to the shared storage (and the CONNECT bytes once kept every connection's).
        if rbuf.is_empty() {
            rbuf = BytesMut::new();
        }
    }
}

/// Writes everything the core has to send within `write_timeout`; `Some` when the connection must end.
/// The buffer lives only here, so the waiting loop's future has no room for it, and goes once written: a
/// connection between bursts (or a fan-out subscriber among thousands) holds none. One allocation per
/// write call is cheap by comparison.
async fn transmit<S>(
    conn: &mut MqttConnection,
    io: &mut S,
    cfg: &DriverConfig,
    mut timer: Pin<&mut Sleep>,
) -> Option<End>
where
    S: AsyncWrite + Unpin,
{
    let mut wbuf = BytesMut::new();
    conn.poll_transmit(Instant::now().into_std(), &mut wbuf);
    if wbuf.is_empty() {
        return None;
    }
    timer.as_mut().reset(Instant::now() + cfg.write_timeout);
    // Flush too: TLS and WebSocket writers buffer until flushed.
    let write = async {
        io.write_all(&wbuf).await?;
        io.flush().await
    };
    tokio::select! {
        r = write => r.err().map(End::WriteError),
        _ = timer => Some(End::WriteTimeout),
    }
}

/// Reads into `small` (then appended to `rbuf`) when `idle`, else into `rbuf`'s spare capacity. A poll
/// function rather than an `async fn`, so the waiting loop keeps a few references, not a nested future.
fn poll_read_into<S>(
    io: &mut S,
    cx: &mut Context<'_>,
    idle: bool,
    small: &mut [u8; IDLE_READ],
    rbuf: &mut BytesMut,
    limit: usize,
) -> Poll<std::io::Result<usize>>
where
    S: AsyncRead + Unpin,
{
    if idle {
        let mut buf = ReadBuf::new(small);
        ready!(Pin::new(io).poll_read(cx, &mut buf))?;
        rbuf.extend_from_slice(buf.filled());
        return Poll::Ready(Ok(buf.filled().len()));
    }
    // Zero-filled rather than uninitialised: no `unsafe`, and a memset of a few KiB is cheap beside a read.
    // At most `limit` bytes (the current reservation): a buffer that grew for a large packet must not be
    // zeroed whole on every poll.
    let len = rbuf.len();
    let end = len + (rbuf.capacity() - len).min(limit);
    rbuf.resize(end, 0);
    let mut buf = ReadBuf::new(rbuf.get_mut(len..).unwrap_or_default());
    let polled = Pin::new(io).poll_read(cx, &mut buf);
    let n = buf.filled().len();
    rbuf.truncate(len + n);
    polled.map_ok(|()| n)
}

/// Writes and flushes `buf` (TLS and WebSocket writers buffer until flushed) unless `timer` fires first:
/// `None` then.
async fn write_within<S>(io: &mut S, buf: &[u8], timer: Pin<&mut Sleep>) -> Option<std::io::Result<()>>
where
    S: AsyncWrite + Unpin,
{
    let write = async {
        io.write_all(buf).await?;
        io.flush().await
    };
    tokio::select! {
        r = write => Some(r),
        _ = timer => None,
    }
}

/// The end of a connection: the core lets go of the session, whatever the close produced (a DISCONNECT on
/// 5.0) is flushed within `close_timeout`, the stream is shut down and the end is logged.
async fn close<S>(d: &mut Driven<S>, end: End)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (conn, io, cfg) = (&mut d.conn, &mut d.io, d.guard.broker().driver_config());
    match &end {
        End::ClosedByBroker => {}
        _ => conn.handle_close(Instant::now().into_std()),
    }
    let mut wbuf = BytesMut::new();
    conn.poll_transmit(Instant::now().into_std(), &mut wbuf);
    let timer = tokio::time::sleep(cfg.close_timeout);
    tokio::pin!(timer);
    if !wbuf.is_empty() && !matches!(end, End::WriteError(_) | End::WriteTimeout) {
        let _ = write_within(io, &wbuf, timer.as_mut()).await;
    }
    tokio::select! {
        _ = io.shutdown() => {}
        _ = timer.as_mut() => {}
    }
    let client_id = conn.client_id().unwrap_or("");
    let peer = conn.meta().peer;
    match &end {
        End::ReadError(e) | End::WriteError(e) => {
            debug!(client_id, %peer, error = %e, "connection closed after an I/O error")
        }
        End::WriteTimeout => {
            warn!(client_id, %peer, timeout = ?cfg.write_timeout, "peer stopped reading: connection closed")
        }
        End::PeerClosed | End::ClosedByBroker => debug!(client_id, %peer, reason = ?end, "connection closed"),
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

    /// The driver's future is most of an idle connection's memory: 1,528 bytes before it was slimmed
    /// (stream split, a second copy of the arguments, `Notify`, the read buffer's reservation).
    #[tokio::test]
    async fn the_connection_future_stays_small() {
        let broker = crate::Broker::start(Default::default(), DriverConfig::default());
        let (io, _peer) = tokio::io::duplex(64);
        let meta = ConnMeta {
            peer: ([127, 0, 0, 1], 1883).into(),
            transport: tern_broker_core::TransportKind::Tcp,
            tls_identity: None,
            listener: None,
        };
        let future = drive(io, meta, broker.connection_guard());
        let size = std::mem::size_of_val(&future);
        println!(
            "connection future: {size} bytes (MqttConnection {} bytes)",
            size_of::<MqttConnection>()
        );
        assert!(size <= 800, "the connection future grew to {size} bytes");
    }
}
