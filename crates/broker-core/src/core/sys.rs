//! `$SYS/broker/...`: broker statistics published as retained QoS 0 messages every `sys_interval`.

use super::{BrokerCore, Fanout};
use crate::message::Message;
use crate::session::lock;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Instant;
use tern_mqtt_codec::{ByteStr, PublishProperties, QoS};

impl BrokerCore {
    /// Publishes `$SYS` if its time has come.
    pub(crate) fn publish_sys_if_due(&self, now: Instant, fanout: &mut Fanout) {
        let Some(interval) = self.config.sys_interval else {
            return;
        };
        {
            let mut next = lock(&self.sys_next);
            match *next {
                Some(at) if at <= now => *next = Some(now + interval),
                _ => return,
            }
        }
        let s = self.stats();
        let uptime = now.saturating_duration_since(self.started).as_secs();
        let version = format!("{} {}", self.config.server_name, self.config.server_version);
        let items: [(&'static str, String); 20] = [
            ("$SYS/broker/uptime", format!("{uptime} seconds")),
            ("$SYS/broker/version", version),
            ("$SYS/broker/clients/connected", s.connections.to_string()),
            ("$SYS/broker/clients/total", s.sessions.to_string()),
            ("$SYS/broker/messages/received", s.messages_in.to_string()),
            ("$SYS/broker/messages/sent", s.messages_out.to_string()),
            ("$SYS/broker/bytes/received", s.bytes_in.to_string()),
            ("$SYS/broker/bytes/sent", s.bytes_out.to_string()),
            ("$SYS/broker/subscriptions/count", s.subscriptions.to_string()),
            (
                "$SYS/broker/retained messages/count",
                s.retained_messages.to_string(),
            ),
            ("$SYS/broker/messages/dropped", s.dropped.to_string()),
            ("$SYS/broker/auth/refused", s.auth_refused.to_string()),
            ("$SYS/broker/auth/publish denied", s.publish_denied.to_string()),
            (
                "$SYS/broker/auth/subscribe denied",
                s.subscribe_denied.to_string(),
            ),
            (
                "$SYS/broker/limits/publish rate limited",
                s.publish_rate_limited.to_string(),
            ),
            ("$SYS/broker/limits/per ip refused", s.per_ip_refused.to_string()),
            ("$SYS/broker/limits/flap bans", s.flap_bans.to_string()),
            ("$SYS/broker/limits/flap refused", s.flap_refused.to_string()),
            (
                "$SYS/broker/limits/connection rate refused",
                s.connection_rate_refused.to_string(),
            ),
            (
                "$SYS/broker/limits/handshake failed",
                s.handshake_failures.to_string(),
            ),
        ];
        for (topic, value) in items {
            let msg = Message {
                topic: ByteStr::from_static(topic),
                payload: Bytes::from(value),
                qos: QoS::AtMostOnce,
                retain: true,
                properties: PublishProperties::default(),
                expires_at: None,
                publisher: None,
            };
            // `$SYS` must not crowd out client messages: a full retained store just skips it.
            let _ = self.publish_inner(Arc::new(msg), now, false, false, fanout);
        }
    }
}
