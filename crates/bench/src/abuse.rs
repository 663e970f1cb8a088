//! `abuse`: a normal client publishes to itself at a fixed rate and measures end-to-end latency while, at
//! the same time, other connections misbehave in every way the broker's limits exist for:
//! - `--clients` connections that never send CONNECT (reopened when the broker closes them);
//! - a flood of malformed packets, 1,000/s (each on a fresh connection, which the broker must close);
//! - oversize packets, 100/s (a PUBLISH announcing 64 MiB, then payload streamed until the broker hangs up);
//! - a publisher far over its publish rate (unthrottled QoS 1, MQTT 5 shows 0x97 in PUBACK);
//! - a slow subscriber of that publisher's topic that never reads its socket.
//!
//! The normal client's figures go in the usual summary fields; what the misbehaving connections saw goes
//! in [`AbuseStats`]. Run it against a broker with limits set (`scripts/abuse-run.sh` does).

use crate::args::BenchArgs;
use crate::conn::Target;
use crate::load::{PubPlan, SubResult, publish, subscribe};
use crate::stats::{AbuseStats, Counters, Summary, process_cpu, usable_cores};
use crate::wire::{PublishWriter, fixed_header};
use anyhow::{Context, Result};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tern_mqtt_codec::QoS;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Connections opening at once among the silent ones.
const OPEN_CONCURRENCY: usize = 256;
/// Connections sending malformed packets at once (each loops: open, send, wait for the close).
const MALFORMED_WORKERS: usize = 4;
/// Malformed packets per second per worker at most (1,000/s in all): a flood the broker must shed, paced so
/// that on a small machine the tool does not just measure its own CPU.
const MALFORMED_RATE: f64 = 250.0;
/// Connections sending oversize packets at once.
const OVERSIZE_WORKERS: usize = 2;
/// Oversize packets per second per worker at most (100/s in all, each up to 1 MiB written).
const OVERSIZE_RATE: f64 = 50.0;
/// Payload of the over-rate publisher (large, so its slow subscriber's socket fills quickly).
const FLOOD_SIZE: usize = 4096;
/// How long a misbehaving connection waits for the broker to close it before giving up on it.
const CLOSE_WAIT: Duration = Duration::from_secs(15);
/// The normal client's topic.
const NORMAL_TOPIC: &str = "abuse/normal";
/// The over-rate publisher's topic.
const FLOOD_TOPIC: &str = "abuse/flood";

/// Live counters of the misbehaving connections.
#[derive(Debug, Default)]
struct Abuse {
    silent_opened: AtomicU64,
    silent_closed: AtomicU64,
    silent_refused: AtomicU64,
    silent_failed: AtomicU64,
    malformed_sent: AtomicU64,
    malformed_closed: AtomicU64,
    oversize_sent: AtomicU64,
    oversize_closed: AtomicU64,
    flood_sent: AtomicU64,
    flood_accepted: AtomicU64,
    flood_quota: AtomicU64,
}

/// Malformed inputs, cycled through; `true` when the packet follows a valid CONNECT.
const MALFORMED: [(&[u8], bool); 5] = [
    // Packet type 0 is reserved (MQTT 5.0 §2.1.2).
    (&[0x00, 0x00], false),
    // CONNECT with a protocol name that is not "MQTT".
    (
        &[
            0x10, 0x0d, 0x00, 0x04, b'M', b'Q', b'X', b'X', 0x05, 0x02, 0x00, 0x3c, 0x00, 0x00, 0x00,
        ],
        false,
    ),
    // First packet not CONNECT.
    (&[0xc0, 0x00], false),
    // Remaining length with five continuation bytes.
    (&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01], true),
    // SUBSCRIBE with reserved flags 0 and no filter.
    (&[0x80, 0x02, 0x00, 0x01], true),
];

