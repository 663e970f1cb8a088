//! Every limit the core enforces, in one place, with production defaults. The shell builds one from the
//! user's configuration file; tests build one with the few fields they care about changed.

use std::time::Duration;
use tern_mqtt_codec::{QoS, ReasonCode};

/// What a full session queue does with a new QoS 1/2 message (QoS 0 is always dropped when full).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueDropPolicy {
    /// Drop the oldest queued message to make room (keeps the freshest data flowing).
    DropOldest,
    /// Refuse the new message (keeps what was promised first).
    #[default]
    DropNew,
}

/// Limits and feature switches of one broker.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Largest packet accepted from a client, announced as Maximum Packet Size in 5.0.
    pub max_packet_size: u32,
    /// Receive Maximum we announce: QoS 1/2 publishes a client may have unacknowledged towards us.
    pub max_inflight: u16,
    /// Cap on QoS 1/2 deliveries we keep unacknowledged towards one client, whatever its Receive Maximum.
    pub max_outbound_inflight: u16,
    /// Messages queued per session (online or offline) before the drop policy applies.
    pub max_queued_messages: usize,
    /// Bytes (topic + payload) queued per session before the drop policy applies.
    pub max_queued_bytes: usize,
    /// QoS 1/2 messages a durable session (session expiry above 0) keeps in the store beyond its in-memory
    /// queue: an offline session's backlog past the first 1,000, and an online one's past
    /// `max_queued_messages` (a subscriber that stays slow), live on disk up to this many instead of being
    /// dropped. Needs a store; beyond it new messages are dropped and counted.
    pub max_stored_messages: usize,
    /// What to drop when a session queue is full.
    pub queue_drop_policy: QueueDropPolicy,
    /// Largest keep alive accepted, in seconds; 0 = no cap. A client asking for more (or for 0) is told the
    /// capped value through Server Keep Alive on 5.0.
    pub max_keepalive: u16,
    /// Longest session expiry interval granted, in seconds; also the lifetime of a 3.1.1 session with
    /// Clean Session 0. `u32::MAX` means such sessions never expire.
    pub max_session_expiry: u32,
    /// Most levels a topic name or filter may have.
    pub max_topic_levels: usize,
    /// Longest topic name or filter in bytes.
    pub max_topic_length: usize,
    /// Most subscriptions one session may hold.
    pub max_subscriptions_per_client: usize,
    /// Topic Alias Maximum we announce (aliases a client may use towards us); 0 disables inbound aliases.
    pub topic_alias_maximum: u16,
    /// Most retained messages kept.
    pub max_retained_messages: usize,
    /// Most retained bytes (topic + payload) kept.
    pub max_retained_bytes: usize,
    /// Whether RETAIN is supported at all (announced in CONNACK).
    pub retain_available: bool,
    /// Highest QoS supported (announced in CONNACK when below 2).
    pub maximum_qos: QoS,
    /// Topic filters that fence off part of the topic space: a subscription is refused when its filter (after
    /// `$share/{group}/` is stripped) could match any topic a denied filter matches, so with `secret/#`
    /// denied, `secret/+`, `+/x` and `#` are refused too.
    pub denied_filters: Vec<String>,
    /// Reason code in SUBACK for a denied filter: `UnspecifiedError` (0x80) or `NotAuthorized` (0x87).
    pub denied_reason: ReasonCode,
    /// How long a new connection may take to send CONNECT.
    pub connect_timeout: Duration,
    /// How often `$SYS/broker/...` is republished; `None` disables `$SYS`.
    pub sys_interval: Option<Duration>,
    /// Server name published in `$SYS/broker/version`.
    pub server_name: String,
    /// Server version published in `$SYS/broker/version`.
    pub server_version: String,
    /// Most simultaneous connected clients; further CONNECTs are refused with Server Busy / unavailable.
    pub max_connections: usize,
    /// Most simultaneous connected clients from one IP address (IPv4-mapped IPv6 counts as IPv4); 0 = no
    /// limit. Further CONNECTs are refused with 0x9F Connection rate exceeded (3.x: 3 server unavailable).
    pub max_connections_per_ip: usize,
    /// PUBLISH packets per second one connection may send (token bucket); `None` = no limit. Over the limit
    /// a QoS 1/2 publish is answered 0x97 Quota exceeded (5.0) and dropped; QoS 0 and every 3.x publish is
    /// dropped (3.x QoS 1/2 still acknowledged, as 3.x has no negative ack). Counted in `publish_rate_limited`.
    pub publish_rate: Option<u64>,
    /// Burst of the message bucket (default: `publish_rate`, one second's worth).
    pub publish_burst: Option<u64>,
    /// Bytes (topic + payload) per second one connection may publish; `None` = no limit.
    pub publish_bytes_rate: Option<u64>,
    /// Burst of the byte bucket (default: `publish_bytes_rate`).
    pub publish_bytes_burst: Option<u64>,
    /// Flapping: a client id admitted more than `flap_max` times within `flap_window` is banned for
    /// `flap_ban` (CONNACK 0x8A Banned; 3.x: 5 not authorized). 0 turns detection off.
    pub flap_max: u32,
    /// Window over which connects are counted for flapping.
    pub flap_window: Duration,
    /// How long a flapping client id stays banned.
    pub flap_ban: Duration,
    /// Back-pressure: a publisher whose messages filled an online subscriber's queue past 3/4 is not read
    /// until that queue drains below 1/2, or for at most this long (a stuck subscriber delays publishers,
    /// it never stalls them). `Duration::ZERO` disables back-pressure.
    pub publisher_pause: Duration,
}

impl Default for CoreConfig {
    fn default() -> CoreConfig {
        CoreConfig {
            max_packet_size: 1024 * 1024,
            max_inflight: 128,
            max_outbound_inflight: 128,
            max_queued_messages: 1000,
            max_queued_bytes: 64 * 1024 * 1024,
            max_stored_messages: 100_000,
            queue_drop_policy: QueueDropPolicy::DropNew,
            max_keepalive: 0,
            max_session_expiry: u32::MAX,
            max_topic_levels: 128,
            max_topic_length: 65_535,
            max_subscriptions_per_client: 1000,
            topic_alias_maximum: 64,
            max_retained_messages: 100_000,
            max_retained_bytes: 256 * 1024 * 1024,
            retain_available: true,
            maximum_qos: QoS::ExactlyOnce,
            denied_filters: Vec::new(),
            denied_reason: ReasonCode::UnspecifiedError,
            connect_timeout: Duration::from_secs(10),
            sys_interval: Some(Duration::from_secs(10)),
            server_name: "tern".to_owned(),
            server_version: env!("CARGO_PKG_VERSION").to_owned(),
            max_connections: 100_000,
            max_connections_per_ip: 0,
            publish_rate: None,
            publish_burst: None,
            publish_bytes_rate: None,
            publish_bytes_burst: None,
            flap_max: 0,
            flap_window: Duration::from_secs(60),
            flap_ban: Duration::from_secs(300),
            publisher_pause: Duration::from_millis(50),
        }
    }
}
