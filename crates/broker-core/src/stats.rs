//! Broker-wide counters: atomics bumped on the hot path, read as one snapshot for `$SYS` and the shell.

use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters; every field is a relaxed atomic so the hot path never takes a lock to count.
#[derive(Debug, Default)]
pub struct Stats {
    /// Clients currently connected (CONNACK sent, not yet closed).
    pub(crate) connections: AtomicU64,
    /// Connections accepted since start.
    pub(crate) connections_total: AtomicU64,
    /// PUBLISH packets received from clients.
    pub(crate) messages_in: AtomicU64,
    /// PUBLISH packets sent to clients.
    pub(crate) messages_out: AtomicU64,
    /// Bytes of packets received.
    pub(crate) bytes_in: AtomicU64,
    /// Bytes of packets sent.
    pub(crate) bytes_out: AtomicU64,
    /// Deliveries dropped: queue full, offline QoS 0, larger than the client's maximum packet size.
    pub(crate) dropped: AtomicU64,
    /// Deliveries discarded because their message expired before it could be sent.
    pub(crate) expired: AtomicU64,
    /// Connections closed for a protocol violation or a malformed packet.
    pub(crate) violations: AtomicU64,
    /// Wills published.
    pub(crate) wills: AtomicU64,
    /// CONNECTs the policy refused (credentials, anonymous access, will topic).
    pub(crate) auth_refused: AtomicU64,
    /// PUBLISHes the policy refused.
    pub(crate) publish_denied: AtomicU64,
    /// Subscriptions the policy refused.
    pub(crate) subscribe_denied: AtomicU64,
    /// PUBLISHes refused or dropped for exceeding the publish rate.
    pub(crate) publish_rate_limited: AtomicU64,
    /// CONNECTs refused at `max_connections_per_ip`.
    pub(crate) per_ip_refused: AtomicU64,
    /// Client ids banned for flapping (one per ban).
    pub(crate) flap_bans: AtomicU64,
    /// CONNECTs refused because the client id is banned for flapping.
    pub(crate) flap_refused: AtomicU64,
    /// New connections a listener refused for its `connection_rate` (every transport).
    pub(crate) connection_rate_refused: AtomicU64,
    /// Connections that failed before MQTT began: PROXY header, TLS, WebSocket or QUIC handshake, deadline.
    pub(crate) handshake_failures: AtomicU64,
}

impl Stats {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn sub(counter: &AtomicU64, n: u64) {
        counter.fetch_sub(n, Ordering::Relaxed);
    }

    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// A point-in-time copy of the broker's counters and sizes, for `$SYS`, metrics and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Clients currently connected.
    pub connections: u64,
    /// Connections accepted since start.
    pub connections_total: u64,
    /// Sessions held (online and offline).
    pub sessions: u64,
    /// Subscriptions in the router.
    pub subscriptions: u64,
    /// Retained messages held.
    pub retained_messages: u64,
    /// Bytes of retained messages held.
    pub retained_bytes: u64,
    /// PUBLISH packets received.
    pub messages_in: u64,
    /// PUBLISH packets sent.
    pub messages_out: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Deliveries dropped (queue limits, offline QoS 0, too large for the client).
    pub dropped: u64,
    /// Deliveries discarded because the message expired.
    pub expired: u64,
    /// Connections closed for protocol violations.
    pub violations: u64,
    /// Wills published.
    pub wills: u64,
    /// CONNECTs the policy refused (credentials, anonymous access, will topic).
    pub auth_refused: u64,
    /// PUBLISHes the policy refused.
    pub publish_denied: u64,
    /// Subscriptions the policy refused.
    pub subscribe_denied: u64,
    /// PUBLISHes refused or dropped for exceeding the publish rate.
    pub publish_rate_limited: u64,
    /// CONNECTs refused at `max_connections_per_ip`.
    pub per_ip_refused: u64,
    /// Client ids banned for flapping (one per ban).
    pub flap_bans: u64,
    /// CONNECTs refused because the client id is banned for flapping.
    pub flap_refused: u64,
    /// New connections a listener refused for its `connection_rate` (every transport).
    pub connection_rate_refused: u64,
    /// Connections that failed before MQTT began (PROXY header, TLS, WebSocket or QUIC handshake).
    pub handshake_failures: u64,
}