/// Runs the scenario; see the module docs.
pub async fn run_abuse(args: &BenchArgs, target: Arc<Target>) -> Result<Summary> {
    let rate = args.rate.unwrap_or(100);
    let counters = Arc::new(Counters::default());
    let abuse = Arc::new(Abuse::default());
    let prefix = args.client_prefix.clone();
    let (stop_tx, stop_rx) = watch::channel(false);
    let (cpu0, t0) = (process_cpu(), Instant::now());

    // The normal client first, so the abuse cannot keep it from connecting.
    let mut sub = target.connect(0, &format!("{prefix}-normal-sub")).await?;
    sub.subscribe(NORMAL_TOPIC, args.qos()).await?;
    let normal_pub = target.connect(1, &format!("{prefix}-normal-pub")).await?;
    Counters::add(&counters.connected, 2);
    let mut slow = target.connect(2, &format!("{prefix}-slow-sub")).await?;
    slow.subscribe(FLOOD_TOPIC, QoS::AtMostOnce).await?;
    let flooder = target.connect(3, &format!("{prefix}-flood")).await?;

    let start = Instant::now() + Duration::from_millis(50);
    let deadline = start + args.duration();
    let sub_task = tokio::spawn(subscribe(sub, stop_rx.clone(), counters.clone()));
    let plan = PubPlan {
        rate: rate as f64,
        count: args.count.unwrap_or(u64::MAX),
        start,
        deadline,
        window: args.window,
        qos: args.qos,
    };
    let writer = PublishWriter::new(NORMAL_TOPIC, args.qos, target.version(), args.size, 0);
    let pub_task = tokio::spawn(publish(normal_pub, writer, plan, counters.clone()));

    let mut tasks = JoinSet::new();
    tasks.spawn(flood(flooder, target.clone(), abuse.clone(), deadline));
    let gate = Arc::new(Semaphore::new(OPEN_CONCURRENCY));
    for i in 0..args.clients {
        tasks.spawn(silent(
            target.clone(),
            10 + i,
            gate.clone(),
            abuse.clone(),
            deadline,
        ));
    }
    for w in 0..MALFORMED_WORKERS {
        let id = format!("{prefix}-bad-{w}");
        tasks.spawn(malformed(
            target.clone(),
            10 + args.clients + w,
            id,
            abuse.clone(),
            deadline,
        ));
    }
    for w in 0..OVERSIZE_WORKERS {
        let id = format!("{prefix}-big-{w}");
        let index = 10 + args.clients + MALFORMED_WORKERS + w;
        tasks.spawn(oversize(target.clone(), index, id, abuse.clone(), deadline));
    }

    let (sent, last) = pub_task.await.context("the normal publisher panicked")??;
    drain_deliveries(&counters, sent).await;
    let _ = stop_tx.send(true);
    let SubResult {
        latency,
        last: last_recv,
        ..
    } = sub_task.await.context("the normal subscriber panicked")??;
    while let Some(r) = tasks.join_next().await {
        if let Err(e) = r {
            eprintln!("abuse task failed: {e}");
        }
    }
    let slow_closed = slow_was_closed(&mut slow).await;

    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let mut summary = Summary {
        scenario: "abuse".into(),
        url: args.url.clone(),
        level: target.version().level(),
        qos: args.qos,
        size: args.size,
        publishers: 1,
        subscribers: 1,
        target_rate: rate,
        tool_cores: usable_cores(),
        ..Summary::default()
    };
    summary.sent = sent;
    summary.acked = Counters::get(&counters.acked);
    summary.received = Counters::get(&counters.received);
    summary.expected = sent;
    summary.connected = Counters::get(&counters.connected);
    summary.errors = Counters::get(&counters.errors);
    summary.publish_secs = (last.max(start) - start).as_secs_f64();
    summary.receive_secs = last_recv.map_or(0.0, |l| (l.max(start) - start).as_secs_f64());
    summary.latency = latency;
    summary.tool_cpu = match (cpu0, process_cpu()) {
        (Some(a), Some(b)) => b.saturating_sub(a).as_secs_f64() / t0.elapsed().as_secs_f64().max(1e-9),
        _ => 0.0,
    };
    summary.abuse = Some(AbuseStats {
        silent_connections: args.clients as u64,
        silent_opened: get(&abuse.silent_opened),
        silent_closed: get(&abuse.silent_closed),
        silent_refused: get(&abuse.silent_refused),
        silent_failed: get(&abuse.silent_failed),
        malformed_sent: get(&abuse.malformed_sent),
        malformed_closed: get(&abuse.malformed_closed),
        oversize_sent: get(&abuse.oversize_sent),
        oversize_closed: get(&abuse.oversize_closed),
        flood_sent: get(&abuse.flood_sent),
        flood_accepted: get(&abuse.flood_accepted),
        flood_quota_exceeded: get(&abuse.flood_quota),
        slow_subscriber_closed: slow_closed,
    });
    Ok(summary)
}

