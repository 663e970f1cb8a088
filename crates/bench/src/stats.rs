//! Counters shared by the connection tasks, latency histograms, the tool's own CPU use, and the summary
//! printed at the end (human or JSON).

use hdrhistogram::Histogram;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Live counters, added to once per batch (not per message) by every connection task; read by the
/// progress line and the summary.
#[derive(Debug, Default)]
pub struct Counters {
    /// PUBLISH packets written.
    pub sent: AtomicU64,
    /// QoS 1/2 publishes completed (PUBACK or PUBCOMP received).
    pub acked: AtomicU64,
    /// PUBLISH packets received by subscribers.
    pub received: AtomicU64,
    /// Connections that completed CONNACK and are open.
    pub connected: AtomicU64,
    /// Connection failures, refused CONNACKs, protocol errors.
    pub errors: AtomicU64,
}

impl Counters {
    /// Adds `n` to `c` (relaxed: these are statistics).
    pub fn add(c: &AtomicU64, n: u64) {
        if n > 0 {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Reads `c`.
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// Latencies in microseconds, 1 µs to 1 hour at 3 significant digits.
#[derive(Debug, Clone)]
pub struct Latency {
    hist: Histogram<u64>,
}

impl Default for Latency {
    fn default() -> Self {
        Latency::new()
    }
}

impl Latency {
    /// An empty histogram.
    pub fn new() -> Latency {
        let hist = Histogram::new_with_bounds(1, 3_600_000_000, 3)
            .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable_hist()));
        Latency { hist }
    }

    /// Records one latency; values out of range are clamped (never lost).
    pub fn record_ns(&mut self, ns: u64) {
        self.hist.saturating_record((ns / 1000).max(1));
    }

    /// Adds another histogram's samples.
    pub fn merge(&mut self, other: &Latency) {
        // Both have the same bounds, so adding cannot fail; if it ever did the samples would be dropped.
        let _ = self.hist.add(&other.hist);
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// The latency at quantile `q` (0.0-1.0), in microseconds; 0 with no samples.
    pub fn quantile_us(&self, q: f64) -> u64 {
        if self.hist.is_empty() {
            0
        } else {
            self.hist.value_at_quantile(q)
        }
    }

    /// Largest sample in microseconds.
    pub fn max_us(&self) -> u64 {
        if self.hist.is_empty() { 0 } else { self.hist.max() }
    }
}

fn unreachable_hist() -> Histogram<u64> {
    // `Histogram::new(3)` only fails for sigfig > 5; keep a path without panicking anyway.
    Histogram::new_with_max(2, 1).unwrap_or_else(|_| std::process::abort())
}

/// CPU seconds (user + system) this process used so far, from /proc/self/stat; `None` off Linux.
pub fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the command name: state is field 3, utime 14, stime 15 (man 5 proc); USER_HZ is 100 on Linux.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Cores this process may run on (its affinity mask, as `taskset` sets it).
pub fn usable_cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Everything a run measured.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Broker URL, followed by the publishers' in parentheses when `--pub-url` differs.
    pub url: String,
    /// Protocol level (3 or 5), QoS, payload size.
    pub level: u8,
    /// QoS used.
    pub qos: u8,
    /// Payload bytes.
    pub size: usize,
    /// Publishers and subscribers (or held connections for `conn`).
    pub publishers: usize,
    /// Subscribers.
    pub subscribers: usize,
    /// Target publish rate per second (0: unthrottled).
    pub target_rate: u64,
    /// Seconds from the first publish to the last one.
    pub publish_secs: f64,
    /// Seconds from the first publish until deliveries stopped.
    pub receive_secs: f64,
    /// Publishes written.
    pub sent: u64,
    /// QoS 1/2 publishes acknowledged.
    pub acked: u64,
    /// Deliveries expected (sent × subscribers matching each message).
    pub expected: u64,
    /// Deliveries received.
    pub received: u64,
    /// Connections established and failed (all roles).
    pub connected: u64,
    /// Errors of any kind.
    pub errors: u64,
    /// Connect time percentiles and rate (`conn`).
    pub connect: Option<ConnectStats>,
    /// End-to-end latency of stamped deliveries.
    pub latency: Latency,
    /// Share of one core the tool used (1.0 = a whole core).
    pub tool_cpu: f64,
    /// Cores the tool could use.
    pub tool_cores: usize,
    /// What the misbehaving connections of `abuse` saw.
    pub abuse: Option<AbuseStats>,
}

/// What the misbehaving connections of the `abuse` scenario saw (the normal client's figures are the
/// summary's own).
#[derive(Debug, Clone, Default)]
pub struct AbuseStats {
    /// Connection slots that never send CONNECT (`--clients`).
    pub silent_connections: u64,
    /// Silent connections opened (slots reopen when the broker closes theirs).
    pub silent_opened: u64,
    /// Silent connections the broker closed after holding them a while (the CONNECT deadline).
    pub silent_closed: u64,
    /// Silent connections closed at once (refused at accept: `connection_rate`, `max_connections`).
    pub silent_refused: u64,
    /// Silent connections that failed to open or were refused at accept (`connection_rate`, fd limits).
    pub silent_failed: u64,
    /// Malformed packets sent, each on its own connection.
    pub malformed_sent: u64,
    /// Connections the broker closed after a malformed packet.
    pub malformed_closed: u64,
    /// Oversize PUBLISH headers sent.
    pub oversize_sent: u64,
    /// Connections the broker closed after an oversize header.
    pub oversize_closed: u64,
    /// QoS 1 publishes of the over-rate publisher.
    pub flood_sent: u64,
    /// Of those, acknowledged as accepted.
    pub flood_accepted: u64,
    /// Of those, refused with PUBACK 0x97 Quota exceeded (MQTT 5).
    pub flood_quota_exceeded: u64,
    /// Whether the broker closed the subscriber that stopped reading (`write_timeout`).
    pub slow_subscriber_closed: bool,
}

/// What `conn` measures.
#[derive(Debug, Clone, Default)]
pub struct ConnectStats {
    /// Seconds from the first connect to the last CONNACK.
    pub secs: f64,
    /// CONNECT → CONNACK time of each connection.
    pub latency: Latency,
}

impl Summary {
    /// Publishes per second over the publishing time.
    pub fn publish_rate(&self) -> f64 {
        per_sec(self.sent, self.publish_secs)
    }

