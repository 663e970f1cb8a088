//! Inbound PUBLISH (QoS 0/1/2, topic aliases, receive maximum, authorization, exactly-once) and the client's
//! acknowledgements of our deliveries (PUBACK, PUBREC, PUBREL, PUBCOMP).

use super::{MqttConnection, Violation};
use crate::core::PublishOutcome;
use crate::message::Message;
use crate::persistence::CommitTicket;
use crate::stats::Stats;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tern_mqtt_codec::{Packet, PacketId, PubAck, Publish, QoS, ReasonCode};

impl MqttConnection {
    /// Queues an ack to the client's publish behind earlier ones (acks go out in order, [MQTT-4.6.0-2]).
    fn queue_ack(&mut self, ticket: Option<CommitTicket>, packet: Packet) {
        if let Some(t) = &ticket {
            t.set_waker(self.notifier.clone());
        }
        self.acks.push_back((ticket, packet));
    }

    fn ack_for(&mut self, qos: QoS, id: Option<PacketId>, code: ReasonCode, ticket: Option<CommitTicket>) {
        let Some(id) = id else { return };
        let code = if self.is_v5() { code } else { ReasonCode::Success };
        let ack = PubAck {
            reason_code: code,
            ..PubAck::new(id)
        };
        match qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => self.queue_ack(ticket, Packet::PubAck(ack)),
            QoS::ExactlyOnce => self.queue_ack(ticket, Packet::PubRec(ack)),
        }
    }

    /// QoS 1/2 publishes received and not yet fully acknowledged (against our Receive Maximum).
    fn inbound_inflight(&self) -> usize {
        let parked = self
            .acks
            .iter()
            .filter(|(_, p)| matches!(p, Packet::PubAck(_)))
            .count();
        parked + self.session.as_ref().map_or(0, |s| s.qos2_pending())
    }

    pub(super) fn on_publish(&mut self, now: Instant, mut p: Publish) {
        Stats::add(&self.core.stats.messages_in, 1);
        let cfg = &self.core.config;
        if p.qos > cfg.maximum_qos {
            return self.violation(now, Violation::QoSNotSupported);
        }
        if p.retain && !cfg.retain_available {
            return self.violation(now, Violation::RetainNotSupported);
        }
        // Topic alias resolution ([MQTT-3.3.2-10], [MQTT-3.3.2-11]).
        if let Some(alias) = p.properties.topic_alias.take() {
            if alias.get() > cfg.topic_alias_maximum {
                return self.violation(now, Violation::TopicAliasTooLarge);
            }
            if p.topic.is_empty() {
                match self.aliases.as_ref().and_then(|a| a.inbound.get(&alias.get())) {
                    Some(topic) => p.topic = topic.clone(),
                    None => {
                        return self.violation(now, Violation::UnknownTopicAlias);
                    }
                }
            } else {
                let aliases = self.aliases.get_or_insert_default();
                aliases.inbound.insert(alias.get(), p.topic.clone());
            }
        }
        if p.topic.is_empty() {
            return self.violation(now, Violation::EmptyTopic);
        }
        if p.qos != QoS::AtMostOnce && self.inbound_inflight() >= usize::from(cfg.max_inflight) {
            let duplicate = p.qos == QoS::ExactlyOnce
                && p.packet_id
                    .is_some_and(|id| self.session.as_ref().is_some_and(|s| s.qos2_is_pending(id)));
            if !duplicate {
                return self.violation(now, Violation::ReceiveMaximumExceeded);
            }
        }
        let Some(session) = self.session.clone() else {
            return;
        };
        if Self::over_publish_rate(
            &mut self.publish_limiter,
            &self.core,
            self.client_id.as_deref(),
            self.meta.peer,
            now,
            &p,
        ) {
            if p.qos == QoS::ExactlyOnce && !self.is_v5() {
                // 3.x has no negative PUBREC: complete the handshake normally, dropping the message.
                if let Some(id) = p.packet_id {
                    session.qos2_received(id);
                }
            }
            return self.ack_for(p.qos, p.packet_id, ReasonCode::QuotaExceeded, None);
        }
        // Oversized topics are refused like unauthorized ones.
        let too_long =
            p.topic.len() > cfg.max_topic_length || p.topic.split('/').count() > cfg.max_topic_levels;
        let refused = if too_long {
            Some(ReasonCode::TopicNameInvalid)
        } else if crate::message::is_reserved_topic(&p.topic) {
            // Clients may not publish into `$SYS` (ours) or `$share/`: refused like an unauthorized publish.
            Some(ReasonCode::NotAuthorized)
        } else if !self
            .core
            .hooks
            .policy
            .authorize_publish(&self.identity(), &p.topic)
        {
            Stats::add(&self.core.stats.publish_denied, 1);
            Some(ReasonCode::NotAuthorized)
        } else {
            None
        };
        if let Some(code) = refused {
            tracing::warn!(client_id = self.client_id().unwrap_or(""), topic = %p.topic, reason = %code,
                "publish refused");
            if p.qos == QoS::ExactlyOnce && !self.is_v5() {
                // 3.x has no negative PUBREC: complete the handshake normally, dropping the message.
                if let Some(id) = p.packet_id {
                    session.qos2_received(id);
                }
            }
            return self.ack_for(p.qos, p.packet_id, code, None);
        }
        if p.qos == QoS::ExactlyOnce {
            let Some(id) = p.packet_id else { return };
            if !session.qos2_received(id) {
                // A retransmission of a message already received: acknowledge again, route once.
                tracing::debug!(
                    client_id = self.client_id().unwrap_or(""),
                    id,
                    "duplicate QoS 2 publish"
                );
                return self.ack_for(p.qos, p.packet_id, ReasonCode::Success, None);
            }
        }
        let mut properties = std::mem::take(&mut p.properties);
        properties.subscription_identifiers.clear();
        let expires_at = properties
            .message_expiry_interval
            .map(|s| now + Duration::from_secs(u64::from(s)));
        let msg = Arc::new(Message {
            topic: p.topic,
            payload: p.payload,
            qos: p.qos,
            retain: p.retain,
            properties,
            expires_at,
            publisher: Some(session.id()),
        });
        let strict = self.is_v5() && p.qos != QoS::AtMostOnce;
        // A durable publisher's QoS 2 id is committed with the message (exactly once across a restart).
        let inbound = p
            .packet_id
            .filter(|_| p.qos == QoS::ExactlyOnce && session.expiry_interval() > 0)
            .map(|id| (session.client_id(), id.get()));
        let mut fanout = self.take_fanout();
        let published = self.core.publish_qos2(msg, now, strict, inbound, &mut fanout);
        self.fanout = Some(fanout);
        match published {
            Ok(PublishOutcome { matched, commit }) => {
                let code = if matched == 0 {
                    ReasonCode::NoMatchingSubscribers
                } else {
                    ReasonCode::Success
                };
                self.ack_for(p.qos, p.packet_id, code, commit);
            }
            Err(e) => {
                if let Some(id) = p.packet_id.filter(|_| p.qos == QoS::ExactlyOnce) {
                    session.qos2_released(id);
                }
                self.ack_for(p.qos, p.packet_id, e.reason_code(), None);
            }
        }
    }

    pub(super) fn on_puback(&mut self, a: PubAck) {
        let Some(s) = &self.session else { return };
        if !s.puback(a.packet_id) {
            tracing::debug!(
                client_id = self.client_id().unwrap_or(""),
                id = a.packet_id,
                "PUBACK for unknown id"
            );
        }
    }

    pub(super) fn on_pubrec(&mut self, a: PubAck) {
        let Some(s) = &self.session else { return };
        let accepted = a.reason_code.is_success();
        let (known, commit) = s.pubrec_commit(a.packet_id, accepted);
        if known {
            if accepted {
                self.queue_ack(commit, Packet::PubRel(PubAck::new(a.packet_id)));
            }
        } else if accepted {
            let code = if self.is_v5() {
                ReasonCode::PacketIdentifierNotFound
            } else {
                ReasonCode::Success
            };
            self.control.push_back(Packet::PubRel(PubAck {
                reason_code: code,
                ..PubAck::new(a.packet_id)
            }));
        }
    }

    pub(super) fn on_pubrel(&mut self, a: PubAck) {
        let Some(s) = &self.session else { return };
        let released = s.qos2_released(a.packet_id);
        let code = if released || !self.is_v5() {
            ReasonCode::Success
        } else {
            ReasonCode::PacketIdentifierNotFound
        };
        // The PUBCOMP waits until the store forgot the id, or a restarted broker could drop the next
        // message that reuses it as a duplicate.
        let commit = if released && s.expiry_interval() > 0 {
            self.core
                .hooks
                .persistence
                .inbound_released(s.client_id(), a.packet_id.get())
        } else {
            None
        };
        self.queue_ack(
            commit,
            Packet::PubComp(PubAck {
                reason_code: code,
                ..PubAck::new(a.packet_id)
            }),
        );
    }

    pub(super) fn on_pubcomp(&mut self, a: PubAck) {
        let Some(s) = &self.session else { return };
        if !s.pubcomp(a.packet_id) {
            tracing::debug!(
                client_id = self.client_id().unwrap_or(""),
                id = a.packet_id,
                "PUBCOMP for unknown id"
            );
        }
    }
}
