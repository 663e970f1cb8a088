//! The two loops that make the load: a publisher (paced or unthrottled, QoS 1/2 within a window) and a
//! subscriber (counts, acknowledges, times stamped payloads). One task per connection, buffers reused,
//! counters published once per batch, the clock read once per read.

use crate::conn::Conn;
use crate::stats::{Counters, Latency};
use crate::wire::{Incoming, PublishWriter, fixed_header, now_ns, read_publish};
use anyhow::{Result, bail};
use bytes::{Buf, BufMut};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::sync::watch;
use tokio::time::Instant;

/// Bytes of publishes written per batch when unthrottled (one write call each).
const BATCH_BYTES: usize = 64 * 1024;
/// How long a publisher waits for outstanding acknowledgements after its last publish.
const ACK_DRAIN: Duration = Duration::from_secs(5);

/// What one publisher does.
#[derive(Debug, Clone)]
pub struct PubPlan {
    /// Messages per second for this publisher; 0: as fast as the connection takes them.
    pub rate: f64,
    /// Messages to send at most.
    pub count: u64,
    /// When to send the first message.
    pub start: Instant,
    /// When to stop publishing at the latest.
    pub deadline: Instant,
    /// Unacknowledged QoS 1/2 publishes allowed.
    pub window: u32,
    /// QoS of the publishes.
    pub qos: u8,
}

impl PubPlan {
    /// QoS 1/2 publishes that may still go out unacknowledged (unbounded at QoS 0).
    pub(crate) fn window_room(&self, sent: u64, acked: u64) -> u64 {
        if self.qos > 0 {
            u64::from(self.window).saturating_sub(sent - acked)
        } else {
            u64::MAX
        }
    }

    /// How many to send now: what the pace allows by `now` (all, unthrottled), within the count, `room` and
    /// `max`.
    pub(crate) fn batch(&self, now: Instant, sent: u64, room: u64, max: u64) -> u64 {
        let due = if self.rate > 0.0 {
            ((now - self.start).as_secs_f64() * self.rate) as u64 + 1
        } else {
            u64::MAX
        };
        due.min(self.count).saturating_sub(sent).min(room).min(max)
    }

    /// When a publisher that sent `sent` messages and could send no more this round wakes next: at the next
    /// paced send when it waits for the pace alone, otherwise (a full QoS 1/2 window: an ack wakes it sooner)
    /// at the deadline.
    pub(crate) fn next_wake(&self, sent: u64, paced_wait: bool, window_full: bool) -> Instant {
        if paced_wait && !window_full {
            let next = self.start + Duration::from_secs_f64(sent as f64 / self.rate.max(1e-9));
            next.min(self.deadline)
        } else {
            self.deadline
        }
    }
}

/// Publishes per `plan`; returns how many were sent and when the last one left.
pub async fn publish(
    mut conn: Conn,
    writer: PublishWriter,
    plan: PubPlan,
    counters: Arc<Counters>,
) -> Result<(u64, Instant)> {
    tokio::time::sleep_until(plan.start).await;
    let per_batch = (BATCH_BYTES / writer.packet_len().max(1)).max(1) as u64;
    let (mut sent, mut acked) = (0u64, 0u64);
    let mut pid: u16 = 0;
    let mut last = plan.start;
    loop {
        let now = Instant::now();
        if now >= plan.deadline || sent >= plan.count {
            break;
        }
        let room = plan.window_room(sent, acked);
        let n = plan.batch(now, sent, room, per_batch);
        if n > 0 {
            let stamp = now_ns();
            conn.wbuf.reserve(n as usize * writer.packet_len());
            for _ in 0..n {
                pid = if pid == u16::MAX { 1 } else { pid + 1 };
                writer.put(&mut conn.wbuf, pid, sent, stamp);
                sent += 1;
            }
            conn.flush().await?;
            Counters::add(&counters.sent, n);
            last = Instant::now();
        }
        let paced_wait = plan.rate > 0.0 && sent < plan.count && n == 0;
        let window_full = plan.qos > 0 && room == n;
        if !(paced_wait || window_full) {
            if plan.qos == 0 {
                // Unthrottled QoS 0 never waits on the socket for long; let other tasks run.
                tokio::task::yield_now().await;
            }
            continue;
        }
        let wake = plan.next_wake(sent, paced_wait, window_full);
        if plan.qos == 0 {
            tokio::time::sleep_until(wake).await;
            continue;
        }
        tokio::select! {
            r = conn.stream.read_buf(&mut conn.rbuf) => {
                if r? == 0 {
                    bail!("the broker closed a publisher's connection");
                }
                let done = process_acks(&mut conn)?;
                acked += done;
                Counters::add(&counters.acked, done);
                conn.flush().await?;
            }
            _ = tokio::time::sleep_until(wake) => {}
        }
    }
    // Collect the acknowledgements still outstanding, for a bounded time.
    let drain_until = Instant::now() + ACK_DRAIN;
    while plan.qos > 0 && acked < sent {
        match tokio::time::timeout_at(drain_until, conn.stream.read_buf(&mut conn.rbuf)).await {
            Ok(Ok(n)) if n > 0 => {
                let done = process_acks(&mut conn)?;
                acked += done;
                Counters::add(&counters.acked, done);
                conn.flush().await?;
            }
            _ => break,
        }
    }
    conn.close().await;
    Ok((sent, last))
}

