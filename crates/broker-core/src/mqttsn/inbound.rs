//! Client → gateway traffic once connected: PUBLISH at every QoS (routed through the core), the client's
//! acknowledgements of our deliveries, REGISTER/REGACK, SUBSCRIBE/UNSUBSCRIBE by name, short name and
//! predefined id.

use super::SnPeer;
use super::client::{Awaiting, ParkedAck, SnClient};
use super::topics::{short_name, valid_topic_name};
use super::{SnGateway, broker_qos, sn_qos};
use crate::core::{SubscribeError, SubscribeRequest};
use crate::message::{Message, SessionId};
use crate::persistence::CommitTicket;
use crate::policy::Identity;
use crate::session::Outbound;
use crate::stats::Stats;
use bytes::Bytes;
use std::num::NonZeroU16;
use std::sync::Arc;
use std::time::Instant;
use tern_mqtt_codec::{ByteStr, PublishProperties, ReasonCode, SubscriptionOptions};
use tern_mqttsn_codec::{
    Message as SnMessage, PubAck, Publish, QoS as SnQoS, RegAck, Register, ReturnCode, SubAck, Subscribe,
    Topic, TopicFilter, Unsubscribe,
};

impl SnGateway {
    /// Resolves a topic as sent by a client to its sensor-side name.
    fn topic_name(&self, c: &SnClient, topic: Topic) -> Option<Arc<str>> {
        match topic {
            Topic::Id(id) => c.topics.name_of(id).cloned(),
            Topic::Predefined(id) => self.naming.predefined(id).cloned(),
            Topic::Short(raw) => short_name(raw).map(Arc::from),
        }
        .filter(|n| valid_topic_name(n))
    }