    /// Deliveries per second over the receiving time.
    pub fn delivery_rate(&self) -> f64 {
        per_sec(self.received, self.receive_secs)
    }

    /// Deliveries expected but not received.
    pub fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.received)
    }

    /// Lost share of expected deliveries, in percent.
    pub fn loss_percent(&self) -> f64 {
        if self.expected == 0 {
            0.0
        } else {
            100.0 * self.lost() as f64 / self.expected as f64
        }
    }

    /// True when the tool used nearly all the CPU it had, so the broker may not have been the limit.
    pub fn tool_limited(&self) -> bool {
        self.tool_cpu > 0.9 * self.tool_cores as f64
    }

    /// Connections per second (`conn`).
    pub fn connect_rate(&self) -> f64 {
        self.connect
            .as_ref()
            .map_or(0.0, |c| per_sec(self.connected, c.secs))
    }

    /// Human-readable summary.
    pub fn human(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} {} mqtt{} qos{} {}B: {} pub, {} sub, target {}",
            self.scenario,
            self.url,
            self.level,
            self.qos,
            self.size,
            self.publishers,
            self.subscribers,
            if self.target_rate == 0 {
                "unthrottled".to_owned()
            } else {
                format!("{}/s", self.target_rate)
            }
        );
        if let Some(c) = &self.connect {
            let _ = writeln!(
                s,
                "  connections {} in {:.2}s ({:.0}/s), connect p50 {} µs p99 {} µs max {} µs",
                self.connected,
                c.secs,
                self.connect_rate(),
                c.latency.quantile_us(0.5),
                c.latency.quantile_us(0.99),
                c.latency.max_us()
            );
        }
        if self.sent > 0 || self.received > 0 {
            let _ = writeln!(
                s,
                "  published {} ({:.0}/s, acked {}), delivered {} of {} ({:.0}/s), lost {} ({:.3}%)",
                self.sent,
                self.publish_rate(),
                self.acked,
                self.received,
                self.expected,
                self.delivery_rate(),
                self.lost(),
                self.loss_percent()
            );
        }
        if self.latency.count() > 0 {
            let l = &self.latency;
            let _ = writeln!(
                s,
                "  latency µs: p50 {} p90 {} p99 {} p99.9 {} max {}",
                l.quantile_us(0.5),
                l.quantile_us(0.9),
                l.quantile_us(0.99),
                l.quantile_us(0.999),
                l.max_us()
            );
        }
        if let Some(a) = &self.abuse {
            let _ = writeln!(
                s,
                "  abuse: silent {} slots: {} opened, {} closed at the CONNECT deadline, {} refused at accept, \
                 {} failed to open",
                a.silent_connections, a.silent_opened, a.silent_closed, a.silent_refused, a.silent_failed
            );
            let _ = writeln!(
                s,
                "  abuse: malformed {} sent, {} closed; oversize {} sent, {} closed",
                a.malformed_sent, a.malformed_closed, a.oversize_sent, a.oversize_closed
            );
            let _ = writeln!(
                s,
                "  abuse: over-rate publisher {} sent, {} accepted, {} refused 0x97; slow subscriber {}",
                a.flood_sent,
                a.flood_accepted,
                a.flood_quota_exceeded,
                if a.slow_subscriber_closed {
                    "closed by the broker"
                } else {
                    "still open"
                }
            );
        }
        let _ = write!(
            s,
            "  errors {}, tool CPU {:.0}% of {} core(s)",
            self.errors,
            self.tool_cpu * 100.0,
            self.tool_cores
        );
        if self.tool_limited() {
            let _ = write!(
                s,
                "\n  WARNING: the tool used >90% of its CPU; it may have been the limit, not the broker"
            );
        }
        s
    }

    /// One JSON object (flat, numbers in µs and per second).
    pub fn json(&self) -> String {
        let l = &self.latency;
        let (c_secs, c_p50, c_p99) = match &self.connect {
            Some(c) => (c.secs, c.latency.quantile_us(0.5), c.latency.quantile_us(0.99)),
            None => (0.0, 0, 0),
        };
        format!(
            concat!(
                "{{\"scenario\":{},\"url\":{},\"mqtt\":{},\"qos\":{},\"size\":{},\"publishers\":{},",
                "\"subscribers\":{},\"target_rate\":{},\"publish_secs\":{:.3},\"receive_secs\":{:.3},",
                "\"sent\":{},\"acked\":{},\"expected\":{},\"received\":{},\"lost\":{},\"loss_percent\":{:.4},",
                "\"publish_rate\":{:.1},\"delivery_rate\":{:.1},\"connected\":{},\"connect_secs\":{:.3},",
                "\"connect_rate\":{:.1},\"connect_p50_us\":{},\"connect_p99_us\":{},\"errors\":{},",
                "\"latency_us\":{{\"count\":{},\"p50\":{},\"p90\":{},\"p99\":{},\"p999\":{},\"max\":{}}},",
                "\"tool_cpu\":{:.3},\"tool_cores\":{},\"tool_limited\":{}{}}}"
            ),
            json_str(&self.scenario),
            json_str(&self.url),
            self.level,
            self.qos,
            self.size,
            self.publishers,
            self.subscribers,
            self.target_rate,
            self.publish_secs,
            self.receive_secs,
            self.sent,
            self.acked,
            self.expected,
            self.received,
            self.lost(),
            self.loss_percent(),
            self.publish_rate(),
            self.delivery_rate(),
            self.connected,
            c_secs,
            self.connect_rate(),
            c_p50,
            c_p99,
            self.errors,
            l.count(),
            l.quantile_us(0.5),
            l.quantile_us(0.9),
            l.quantile_us(0.99),
            l.quantile_us(0.999),
            l.max_us(),
            self.tool_cpu,
            self.tool_cores,
            self.tool_limited(),
            self.abuse
                .as_ref()
                .map_or_else(String::new, AbuseStats::json_field)
        )
    }
}

