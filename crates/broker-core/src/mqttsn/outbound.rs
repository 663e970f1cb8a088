//! Gateway → client traffic: pulling deliveries from the session (into the sleeping buffer while the client
//! sleeps), choosing the topic id (registered, predefined, short, or REGISTER first), one outstanding QoS 1/2
//! message or REGISTER at a time, and Tretry/Nretry retransmission.

use super::SnPeer;
use super::client::{Awaiting, Outstanding, SnClient, SnClientState};
use super::{Leave, SnGateway, sn_qos};
use crate::session::Outbound;
use crate::stats::Stats;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tern_mqtt_codec::QoS;
use tern_mqttsn_codec::{Message as SnMessage, Publish, Register, Topic, Utf8Bytes};

impl SnGateway {
    /// Works through every client whose session was notified (or whose outstanding slot freed up).
    pub(super) fn drive_ready(&mut self, now: Instant) {
        let tokens: Vec<u64> = super::lock(&self.ready).drain().collect();
        for token in tokens {
            let Some(peer) = self.tokens.get(&token).cloned() else {
                continue;
            };
            let Some(mut c) = self.clients.remove(&peer) else {
                continue;
            };
            if self.drive(now, &peer, &mut c) {
                self.put_back(&peer, c);
            } else {
                self.leave(now, c, Leave::Lost);
            }
        }
        self.fanout.flush();
    }

    /// Sends what a client is owed: acks whose commit is done, then deliveries (or buffers them while it
    /// sleeps). False if its session was taken over (the caller treats it as lost).
    pub(super) fn drive(&mut self, now: Instant, peer: &SnPeer, c: &mut SnClient) -> bool {
        if c.session.as_ref().is_some_and(|s| !s.is_current()) {
            tracing::info!(client_id = %c.client_id, "MQTT-SN session taken over by another connection");
            self.send(peer, &SnMessage::Disconnect(Default::default()));
            c.session = None;
            return false;
        }
        while c
            .acks
            .front()
            .is_some_and(|a| a.ticket.as_ref().is_none_or(|t| t.is_done()))
        {
            if let Some(a) = c.acks.pop_front() {
                let ack = if a.ticket.is_some_and(|t| t.is_failed()) {
                    refuse_undurable(c, a.ack, a.topic_id)
                } else {
                    a.ack
                };
                self.send(peer, &ack);
            }
        }
        let Some(session) = c.session.clone() else {
            return true;
        };
        match c.state {
            SnClientState::Connecting => {}
            SnClientState::Asleep => {
                // Buffer, bounded: the oldest message goes when the buffer is full.
                let cap = self.config.sleep_buffer;
                session.pull(now, cap.max(1), &mut self.pulled);
                c.pending.extend(self.pulled.drain(..));
                while c.pending.len() > cap {
                    if let Some(Outbound::Publish {
                        packet_id: Some(id), ..
                    }) = c.pending.pop_front()
                    {
                        session.discard_inflight(id);
                    }
                    self.stats.dropped += 1;
                    Stats::add(&self.core.stats.dropped, 1);
                }
            }
            SnClientState::Active | SnClientState::Awake => {
                while c.outstanding.is_none() {
                    let Some(ob) = c.pending.pop_front() else {
                        session.pull(now, 1, &mut self.pulled);
                        if self.pulled.is_empty() {
                            break;
                        }
                        c.pending.extend(self.pulled.drain(..));
                        continue;
                    };
                    self.send_outbound(now, peer, c, ob);
                }
                if c.state == SnClientState::Awake && c.outstanding.is_none() && c.pending.is_empty() {
                    // Everything buffered was delivered: PINGRESP, and back to sleep.
                    self.send(peer, &SnMessage::PingResp);
                    c.state = SnClientState::Asleep;
                    c.last_received = now;
                }
            }
        }
        true
    }

    /// The topic to deliver `name` on without a REGISTER, if there is one.
    fn delivery_topic(&self, c: &SnClient, name: &str) -> Option<Topic> {
        if let Some(id) = c.topics.id_of(name) {
            return Some(Topic::Id(id));
        }
        if let Some(id) = self.naming.predefined_id(name) {
            return Some(Topic::Predefined(id));
        }
        match name.as_bytes() {
            &[a, b] => Some(Topic::Short([a, b])),
            _ => None,
        }
    }