    /// Checks and routes one accepted publish; returns the commit to wait on before acknowledging.
    /// `inbound_qos2` (a durable session's client id and QoS 2 message id) is committed with the message,
    /// so a retransmission after a restart is recognised as a duplicate.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn route_publish(
        &mut self,
        now: Instant,
        name: &str,
        payload: Bytes,
        qos: SnQoS,
        retain: bool,
        from: Option<(&Identity, SessionId)>,
        inbound_qos2: Option<(&Arc<str>, u16)>,
    ) -> Result<Option<CommitTicket>, ReturnCode> {
        let identity = from.map_or(&self.identity, |(i, _)| i);
        Stats::add(&self.core.stats.messages_in, 1);
        let topic = self.naming.mount(name);
        let cfg = &self.core.config;
        if crate::message::is_reserved_topic(&topic)
            || topic.len() > cfg.max_topic_length
            || topic.split('/').count() > cfg.max_topic_levels
            || (retain && !cfg.retain_available)
            || !self.core.hooks.policy.authorize_publish(identity, &topic)
        {
            tracing::info!(topic, "MQTT-SN publish refused");
            return Err(ReturnCode::NotSupported);
        }
        let msg = Message {
            topic: ByteStr::from(topic),
            payload,
            qos: broker_qos(qos).min(cfg.maximum_qos),
            retain,
            properties: PublishProperties::default(),
            expires_at: None,
            publisher: from.map(|(_, s)| s),
        };
        match self
            .core
            .publish_qos2(Arc::new(msg), now, false, inbound_qos2, &mut self.fanout)
        {
            Ok(outcome) => Ok(outcome.commit),
            Err(_) => Err(ReturnCode::Congestion),
        }
    }

    pub(super) fn on_publish(&mut self, now: Instant, peer: &SnPeer, c: &mut SnClient, p: Publish) {
        let topic_id = u16::from_be_bytes(p.topic.to_wire());
        let reject = |gw: &mut SnGateway, rc| {
            let ack = SnMessage::PubAck(PubAck {
                topic_id,
                msg_id: p.msg_id,
                return_code: rc,
            });
            gw.send(peer, &ack);
        };
        let Some(name) = self.topic_name(c, p.topic) else {
            tracing::debug!(client_id = %c.client_id, topic = ?p.topic, "PUBLISH to an unknown topic id");
            return reject(self, ReturnCode::InvalidTopicId);
        };
        let Some(session) = c.session.clone() else { return };
        let id = NonZeroU16::new(p.msg_id);
        if p.qos == SnQoS::ExactlyOnce {
            let Some(id) = id else {
                return reject(self, ReturnCode::NotSupported);
            };
            if !session.qos2_received(id) {
                // A retransmission of a message already routed: acknowledge again, route once.
                return self.queue_ack(c, None, SnMessage::PubRec { msg_id: p.msg_id }, topic_id);
            }
        }
        // A durable session's QoS 2 id is committed with the message (exactly once across a restart).
        let inbound = id
            .filter(|_| p.qos == SnQoS::ExactlyOnce && session.expiry_interval() > 0)
            .map(|id| (session.client_id(), id.get()));
        let result = match self.route_publish(
            now,
            &name,
            p.payload,
            p.qos,
            p.retain,
            Some((&c.identity, session.id())),
            inbound,
        ) {
            Ok(t) => (t, ReturnCode::Accepted),
            Err(rc) => (None, rc),
        };
        match (p.qos, result) {
            (SnQoS::AtLeastOnce, (ticket, rc)) => {
                let ack = SnMessage::PubAck(PubAck {
                    topic_id,
                    msg_id: p.msg_id,
                    return_code: rc,
                });
                self.queue_ack(c, ticket, ack, topic_id);
            }
            (SnQoS::ExactlyOnce, (ticket, ReturnCode::Accepted)) => {
                self.queue_ack(c, ticket, SnMessage::PubRec { msg_id: p.msg_id }, topic_id);
            }
            (SnQoS::ExactlyOnce, (_, rc)) => {
                if let Some(id) = id {
                    session.qos2_released(id);
                }
                reject(self, rc);
            }
            (_, (_, ReturnCode::Accepted)) => {}
            (_, (_, rc)) => reject(self, rc),
        }
    }

    /// Queues an ack behind earlier ones; it goes out once its commit (if any) is durable. `topic_id` is
    /// the publish's, for the PUBACK that refuses it if the commit fails.
    fn queue_ack(&mut self, c: &mut SnClient, ticket: Option<CommitTicket>, ack: SnMessage, topic_id: u16) {
        if let Some(t) = &ticket {
            t.set_waker(self.notifier(c.token));
        }
        c.acks.push_back(ParkedAck {
            ticket,
            ack,
            topic_id,
        });
        self.mark_ready(c.token);
    }

    pub(super) fn on_puback(&mut self, c: &mut SnClient, a: PubAck) {
        if a.return_code == ReturnCode::InvalidTopicId {
            // The client does not know the id we used: forget it, register again before resending.
            c.topics.remove(a.topic_id);
        }
        let matches = c
            .outstanding
            .as_ref()
            .is_some_and(|o| o.awaiting == Awaiting::PubAck(a.msg_id));
        if !matches {
            return;
        }
        match a.return_code {
            ReturnCode::Accepted => {
                if let (Some(s), Some(id)) = (&c.session, NonZeroU16::new(a.msg_id)) {
                    s.puback(id);
                }
                c.outstanding = None;
            }
            ReturnCode::InvalidTopicId => {
                if let Some(d) = c.outstanding.take().and_then(|o| o.delivery) {
                    c.pending.push_front(d);
                }
            }
            // Congestion and the like: the retransmission timer tries again.
            _ => return,
        }
        self.mark_ready(c.token);
    }

    pub(super) fn on_pubrec(&mut self, now: Instant, peer: &SnPeer, c: &mut SnClient, msg_id: u16) {
        let (Some(s), Some(id)) = (&c.session, NonZeroU16::new(msg_id)) else {
            return;
        };
        let expected = c
            .outstanding
            .as_ref()
            .is_some_and(|o| matches!(o.awaiting, Awaiting::PubRec(m) | Awaiting::PubComp(m) if m == msg_id));
        let (known, ticket) = s.pubrec_commit(id, true);
        if !known && !expected {
            return;
        }
        let rel = SnMessage::PubRel { msg_id };
        // A stored delivery's PUBREL waits until the store knows the PUBREC arrived: once the client has
        // the PUBREL it may forget the id, and a PUBLISH re-sent after a restart would be a new message.
        match ticket.filter(|t| !t.is_done()) {
            Some(t) => self.queue_ack(c, Some(t), rel.clone(), 0),
            None => {
                self.send(peer, &rel);
            }
        }
        c.outstanding = Some(super::client::Outstanding {
            message: rel,
            awaiting: Awaiting::PubComp(msg_id),
            delivery: None,
            deadline: now + self.config.retry_interval,
            retries: 0,
        });
    }

    pub(super) fn on_pubrel(&mut self, peer: &SnPeer, c: &mut SnClient, msg_id: u16) {
        let mut ticket = None;
        if let (Some(s), Some(id)) = (&c.session, NonZeroU16::new(msg_id))
            && s.qos2_released(id)
            && s.expiry_interval() > 0
        {
            // The PUBCOMP waits until the store forgot the id, or a restarted gateway could drop the next
            // message that reuses it as a duplicate.
            ticket = self
                .core
                .hooks
                .persistence
                .inbound_released(s.client_id(), msg_id);
        }
        // PUBCOMP goes out behind the PUBREC it completes.
        if c.acks.is_empty() && ticket.as_ref().is_none_or(CommitTicket::is_done) {
            self.send(peer, &SnMessage::PubComp { msg_id });
        } else {
            self.queue_ack(c, ticket, SnMessage::PubComp { msg_id }, 0);
        }
    }

    pub(super) fn on_pubcomp(&mut self, c: &mut SnClient, msg_id: u16) {
        if let (Some(s), Some(id)) = (&c.session, NonZeroU16::new(msg_id)) {
            s.pubcomp(id);
        }
        if c.outstanding
            .as_ref()
            .is_some_and(|o| o.awaiting == Awaiting::PubComp(msg_id))
        {
            c.outstanding = None;
            self.mark_ready(c.token);
        }
    }

    pub(super) fn on_register(&mut self, peer: &SnPeer, c: &mut SnClient, r: Register) {
        let name = r.topic_name.as_str();
        let (topic_id, rc) = if !valid_topic_name(name) || name.len() > self.core.config.max_topic_length {
            (0, ReturnCode::NotSupported)
        } else {
            match c.topics.register(name, self.config.max_topics_per_client) {
                Some(id) => (id, ReturnCode::Accepted),
                None => (0, ReturnCode::Congestion),
            }
        };
        let ack = SnMessage::RegAck(RegAck {
            topic_id,
            msg_id: r.msg_id,
            return_code: rc,
        });
        self.send(peer, &ack);
    }

    pub(super) fn on_regack(&mut self, c: &mut SnClient, a: RegAck) {
        let Some(o) = c.outstanding.take() else { return };
        let Awaiting::RegAck { msg_id, topic_id } = o.awaiting else {
            c.outstanding = Some(o);
            return;
        };
        if msg_id != a.msg_id {
            c.outstanding = Some(o);
            return;
        }
        if a.return_code == ReturnCode::Accepted {
            if let SnMessage::Register(r) = &o.message {
                c.topics.insert(topic_id, r.topic_name.as_str());
            }
            if let Some(d) = o.delivery {
                c.pending.push_front(d);
            }
        } else if let Some(Outbound::Publish {
            packet_id: Some(id), ..
        }) = o.delivery
        {
            // The client refused the topic: the message cannot be delivered to it.
            self.stats.dropped += 1;
            if let Some(s) = &c.session {
                s.discard_inflight(id);
            }
        }
        self.mark_ready(c.token);
    }

    /// Resolves a SUBSCRIBE/UNSUBSCRIBE topic to (sensor-side filter, topic id for SUBACK).
    fn resolve_filter(&self, c: &mut SnClient, topic: &TopicFilter) -> Result<(String, u16), ReturnCode> {
        match topic {
            TopicFilter::Name(n) => {
                let name = n.as_str();
                if name.is_empty() {
                    return Err(ReturnCode::InvalidTopicId);
                }
                if name.contains(['+', '#']) {
                    return Ok((name.to_owned(), 0));
                }
                // A plain name: register it now so deliveries need no REGISTER round trip.
                let id = c
                    .topics
                    .register(name, self.config.max_topics_per_client)
                    .unwrap_or(0);
                Ok((name.to_owned(), id))
            }
            TopicFilter::Predefined(id) => self
                .naming
                .predefined(*id)
                .map(|n| (n.to_string(), *id))
                .ok_or(ReturnCode::InvalidTopicId),
            // The topic id is "not relevant" for short names (spec §5.4.16): 0, as for wildcards.
            TopicFilter::Short(raw) => short_name(*raw).map(|n| (n, 0)).ok_or(ReturnCode::InvalidTopicId),
        }
    }

    pub(super) fn on_subscribe(&mut self, now: Instant, peer: &SnPeer, c: &mut SnClient, s: Subscribe) {
        let qos = broker_qos(s.qos);
        let result = self.resolve_filter(c, &s.topic).and_then(|(filter, topic_id)| {
            let Some(session) = c.session.clone() else {
                return Err(ReturnCode::NotSupported);
            };
            let mounted = self.naming.mount(&filter);
            let req = SubscribeRequest {
                filter: &mounted,
                options: SubscriptionOptions {
                    qos,
                    ..SubscriptionOptions::default()
                },
                subscription_id: None,
            };
            match self
                .core
                .subscribe(&session, &c.identity, req, now, &mut self.fanout)
            {
                Ok(granted) => Ok((granted, topic_id)),
                Err(SubscribeError::Refused(ReasonCode::TopicFilterInvalid)) => {
                    Err(ReturnCode::InvalidTopicId)
                }
                Err(e) => {
                    tracing::info!(client_id = %c.client_id, filter, error = %e, "MQTT-SN subscribe refused");
                    Err(ReturnCode::NotSupported)
                }
            }
        });
        let ack = match result {
            Ok((granted, topic_id)) => SubAck {
                qos: sn_qos(granted),
                topic_id,
                msg_id: s.msg_id,
                return_code: ReturnCode::Accepted,
            },
            Err(rc) => SubAck {
                qos: SnQoS::AtMostOnce,
                topic_id: 0,
                msg_id: s.msg_id,
                return_code: rc,
            },
        };
        // SUBACK before the retained messages the subscription queued.
        self.send(peer, &SnMessage::SubAck(ack));
    }

    pub(super) fn on_unsubscribe(&mut self, peer: &SnPeer, c: &mut SnClient, u: Unsubscribe) {
        if let (Ok((filter, _)), Some(session)) = (self.resolve_filter(c, &u.topic), c.session.clone()) {
            let mounted = self.naming.mount(&filter);
            self.core.unsubscribe(&session, &mounted);
        }
        self.send(peer, &SnMessage::UnsubAck { msg_id: u.msg_id });
    }
}
