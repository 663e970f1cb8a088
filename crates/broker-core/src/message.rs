//! The application message as the broker holds it: one `Arc<Message>` is shared by every subscriber queue,
//! the retained store and the router, so fan-out never copies a payload.

use bytes::Bytes;
use std::time::Instant;
use tern_mqtt_codec::{ByteStr, PublishProperties, QoS};

/// Identifies a session inside one broker process; assigned by the session manager, never reused.
pub type SessionId = u64;

/// A published message after the broker accepted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Topic name (aliases already resolved).
    pub topic: ByteStr,
    /// Payload, shared with the publisher's read buffer.
    pub payload: Bytes,
    /// QoS the publisher sent it with; each delivery is downgraded to the subscription's maximum.
    pub qos: QoS,
    /// RETAIN as published.
    pub retain: bool,
    /// Properties forwarded to subscribers. Topic alias and subscription identifiers are per delivery and
    /// are always empty here; the message expiry interval is recomputed from `expires_at` on each delivery.
    pub properties: PublishProperties,
    /// When the message expires, from its Message Expiry Interval.
    pub expires_at: Option<Instant>,
    /// The publishing session (for No Local); `None` for wills published after the session ended and for
    /// broker-generated messages such as `$SYS`.
    pub publisher: Option<SessionId>,
}

impl Message {
    /// True once the message's expiry interval has passed.
    pub fn is_expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }

    /// Seconds left of the Message Expiry Interval, rounded up, to forward to a subscriber ([MQTT-3.3.2-6]).
    pub fn remaining_expiry(&self, now: Instant) -> Option<u32> {
        self.expires_at.map(|at| {
            let left = at.saturating_duration_since(now);
            let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            u32::try_from(secs).unwrap_or(u32::MAX)
        })
    }

    /// Bytes this message accounts for in queue and retained limits.
    pub fn size(&self) -> usize {
        self.topic.len() + self.payload.len()
    }
}

/// True for topics clients may not publish to: `$SYS` is the broker's own ([MQTT-4.7.2-1] reserves `$`
/// topics for server use; Tern claims `$SYS` and leaves other `$` prefixes, such as cloud-style `$aws/...`, to
/// applications), and `$share/...` names a subscription form, not a topic.
pub fn is_reserved_topic(topic: &str) -> bool {
    topic == "$SYS" || topic.starts_with("$SYS/") || topic.starts_with("$share/")
}