    /// Sends one delivery (or the REGISTER it needs first).
    fn send_outbound(&mut self, now: Instant, peer: &SnPeer, c: &mut SnClient, ob: Outbound) {
        let deadline = now + self.config.retry_interval;
        let (packet_id, dup, delivery) = match &ob {
            Outbound::PubRel(id) => {
                let rel = SnMessage::PubRel { msg_id: id.get() };
                self.send(peer, &rel);
                c.outstanding = Some(Outstanding {
                    message: rel,
                    awaiting: Awaiting::PubComp(id.get()),
                    delivery: None,
                    deadline,
                    retries: 0,
                });
                return;
            }
            Outbound::Publish {
                packet_id,
                dup,
                delivery,
            } => (*packet_id, *dup, delivery),
        };
        let name = self.naming.unmount(&delivery.msg.topic).to_owned();
        let Some(topic) = self.delivery_topic(c, &name) else {
            let Some(topic_id) = c.topics.next_free(self.config.max_topics_per_client) else {
                tracing::warn!(client_id = %c.client_id, topic = %name, "no topic id left, message dropped");
                self.drop_delivery(c, packet_id);
                return;
            };
            let msg_id = c.next_msg_id();
            let reg = SnMessage::Register(Register {
                topic_id,
                msg_id,
                topic_name: Utf8Bytes::from(name),
            });
            self.send(peer, &reg);
            c.outstanding = Some(Outstanding {
                message: reg,
                awaiting: Awaiting::RegAck { msg_id, topic_id },
                delivery: Some(ob),
                deadline,
                retries: 0,
            });
            return;
        };
        let msg_id = packet_id.map_or(0, |p| p.get());
        let publish = SnMessage::Publish(Publish {
            dup,
            qos: sn_qos(delivery.qos),
            retain: delivery.retain,
            topic,
            msg_id,
            payload: delivery.msg.payload.clone(),
        });
        let qos = delivery.qos;
        if !self.send(peer, &publish) {
            self.drop_delivery(c, packet_id);
            return;
        }
        Stats::add(&self.core.stats.messages_out, 1);
        let awaiting = match qos {
            QoS::AtMostOnce => return,
            QoS::AtLeastOnce => Awaiting::PubAck(msg_id),
            QoS::ExactlyOnce => Awaiting::PubRec(msg_id),
        };
        c.outstanding = Some(Outstanding {
            message: publish,
            awaiting,
            delivery: Some(ob),
            deadline,
            retries: 0,
        });
    }

    fn drop_delivery(&mut self, c: &SnClient, packet_id: Option<tern_mqtt_codec::PacketId>) {
        self.stats.dropped += 1;
        Stats::add(&self.core.stats.dropped, 1);
        if let (Some(id), Some(s)) = (packet_id, &c.session) {
            s.discard_inflight(id);
        }
    }

    /// Sends the outstanding message again (DUP set on a PUBLISH) and restarts its timer.
    pub(super) fn resend_outstanding(&mut self, now: Instant, peer: &SnPeer, c: &mut SnClient) {
        let Some(o) = &mut c.outstanding else { return };
        if let SnMessage::Publish(p) = &mut o.message {
            p.dup = true;
        }
        o.deadline = now + self.config.retry_interval;
        let msg = o.message.clone();
        self.send(peer, &msg);
    }

    /// Tretry/Nretry: retransmits a due outstanding message, or declares the client lost after Nretry
    /// attempts. False if the client is gone.
    pub(super) fn retransmit_due(&mut self, now: Instant, peer: &SnPeer, c: &mut SnClient) -> bool {
        if !matches!(c.state, SnClientState::Active | SnClientState::Awake) {
            return true;
        }
        let Some(o) = &mut c.outstanding else { return true };
        if o.deadline > now {
            return true;
        }
        // A PUBREL still waiting for its commit has not been sent yet: nothing to retransmit.
        if c.acks
            .iter()
            .any(|a| matches!(a.ack, SnMessage::PubRel { msg_id } if o.awaiting == Awaiting::PubComp(msg_id)))
        {
            o.deadline = now + self.config.retry_interval;
            return true;
        }
        if o.retries >= self.config.max_retries {
            tracing::info!(client_id = %c.client_id, %peer, "no acknowledgement after Nretry retransmissions: client lost");
            let taken = std::mem::replace(c, SnClient::new(0, Arc::from(""), now, Duration::ZERO));
            self.leave(now, Box::new(taken), Leave::Lost);
            return false;
        }
        o.retries += 1;
        self.stats.retransmissions += 1;
        self.resend_outstanding(now, peer, c);
        true
    }
}

/// An ack whose commit failed (the store is full): PUBACK/PUBREC become PUBACK "rejected: congestion"
/// (MQTT-SN 1.2 §6.5: a PUBLISH of any QoS may be refused with a PUBACK) and the inbound QoS 2 id is
/// forgotten, so the client may publish again later. PUBREL/PUBCOMP go out unchanged: their state change
/// was best effort.
fn refuse_undurable(c: &SnClient, ack: SnMessage, topic_id: u16) -> SnMessage {
    let msg_id = match ack {
        SnMessage::PubAck(a) => a.msg_id,
        SnMessage::PubRec { msg_id } => {
            if let (Some(s), Some(id)) = (&c.session, std::num::NonZeroU16::new(msg_id)) {
                s.qos2_released(id);
            }
            msg_id
        }
        other => return other,
    };
    tracing::warn!(client_id = %c.client_id, msg_id, "MQTT-SN publish refused: the store could not make it durable");
    SnMessage::PubAck(tern_mqttsn_codec::PubAck {
        topic_id,
        msg_id,
        return_code: tern_mqttsn_codec::ReturnCode::Congestion,
    })
}
