//! Flood control in front of the gateway: a per-address budget of datagrams per second (one per client at
//! that address, so a forwarder carrying many nodes gets a budget for each), a smaller shared
//! budget for addresses the gateway does not know (spoofed sources cost little), and a cap on how many
//! addresses are tracked at all, so memory stays flat whatever arrives.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Limits applied before a datagram reaches the gateway.
#[derive(Debug, Clone, Copy)]
pub struct FloodLimits {
    /// Datagrams per second accepted from one known client (a forwarder's address gets this much for each
    /// client tracked behind it).
    pub per_client: u32,
    /// Datagrams per second accepted from all unknown addresses together (CONNECT, SEARCHGW, QoS -1).
    pub unknown_total: u32,
    /// Addresses tracked per one-second window; beyond it unknown addresses share only `unknown_total`.
    pub max_tracked: usize,
}

impl Default for FloodLimits {
    fn default() -> FloodLimits {
        FloodLimits {
            per_client: 2_000,
            unknown_total: 5_000,
            max_tracked: 100_000,
        }
    }
}

/// Fixed one-second windows of datagram counts.
#[derive(Debug)]
pub(crate) struct Limiter {
    limits: FloodLimits,
    window_start: Instant,
    /// foldhash, not SipHash: one lookup per datagram (seeded per process, so spoofed sources cannot
    /// be picked to collide).
    per_addr: HashMap<SocketAddr, u32, foldhash::fast::RandomState>,
    unknown: u32,
    /// Datagrams refused since start.
    pub(crate) dropped: u64,
}

impl Limiter {
    pub(crate) fn new(limits: FloodLimits, now: Instant) -> Limiter {
        Limiter {
            limits,
            window_start: now,
            per_addr: HashMap::default(),
            unknown: 0,
            dropped: 0,
        }
    }

    /// True if a datagram from `peer` may go to the gateway now; `clients` is how many tracked clients send
    /// from that address (0: unknown).
    pub(crate) fn allow(&mut self, now: Instant, peer: SocketAddr, clients: usize) -> bool {
        if now.duration_since(self.window_start) >= Duration::from_secs(1) {
            self.window_start = now;
            self.per_addr.clear();
            self.unknown = 0;
        }
        let ok = if clients > 0 {
            let budget = u64::from(self.limits.per_client).saturating_mul(clients as u64);
            let n = self.per_addr.entry(peer).or_insert(0);
            *n += 1;
            u64::from(*n) <= budget
        } else {
            self.unknown += 1;
            self.unknown <= self.limits.unknown_total
                && (self.per_addr.len() < self.limits.max_tracked || self.per_addr.contains_key(&peer))
                && {
                    let n = self.per_addr.entry(peer).or_insert(0);
                    *n += 1;
                    *n <= self.limits.per_client
                }
        };
        if !ok {
            self.dropped += 1;
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_reset_each_second() {
        let t0 = Instant::now();
        let mut l = Limiter::new(
            FloodLimits {
                per_client: 2,
                unknown_total: 3,
                max_tracked: 10,
            },
            t0,
        );
        let a = SocketAddr::from(([127, 0, 0, 1], 1));
        assert!(l.allow(t0, a, 1));
        assert!(l.allow(t0, a, 1));
        assert!(!l.allow(t0, a, 1));
        let b = SocketAddr::from(([127, 0, 0, 1], 2));
        let c = SocketAddr::from(([127, 0, 0, 1], 3));
        assert!(l.allow(t0, b, 0));
        assert!(l.allow(t0, c, 0));
        assert!(l.allow(t0, b, 0));
        assert!(!l.allow(t0, c, 0), "unknown addresses share one budget");
        let t1 = t0 + Duration::from_secs(1);
        assert!(l.allow(t1, a, 1));
        assert_eq!(l.dropped, 2);
    }

    #[test]
    fn a_forwarder_gets_a_budget_per_node() {
        let t0 = Instant::now();
        let mut l = Limiter::new(
            FloodLimits {
                per_client: 2,
                unknown_total: 3,
                max_tracked: 10,
            },
            t0,
        );
        let fwd = SocketAddr::from(([127, 0, 0, 1], 9));
        for _ in 0..6 {
            assert!(l.allow(t0, fwd, 3));
        }
        assert!(!l.allow(t0, fwd, 3));
    }
}
