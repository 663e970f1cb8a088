//! Deliveries to the client: pulled from the session within the in-flight window, turned into PUBLISH
//! packets (remaining message expiry, subscription identifiers, outbound topic aliases) and encoded straight
//! into the shell's write buffer. Packets larger than the client's Maximum Packet Size are dropped
//! ([MQTT-3.1.2-25]).

use super::MqttConnection;
use crate::session::{Delivery, Outbound, SessionHandle};
use crate::stats::Stats;
use bytes::BytesMut;
use std::num::NonZeroU16;
use std::time::Instant;
use tern_mqtt_codec::{ByteStr, Packet, PacketId, ProtocolVersion, PubAck, PublishRef};

/// Deliveries taken from the session per lock.
const PULL_BATCH: usize = 32;
/// Encoded bytes after which `poll_transmit` stops taking deliveries so the shell writes them first: a
/// subscriber's write buffer stays this small however long its queue is.
const WRITE_BUDGET: usize = 16 * 1024;

impl MqttConnection {
    pub(super) fn transmit_deliveries(&mut self, now: Instant, version: ProtocolVersion, out: &mut BytesMut) {
        self.more_to_send = false;
        let Some(session) = self.session.clone() else {
            return;
        };
        let window = usize::from(
            self.peer
                .receive_maximum
                .min(self.core.config.max_outbound_inflight),
        );
        // Deliveries are pulled a batch at a time until one write's worth is encoded; the rest stays in the
        // session queue (shared `Arc`s, counted by back-pressure) for the next round after this write.
        let start = out.len();
        let mut pulled = Vec::new();
        loop {
            let stats = session.pull_at_most(now, window, PULL_BATCH, &mut pulled);
            if stats.expired > 0 {
                Stats::add(&self.core.stats.expired, stats.expired as u64);
            }
            let full = pulled.len() >= PULL_BATCH;
            for item in pulled.drain(..) {
                match item {
                    Outbound::PubRel(id) => self.encode(&Packet::PubRel(PubAck::new(id)), version, out),
                    Outbound::Publish {
                        packet_id,
                        dup,
                        delivery,
                    } => {
                        self.send_publish(now, version, &session, packet_id, dup, &delivery, out);
                    }
                }
            }
            if !full {
                return;
            }
            if out.len() - start >= WRITE_BUDGET {
                self.more_to_send = true;
                return;
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn send_publish(
        &mut self,
        now: Instant,
        version: ProtocolVersion,
        session: &SessionHandle,
        packet_id: Option<PacketId>,
        dup: bool,
        d: &Delivery,
        out: &mut BytesMut,
    ) {
        let v5 = version.is_v5();
        let (topic_alias, alias_known, new_alias) = if v5 {
            self.alias_for(&d.msg.topic)
        } else {
            (None, false, false)
        };
        // Borrowed from the shared message: nothing of its properties is cloned per delivery.
        let publish = PublishRef {
            dup,
            qos: d.qos,
            retain: d.retain,
            topic: if alias_known { "" } else { &d.msg.topic },
            packet_id,
            properties: &d.msg.properties,
            message_expiry_interval: if v5 { d.msg.remaining_expiry(now) } else { None },
            topic_alias,
            subscription_identifiers: d.subscription_ids.as_slice(),
            payload: &d.msg.payload,
        };
        let len = publish.encoded_len(version).unwrap_or(usize::MAX);
        if u64::try_from(len).unwrap_or(u64::MAX) > u64::from(self.peer.max_packet_size) {
            tracing::debug!(
                client_id = self.client_id().unwrap_or(""),
                len,
                max = self.peer.max_packet_size,
                "[MQTT-3.1.2-25] delivery larger than the client's Maximum Packet Size dropped"
            );
            Stats::add(&self.core.stats.dropped, 1);
            if new_alias && let Some(a) = &mut self.aliases {
                a.outbound.remove(&d.msg.topic);
            }
            if let Some(id) = packet_id {
                session.discard_inflight(id);
            }
            return;
        }
        tracing::debug!(
            client_id = self.client_id().unwrap_or(""),
            packet = "PUBLISH",
            "sending"
        );
        if let Err(e) = publish.encode(version, out) {
            tracing::warn!(client_id = self.client_id().unwrap_or(""), error = %e, "PUBLISH not encodable, skipped");
            return;
        }
        Stats::add(&self.core.stats.messages_out, 1);
    }

    /// The outbound topic alias for `topic`: (alias, the client already knows it so the topic is omitted,
    /// it was assigned by this call). Aliases are first come, first served, up to the client's Topic Alias
    /// Maximum, never evicted.
    fn alias_for(&mut self, topic: &ByteStr) -> (Option<NonZeroU16>, bool, bool) {
        let max = self.peer.topic_alias_maximum;
        if max == 0 {
            return (None, false, false);
        }
        let aliases = self.aliases.get_or_insert_default();
        if let Some(&alias) = aliases.outbound.get(topic) {
            return (Some(alias), true, false);
        }
        let next = aliases.outbound.len() + 1;
        match u16::try_from(next)
            .ok()
            .filter(|&n| n <= max)
            .and_then(NonZeroU16::new)
        {
            Some(alias) => {
                aliases.outbound.insert(topic.clone(), alias);
                (Some(alias), false, true)
            }
            None => (None, false, false),
        }
    }
}
