//! Abuse limits enforced by the core, with time as an argument: per-client publish rate (token buckets for
//! messages and bytes per second), connections per IP address, and flapping (a client id that connects too
//! often is banned for a while). The ban list itself is a policy matter (`tern-auth`); the new-connection
//! rate per listener is enforced at accept by the listeners.

use crate::config::CoreConfig;
use crate::session::lock;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A token bucket: `rate` tokens per second up to `capacity`. A take may leave the bucket in debt (a message
/// larger than the whole burst passes when the bucket is full), so the long-run rate holds for any size.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl TokenBucket {
    /// A full bucket refilling at `rate` per second, holding at most `burst` (at least 1).
    pub fn new(rate: u64, burst: u64) -> TokenBucket {
        let capacity = burst.max(1) as f64;
        TokenBucket {
            rate: rate as f64,
            capacity,
            tokens: capacity,
            last: None,
        }
    }

    fn refill(&mut self, now: Instant) {
        if let Some(last) = self.last {
            let dt = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + dt * self.rate).min(self.capacity);
        }
        self.last = Some(self.last.map_or(now, |l| l.max(now)));
    }

    fn can_take(&self, cost: u64) -> bool {
        self.tokens >= (cost as f64).min(self.capacity)
    }

    /// Takes `cost` tokens if there are enough (or the bucket is full); false leaves the bucket unchanged.
    pub fn try_take(&mut self, now: Instant, cost: u64) -> bool {
        self.refill(now);
        if self.can_take(cost) {
            self.tokens -= cost as f64;
            true
        } else {
            false
        }
    }
}

/// One connection's publish rate: `[limits] publish_rate` messages/s and `publish_bytes_rate` bytes/s
/// (topic + payload), each with its burst. A message passes only when both buckets have room.
#[derive(Debug, Clone)]
pub(crate) struct PublishLimiter {
    messages: Option<TokenBucket>,
    bytes: Option<TokenBucket>,
    /// When the last "rate exceeded" line was logged (one per second at most).
    logged: Option<Instant>,
}

impl PublishLimiter {
    /// `None` when neither rate is configured.
    pub(crate) fn from_config(cfg: &CoreConfig) -> Option<PublishLimiter> {
        let messages = cfg
            .publish_rate
            .map(|r| TokenBucket::new(r, cfg.publish_burst.unwrap_or(r)));
        let bytes = cfg
            .publish_bytes_rate
            .map(|r| TokenBucket::new(r, cfg.publish_bytes_burst.unwrap_or(r)));
        (messages.is_some() || bytes.is_some()).then_some(PublishLimiter {
            messages,
            bytes,
            logged: None,
        })
    }

    /// Whether a message of `size` bytes may pass now; takes its tokens if so.
    pub(crate) fn allow(&mut self, now: Instant, size: usize) -> bool {
        let size = size as u64;
        if let Some(b) = &mut self.messages {
            b.refill(now);
        }
        if let Some(b) = &mut self.bytes {
            b.refill(now);
        }
        let ok = self.messages.as_ref().is_none_or(|b| b.can_take(1))
            && self.bytes.as_ref().is_none_or(|b| b.can_take(size));
        if ok {
            if let Some(b) = &mut self.messages {
                b.tokens -= 1.0;
            }
            if let Some(b) = &mut self.bytes {
                b.tokens -= size as f64;
            }
        }
        ok
    }

    /// True at most once a second: whether to log this refusal.
    pub(crate) fn should_log(&mut self, now: Instant) -> bool {
        if self
            .logged
            .is_some_and(|at| now.saturating_duration_since(at) < Duration::from_secs(1))
        {
            return false;
        }
        self.logged = Some(now);
        true
    }
}

/// Why the connection limits refused a CONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `max_connections_per_ip` reached.
    PerIp,
    /// The client id is banned for flapping.
    Flapping,
}

#[derive(Debug, Default)]
struct Flap {
    window_start: Option<Instant>,
    count: u32,
    banned_until: Option<Instant>,
}

#[derive(Debug, Default)]
struct State {
    per_ip: HashMap<IpAddr, u32>,
    flaps: HashMap<Arc<str>, Flap>,
    /// `flaps.len()` after the last prune; the map is pruned when it doubles.
    pruned_at: usize,
}

/// Broker-wide connection limits: connections per IP and flapping client ids. A leaf lock.
#[derive(Debug, Default)]
pub(crate) struct ConnLimits {
    state: Mutex<State>,
}

/// An IPv4-mapped IPv6 address counts as its IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// A connection's place in the per-IP count; released when dropped.
#[derive(Debug)]
pub(crate) struct IpSlot {
    limits: Arc<ConnLimits>,
    ip: IpAddr,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut s = lock(&self.limits.state);
        if let Some(n) = s.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                s.per_ip.remove(&self.ip);
            }
        }
    }
}

impl ConnLimits {
    /// Takes one of `max` slots for `ip` (0: unlimited, no slot taken).
    pub(crate) fn reserve_ip(self: &Arc<Self>, ip: IpAddr, max: usize) -> Result<Option<IpSlot>, Refusal> {
        if max == 0 {
            return Ok(None);
        }
        let ip = canonical(ip);
        let mut s = lock(&self.state);
        let n = s.per_ip.entry(ip).or_insert(0);
        if *n as usize >= max {
            return Err(Refusal::PerIp);
        }
        *n += 1;
        Ok(Some(IpSlot {
            limits: self.clone(),
            ip,
        }))
    }