/// Handles PUBACK/PUBREC/PUBCOMP in the read buffer (PUBREL answers go to the write buffer); returns
/// how many publishes completed.
fn process_acks(conn: &mut Conn) -> Result<u64> {
    let mut done = 0;
    while let Some((first, hdr, rl)) = fixed_header(&conn.rbuf).map_err(anyhow::Error::msg)? {
        if conn.rbuf.len() < hdr + rl {
            break;
        }
        let pid = conn.rbuf.get(hdr..hdr + 2).map(|b| [b[0], b[1]]);
        match (first >> 4, pid) {
            (4, _) | (7, _) => done += 1,
            (5, Some(pid)) => {
                conn.wbuf.put_slice(&[0x62, 2]);
                conn.wbuf.put_slice(&pid);
            }
            (14, _) => bail!("the broker sent DISCONNECT to a publisher"),
            _ => {}
        }
        conn.rbuf.advance(hdr + rl);
    }
    Ok(done)
}

/// What a subscriber saw.
#[derive(Debug, Default)]
pub struct SubResult {
    /// Deliveries received.
    pub received: u64,
    /// Latencies of stamped deliveries.
    pub latency: Latency,
    /// When the last delivery arrived.
    pub last: Option<Instant>,
}

/// Receives until `stop` turns true (or the broker closes), acknowledging QoS 1/2 deliveries.
pub async fn subscribe(
    mut conn: Conn,
    mut stop: watch::Receiver<bool>,
    counters: Arc<Counters>,
) -> Result<SubResult> {
    let v5 = conn.version.is_v5();
    let mut res = SubResult::default();
    loop {
        if conn.rbuf.capacity() - conn.rbuf.len() < 16 * 1024 {
            conn.rbuf.reserve(64 * 1024);
        }
        tokio::select! {
            biased;
            r = conn.stream.read_buf(&mut conn.rbuf) => {
                if r? == 0 {
                    bail!("the broker closed a subscriber's connection");
                }
            }
            _ = stop.changed() => break,
        }
        let now = now_ns();
        let mut got = 0u64;
        while let Some((first, hdr, rl)) = fixed_header(&conn.rbuf).map_err(anyhow::Error::msg)? {
            if conn.rbuf.len() < hdr + rl {
                break;
            }
            match first >> 4 {
                3 => {
                    let Some(Incoming { qos, pid, sent_ns }) = read_publish(&conn.rbuf[..hdr + rl], hdr, v5)
                    else {
                        bail!("malformed PUBLISH from the broker");
                    };
                    got += 1;
                    if let Some(t) = sent_ns {
                        res.latency.record_ns(now.saturating_sub(t));
                    }
                    match qos {
                        1 => conn.wbuf.put_slice(&[0x40, 2]),
                        2 => conn.wbuf.put_slice(&[0x50, 2]),
                        _ => {}
                    }
                    if qos > 0 {
                        conn.wbuf.put_u16(pid);
                    }
                }
                6 => {
                    if let Some(pid) = conn.rbuf.get(hdr..hdr + 2) {
                        let pid = [pid[0], pid[1]];
                        conn.wbuf.put_slice(&[0x70, 2]);
                        conn.wbuf.put_slice(&pid);
                    }
                }
                14 => bail!("the broker sent DISCONNECT to a subscriber"),
                _ => {}
            }
            conn.rbuf.advance(hdr + rl);
        }
        if got > 0 {
            res.received += got;
            res.last = Some(Instant::now());
            Counters::add(&counters.received, got);
        }
        conn.flush().await?;
    }
    conn.close().await;
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paced_publisher_wakes_at_its_next_send_and_a_full_window_at_the_deadline() {
        let start = Instant::now();
        let plan = PubPlan {
            rate: 100.0,
            count: 1000,
            start,
            deadline: start + Duration::from_secs(5),
            window: 10,
            qos: 1,
        };
        assert_eq!(
            plan.next_wake(50, true, false),
            start + Duration::from_millis(500)
        );
        // Past the deadline the pace gives way to it.
        assert_eq!(plan.next_wake(900, true, false), plan.deadline);
        // A full window waits for an ack (or the deadline), not the pace.
        assert_eq!(plan.next_wake(50, true, true), plan.deadline);
        assert_eq!(plan.next_wake(50, false, true), plan.deadline);
    }

    #[test]
    fn a_batch_is_what_the_pace_the_count_and_the_window_allow() {
        let start = Instant::now();
        let plan = PubPlan {
            rate: 100.0,
            count: 1000,
            start,
            deadline: start + Duration::from_secs(20),
            window: 10,
            qos: 1,
        };
        // 1 s in: 101 due, 40 sent; 4 unacknowledged leave 6 in the window.
        let room = plan.window_room(40, 36);
        assert_eq!(room, 6);
        assert_eq!(plan.batch(start + Duration::from_secs(1), 40, room, 64), 6);
        assert_eq!(plan.batch(start + Duration::from_secs(1), 40, u64::MAX, 16), 16);
        assert_eq!(plan.batch(start + Duration::from_secs(15), 995, u64::MAX, 64), 5);
        let qos0 = PubPlan {
            qos: 0,
            rate: 0.0,
            ..plan
        };
        assert_eq!(qos0.window_room(40, 0), u64::MAX);
        assert_eq!(qos0.batch(start, 0, u64::MAX, 64), 64);
    }
}