/// Waits until the normal subscriber has every message or deliveries stop for a second (at most 5 s).
async fn drain_deliveries(counters: &Counters, expected: u64) {
    let until = Instant::now() + Duration::from_secs(5);
    let mut seen = Counters::get(&counters.received);
    let mut quiet_since = Instant::now();
    while Instant::now() < until && Counters::get(&counters.received) < expected {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now_seen = Counters::get(&counters.received);
        if now_seen != seen {
            (seen, quiet_since) = (now_seen, Instant::now());
        } else if quiet_since.elapsed() >= Duration::from_secs(1) {
            return;
        }
    }
}

/// Reads until the broker closes (true) or 20 ms pass without data (false: still open).
async fn wait_closed(stream: &mut tern_client::BoxStream, within: Duration) -> bool {
    let mut buf = vec![0u8; 64 * 1024];
    let until = Instant::now() + within;
    loop {
        match tokio::time::timeout_at(until, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

/// Whether the broker closed the slow subscriber (write_timeout) by the end of the run: whatever it
/// queued is read now, so an open connection shows as quiet, a closed one as end of stream.
async fn slow_was_closed(slow: &mut crate::conn::Conn) -> bool {
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match tokio::time::timeout(Duration::from_millis(200), slow.stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

/// A silent connection closed sooner than this was refused at accept (`connection_rate`, `max_connections`),
/// not at the CONNECT deadline; its slot waits [`REFUSED_BACKOFF`] before trying again, so the slots hold
/// connections instead of turning into a reconnect storm.
const REFUSED_WITHIN: Duration = Duration::from_millis(500);
/// See [`REFUSED_WITHIN`].
const REFUSED_BACKOFF: Duration = Duration::from_millis(500);

/// One silent slot: open a connection, send nothing, wait for the broker to close it, open another.
async fn silent(
    target: Arc<Target>,
    index: usize,
    gate: Arc<Semaphore>,
    abuse: Arc<Abuse>,
    deadline: Instant,
) {
    while Instant::now() < deadline {
        let opened = {
            let Ok(_permit) = gate.acquire().await else { return };
            tokio::time::timeout_at(deadline, target.open(index)).await
        };
        match opened {
            Err(_) => return,
            Ok(Err(_)) => {
                abuse.silent_failed.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok(Ok(mut stream)) => {
                abuse.silent_opened.fetch_add(1, Ordering::Relaxed);
                let opened = Instant::now();
                let left = deadline.saturating_duration_since(opened);
                if wait_closed(&mut stream, left).await {
                    if opened.elapsed() < REFUSED_WITHIN {
                        abuse.silent_refused.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(REFUSED_BACKOFF).await;
                    } else {
                        abuse.silent_closed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }
}

/// One malformed-packet worker: each packet on a fresh connection, which the broker must close.
async fn malformed(target: Arc<Target>, index: usize, id: String, abuse: Arc<Abuse>, deadline: Instant) {
    let (t0, mut n) = (Instant::now(), 0usize);
    while Instant::now() < deadline {
        let (bytes, after_connect) = MALFORMED[n % MALFORMED.len()];
        n += 1;
        tokio::time::sleep_until(t0 + Duration::from_secs_f64(n as f64 / MALFORMED_RATE)).await;
        let stream = if after_connect {
            target.connect(index, &id).await.map(|c| c.stream)
        } else {
            target.open(index).await
        };
        let Ok(mut stream) = stream else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        if stream.write_all(bytes).await.is_err() {
            continue;
        }
        abuse.malformed_sent.fetch_add(1, Ordering::Relaxed);
        if wait_closed(&mut stream, CLOSE_WAIT).await {
            abuse.malformed_closed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One oversize worker: a PUBLISH announcing 64 MiB, then payload until the broker closes.
async fn oversize(target: Arc<Target>, index: usize, id: String, abuse: Arc<Abuse>, deadline: Instant) {
    let chunk = vec![b'x'; 64 * 1024];
    let (t0, mut n) = (Instant::now(), 0u32);
    while Instant::now() < deadline {
        n += 1;
        tokio::time::sleep_until(t0 + Duration::from_secs_f64(f64::from(n) / OVERSIZE_RATE)).await;
        let Ok(conn) = target.connect(index, &id).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let mut stream = conn.stream;
        // PUBLISH QoS 0, remaining length 64 MiB (varint 0x80 0x80 0x80 0x20), topic "big".
        let header = [0x30, 0x80, 0x80, 0x80, 0x20, 0x00, 0x03, b'b', b'i', b'g'];
        if stream.write_all(&header).await.is_err() {
            continue;
        }
        abuse.oversize_sent.fetch_add(1, Ordering::Relaxed);
        // Up to 1 MiB of payload: a broker that checks the length first has closed long before.
        let mut closed = false;
        for _ in 0..16 {
            if stream.write_all(&chunk).await.is_err() {
                closed = true;
                break;
            }
        }
        if closed || wait_closed(&mut stream, CLOSE_WAIT).await {
            abuse.oversize_closed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The over-rate publisher: unthrottled QoS 1 in windows of 100, counting PUBACK reason codes; reconnects
/// if the broker disconnects it.
async fn flood(mut conn: crate::conn::Conn, target: Arc<Target>, abuse: Arc<Abuse>, deadline: Instant) {
    let writer = PublishWriter::new(FLOOD_TOPIC, 1, target.version(), FLOOD_SIZE, 1);
    let v5 = target.version().is_v5();
    let mut pid: u16 = 0;
    while Instant::now() < deadline {
        for _ in 0..100 {
            pid = pid.checked_add(1).unwrap_or(1);
            writer.put(&mut conn.wbuf, pid, u64::from(pid), crate::wire::now_ns());
        }
        if conn.flush().await.is_err() {
            return;
        }
        abuse.flood_sent.fetch_add(100, Ordering::Relaxed);
        let mut acks = 0;
        while acks < 100 {
            match tokio::time::timeout_at(deadline, conn.stream.read_buf(&mut conn.rbuf)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return,
            }
            while let Ok(Some((first, hdr, rl))) = fixed_header(&conn.rbuf) {
                if conn.rbuf.len() < hdr + rl {
                    break;
                }
                if first >> 4 == 4 {
                    acks += 1;
                    // 5.0: a reason code follows the packet id when the remaining length says so.
                    let code = if v5 && rl > 2 {
                        conn.rbuf.get(hdr + 2).copied().unwrap_or(0)
                    } else {
                        0
                    };
                    if code == 0x97 {
                        abuse.flood_quota.fetch_add(1, Ordering::Relaxed);
                    } else if code < 0x80 {
                        abuse.flood_accepted.fetch_add(1, Ordering::Relaxed);
                    }
                }
                bytes::Buf::advance(&mut conn.rbuf, hdr + rl);
            }
        }
    }
    conn.close().await;
}