    /// Whether `client_id` is banned for flapping now.
    pub(crate) fn is_flap_banned(&self, cfg: &CoreConfig, client_id: &str, now: Instant) -> bool {
        if cfg.flap_max == 0 {
            return false;
        }
        let s = lock(&self.state);
        s.flaps
            .get(client_id)
            .and_then(|f| f.banned_until)
            .is_some_and(|until| now < until)
    }

    /// Records an admitted CONNECT of `client_id`; `Err` when it is one too many in the window, which bans
    /// the id for `flap_ban` (the caller logs it: this returns `Err` once per ban).
    pub(crate) fn record_connect(
        &self,
        cfg: &CoreConfig,
        client_id: &Arc<str>,
        now: Instant,
    ) -> Result<(), Refusal> {
        if cfg.flap_max == 0 {
            return Ok(());
        }
        let mut s = lock(&self.state);
        if s.flaps.len() >= 1024 && s.flaps.len() >= 2 * s.pruned_at {
            s.flaps.retain(|_, f| {
                f.banned_until.is_some_and(|u| now < u)
                    || f.window_start
                        .is_some_and(|w| now.saturating_duration_since(w) < cfg.flap_window)
            });
            s.pruned_at = s.flaps.len();
        }
        let f = s.flaps.entry(client_id.clone()).or_default();
        if f.banned_until.is_some_and(|u| now < u) {
            return Err(Refusal::Flapping);
        }
        f.banned_until = None;
        match f.window_start {
            Some(w) if now.saturating_duration_since(w) < cfg.flap_window => f.count += 1,
            _ => {
                f.window_start = Some(now);
                f.count = 1;
            }
        }
        if f.count > cfg.flap_max {
            f.banned_until = Some(now + cfg.flap_ban);
            f.window_start = None;
            f.count = 0;
            return Err(Refusal::Flapping);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn bucket_allows_burst_then_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10, 5);
        for _ in 0..5 {
            assert!(b.try_take(t0, 1));
        }
        assert!(!b.try_take(t0, 1), "burst spent");
        assert!(!b.try_take(t0 + secs(0.05), 1), "half a token");
        assert!(b.try_take(t0 + secs(0.1), 1), "one token after 100 ms at 10/s");
        assert!(!b.try_take(t0 + secs(0.1), 1));
        // Refill caps at the burst.
        let later = t0 + secs(100.0);
        for _ in 0..5 {
            assert!(b.try_take(later, 1));
        }
        assert!(!b.try_take(later, 1));
    }

    #[test]
    fn bucket_oversized_take_goes_into_debt() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(100, 100);
        assert!(b.try_take(t0, 1000), "a full bucket passes one oversized message");
        assert!(!b.try_take(t0 + secs(5.0), 1), "and pays it back: -900 + 500 < 1");
        assert!(b.try_take(t0 + secs(10.0), 1));
    }

    #[test]
    fn limiter_needs_both_buckets() {
        let cfg = CoreConfig {
            publish_rate: Some(100),
            publish_bytes_rate: Some(1000),
            ..CoreConfig::default()
        };
        let t0 = Instant::now();
        let mut l = PublishLimiter::from_config(&cfg).unwrap();
        assert!(l.allow(t0, 600));
        assert!(!l.allow(t0, 600), "bytes bucket has 400 left");
        assert!(l.allow(t0, 400));
        assert!(PublishLimiter::from_config(&CoreConfig::default()).is_none());
    }

    #[test]
    fn per_ip_slots_are_released() {
        let limits = Arc::new(ConnLimits::default());
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        let a = limits.reserve_ip(ip, 2).unwrap();
        let _b = limits.reserve_ip(mapped, 2).unwrap();
        assert_eq!(limits.reserve_ip(ip, 2).unwrap_err(), Refusal::PerIp);
        assert!(limits.reserve_ip("192.0.2.2".parse().unwrap(), 2).is_ok());
        drop(a);
        assert!(limits.reserve_ip(ip, 2).is_ok());
        assert!(limits.reserve_ip(ip, 0).unwrap().is_none(), "0 = unlimited");
    }

    #[test]
    fn flapping_bans_for_a_while() {
        let cfg = CoreConfig {
            flap_max: 3,
            flap_window: Duration::from_secs(10),
            flap_ban: Duration::from_secs(60),
            ..CoreConfig::default()
        };
        let limits = ConnLimits::default();
        let id: Arc<str> = Arc::from("c");
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(limits.record_connect(&cfg, &id, t0 + secs(f64::from(i))).is_ok());
        }
        assert_eq!(
            limits.record_connect(&cfg, &id, t0 + secs(3.0)),
            Err(Refusal::Flapping)
        );
        assert!(limits.is_flap_banned(&cfg, "c", t0 + secs(30.0)));
        assert!(!limits.is_flap_banned(&cfg, "c", t0 + secs(64.0)));
        assert!(limits.record_connect(&cfg, &id, t0 + secs(64.0)).is_ok());
        // Slow reconnects never trip it.
        let slow: Arc<str> = Arc::from("slow");
        for i in 0..20 {
            assert!(
                limits
                    .record_connect(&cfg, &slow, t0 + secs(f64::from(i) * 11.0))
                    .is_ok()
            );
        }
    }
}