impl AbuseStats {
    /// `,"abuse":{...}` for the summary's JSON object.
    fn json_field(&self) -> String {
        format!(
            concat!(
                ",\"abuse\":{{\"silent_connections\":{},\"silent_opened\":{},\"silent_closed\":{},\"silent_refused\":{},",
                "\"silent_failed\":{},\"malformed_sent\":{},\"malformed_closed\":{},\"oversize_sent\":{},",
                "\"oversize_closed\":{},\"flood_sent\":{},\"flood_accepted\":{},",
                "\"flood_quota_exceeded\":{},\"slow_subscriber_closed\":{}}}"
            ),
            self.silent_connections,
            self.silent_opened,
            self.silent_closed,
            self.silent_refused,
            self.silent_failed,
            self.malformed_sent,
            self.malformed_closed,
            self.oversize_sent,
            self.oversize_closed,
            self.flood_sent,
            self.flood_accepted,
            self.flood_quota_exceeded,
            self.slow_subscriber_closed
        )
    }
}

fn per_sec(n: u64, secs: f64) -> f64 {
    if secs > 0.0 { n as f64 / secs } else { 0.0 }
}

/// A JSON string literal.
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut l = Latency::new();
        for us in 1..=1000u64 {
            l.record_ns(us * 1000);
        }
        assert_eq!(l.count(), 1000);
        let near = |got: u64, want: u64| got.abs_diff(want) <= want / 100 + 1;
        assert!(near(l.quantile_us(0.5), 500), "{}", l.quantile_us(0.5));
        assert!(near(l.quantile_us(0.99), 990));
        assert!(near(l.max_us(), 1000));
        let mut other = Latency::new();
        other.record_ns(5_000_000);
        l.merge(&other);
        assert_eq!(l.count(), 1001);
        assert!(near(l.max_us(), 5000));
        // Sub-microsecond and absurd values are clamped, not dropped.
        l.record_ns(0);
        l.record_ns(u64::MAX);
        assert_eq!(l.count(), 1003);
    }

    #[test]
    fn rates_loss_and_json() {
        let s = Summary {
            scenario: "throughput".into(),
            url: "mqtt://h:1\"".into(),
            sent: 1000,
            expected: 4000,
            received: 3990,
            publish_secs: 2.0,
            receive_secs: 2.5,
            tool_cpu: 0.95,
            tool_cores: 1,
            ..Summary::default()
        };
        assert_eq!(s.publish_rate(), 500.0);
        assert_eq!(s.delivery_rate(), 1596.0);
        assert_eq!(s.lost(), 10);
        assert!((s.loss_percent() - 0.25).abs() < 1e-9);
        assert!(s.tool_limited());
        let j = s.json();
        assert!(j.contains("\"url\":\"mqtt://h:1\\\"\""), "{j}");
        assert!(j.contains("\"lost\":10"));
        assert!(j.contains("\"tool_limited\":true"));
        assert!(s.human().contains("WARNING"));
    }

    #[test]
    fn reads_own_cpu() {
        assert!(process_cpu().is_some());
        assert!(usable_cores() >= 1);
    }
}
