//! A client's life at the gateway: dispatch by peer, CONNECT with and without the will handshake, the will
//! updates, DISCONNECT (leaving or going to sleep), PINGREQ (keep alive or waking), and the timers that
//! declare a client lost.

use super::SnPeer;
use super::client::{PendingConnect, SnClient, SnClientState, SnWill, WillStep};
use super::topics::valid_topic_name;
use super::{Leave, SnGateway};
use crate::core::AttachRequest;
use crate::stats::Stats;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tern_mqttsn_codec::{
    Connect, Disconnect, Message as SnMessage, PingReq, Publish, QoS as SnQoS, ReturnCode, Topic,
};

impl SnGateway {
    /// Routes a decoded message to its handler by sender and type.
    pub(super) fn dispatch(&mut self, now: Instant, peer: &SnPeer, msg: SnMessage) {
        match msg {
            SnMessage::SearchGw(_) => return self.send_gwinfo(peer),
            SnMessage::Advertise(_) | SnMessage::GwInfo(_) => return,
            SnMessage::Connect(c) => return self.on_connect(now, peer, c),
            SnMessage::PingReq(p) if !self.clients.contains_key(peer) => {
                return self.on_wake_elsewhere(now, peer, p);
            }
            SnMessage::Publish(p) if p.qos == SnQoS::MinusOne => {
                return self.on_publish_minus_one(now, peer, p);
            }
            // Unwrapped by `handle_datagram`; the codec refuses an envelope inside another.
            SnMessage::Encapsulated(_) => return,
            _ => {}
        }
        let Some(mut c) = self.clients.remove(peer) else {
            // [MQTT-SN 1.2 §6.14] a message that needs a connection from an unknown address: tell it to
            // connect again.
            self.stats.unknown_peer += 1;
            tracing::debug!(%peer, msg_type = ?msg.msg_type(), "message from unknown client, answering DISCONNECT");
            self.send(peer, &SnMessage::Disconnect(Disconnect::default()));
            return;
        };
        c.last_received = now;
        if self.handle_client_message(now, peer, &mut c, msg) {
            self.put_back(peer, c);
        }
    }

    /// Handles a message from a tracked client; false if the client left.
    fn handle_client_message(
        &mut self,
        now: Instant,
        peer: &SnPeer,
        c: &mut SnClient,
        msg: SnMessage,
    ) -> bool {
        if c.state == SnClientState::Connecting {
            return match msg {
                SnMessage::WillTopic(t) => self.on_will_topic(now, peer, c, t),
                SnMessage::WillMsg(m) => self.on_will_msg(now, peer, c, m.message),
                SnMessage::Disconnect(_) => {
                    self.send(peer, &SnMessage::Disconnect(Disconnect::default()));
                    false
                }
                other => {
                    tracing::debug!(%peer, msg_type = ?other.msg_type(), "ignored during the will handshake");
                    true
                }
            };
        }
        match msg {
            SnMessage::Publish(p) => self.on_publish(now, peer, c, p),
            SnMessage::PubAck(a) => self.on_puback(c, a),
            SnMessage::PubRec { msg_id } => self.on_pubrec(now, peer, c, msg_id),
            SnMessage::PubRel { msg_id } => self.on_pubrel(peer, c, msg_id),
            SnMessage::PubComp { msg_id } => self.on_pubcomp(c, msg_id),
            SnMessage::Register(r) => self.on_register(peer, c, r),
            SnMessage::RegAck(a) => self.on_regack(c, a),
            SnMessage::Subscribe(s) => self.on_subscribe(now, peer, c, s),
            SnMessage::Unsubscribe(u) => self.on_unsubscribe(peer, c, u),
            SnMessage::PingReq(p) => self.on_pingreq(now, peer, c, p),
            SnMessage::Disconnect(d) => return self.on_disconnect(now, peer, c, d),
            SnMessage::WillTopicUpd(t) => {
                let rc = match t {
                    None => {
                        c.will = SnWill::default();
                        ReturnCode::Accepted
                    }
                    Some(t) if valid_topic_name(t.topic.as_str()) => {
                        c.will.topic = Some(Arc::from(t.topic.as_str()));
                        c.will.qos = t.qos;
                        c.will.retain = t.retain;
                        ReturnCode::Accepted
                    }
                    Some(_) => ReturnCode::NotSupported,
                };
                self.send(peer, &SnMessage::WillTopicResp { return_code: rc });
            }
            SnMessage::WillMsgUpd(m) => {
                c.will.payload = m.message;
                let resp = SnMessage::WillMsgResp {
                    return_code: ReturnCode::Accepted,
                };
                self.send(peer, &resp);
            }
            SnMessage::WillTopic(_) | SnMessage::WillMsg(_) => {
                tracing::debug!(%peer, "will message outside the will handshake, ignored");
            }
            other => {
                // Gateway-to-client types sent to us: a confused peer; drop without affecting anyone.
                Stats::add(&self.core.stats.violations, 1);
                tracing::debug!(%peer, msg_type = ?other.msg_type(), "unexpected message type, ignored");
            }
        }
        true
    }

    fn connack(&mut self, peer: &SnPeer, rc: ReturnCode) {
        self.send(peer, &SnMessage::ConnAck { return_code: rc });
    }

    fn on_connect(&mut self, now: Instant, peer: &SnPeer, connect: Connect) {
        if let Some(bucket) = &mut self.connect_bucket
            && !bucket.try_take(now, 1)
        {
            self.stats.refused_rate += 1;
            self.core.note_connection_rate_refused();
            tracing::debug!(%peer, "CONNECT refused: over the listener's connection_rate");
            return self.connack(peer, ReturnCode::Congestion);
        }
        let id = connect.client_id.as_str();
        if id.is_empty() || id.len() > self.config.max_client_id_len {
            tracing::info!(%peer, "CONNECT refused: client id empty or too long");
            return self.connack(peer, ReturnCode::NotSupported);
        }
        let full_id = format!("{}{}", self.config.client_id_prefix, id);
        let identity = match self.core.hooks.policy.authenticate_sn(&full_id, peer.addr()) {
            Ok(i) => i,
            Err(code) => {
                tracing::info!(%peer, client_id = id, reason = %code, "CONNECT refused by policy");
                return self.connack(peer, ReturnCode::NotSupported);
            }
        };
        let existing = self.clients.remove(peer);
        let full = self.clients.len() >= self.config.max_clients
            || Stats::get(&self.core.stats.connections) >= self.core.config.max_connections as u64;
        if self.core.is_shutting_down() || (existing.is_none() && full) {
            tracing::warn!(%peer, "CONNECT refused: gateway at capacity");
            return self.connack(peer, ReturnCode::Congestion);
        }
        if existing.is_none() && !self.forwarder_has_room(peer) {
            tracing::warn!(%peer, "CONNECT refused: forwarder carries max_nodes_per_forwarder clients");
            return self.connack(peer, ReturnCode::Congestion);
        }
        let mut c = match existing {
            // The same client reconnecting (e.g. waking from sleep with CONNECT): keep its topic ids and
            // its buffered QoS 0 messages; QoS 1/2 ones are resent by the resumed session.
            Some(mut old) if *old.client_id == *id && !connect.clean_session => {
                if let Some(o) = old.outstanding.take() {
                    old.pending.extend(o.delivery);
                }
                old.pending
                    .retain(|o| matches!(o, crate::session::Outbound::Publish { packet_id: None, .. }));
                old.acks.clear();
                old.connect_deadline = now + self.config.connect_timeout;
                old
            }
            other => {
                if let Some(old) = other {
                    self.leave(now, old, Leave::Disconnected);
                }
                let token = self.next_token;
                self.next_token += 1;
                self.bind_token(token, peer);
                Box::new(SnClient::new(
                    token,
                    Arc::from(id),
                    now,
                    self.config.connect_timeout,
                ))
            }
        };
        c.state = SnClientState::Connecting;
        c.identity = identity;
        c.last_received = now;
        c.will = SnWill::default();
        let pending = PendingConnect {
            step: WillStep::Topic,
            clean_session: connect.clean_session,
            duration: connect.duration,
        };
        if connect.will {
            c.connect = Some(pending);
            self.send(peer, &SnMessage::WillTopicReq);
        } else {
            self.complete_connect(now, peer, &mut c, &pending);
        }
        self.put_back(peer, c);
    }

    fn on_will_topic(
        &mut self,
        now: Instant,
        peer: &SnPeer,
        c: &mut SnClient,
        topic: Option<tern_mqttsn_codec::WillTopic>,
    ) -> bool {
        let Some(pending) = c.connect.clone() else {
            return true;
        };
        if pending.step != WillStep::Topic {
            return true;
        }
        match topic {
            // An empty WILLTOPIC: no will after all.
            None => {
                c.connect = None;
                self.complete_connect(now, peer, c, &pending);
            }
            Some(t) if valid_topic_name(t.topic.as_str()) => {
                c.will.topic = Some(Arc::from(t.topic.as_str()));
                c.will.qos = t.qos;
                c.will.retain = t.retain;
                c.connect = Some(PendingConnect {
                    step: WillStep::Message,
                    ..pending
                });
                self.send(peer, &SnMessage::WillMsgReq);
            }
            Some(_) => {
                tracing::info!(%peer, "CONNECT refused: invalid will topic");
                self.connack(peer, ReturnCode::NotSupported);
                return false;
            }
        }
        true
    }

    fn on_will_msg(&mut self, now: Instant, peer: &SnPeer, c: &mut SnClient, payload: bytes::Bytes) -> bool {
        let Some(pending) = c.connect.clone() else {
            return true;
        };
        if pending.step != WillStep::Message {
            return true;
        }
        c.will.payload = payload;
        c.connect = None;
        self.complete_connect(now, peer, c, &pending);
        true
    }

    /// Attaches the client to its broker session and answers CONNACK.
    fn complete_connect(&mut self, now: Instant, peer: &SnPeer, c: &mut SnClient, p: &PendingConnect) {
        let client_id: Arc<str> = Arc::from(format!("{}{}", self.config.client_id_prefix, c.client_id));
        let expiry_interval = if p.clean_session {
            0
        } else {
            self.core.config.max_session_expiry
        };
        let attached = self.core.attach(
            AttachRequest {
                client_id,
                clean_start: p.clean_session,
                expiry_interval,
                will: None,
                notifier: self.notifier(c.token),
            },
            now,
        );
        if p.clean_session || !attached.session_present {
            c.topics = Default::default();
            c.pending.clear();
            c.outstanding = None;
        }
        c.session = Some(attached.handle);
        c.state = SnClientState::Active;
        let max = self.core.config.max_keepalive;
        let ka = if max > 0 && (p.duration == 0 || p.duration > max) {
            max
        } else {
            p.duration
        };
        c.keep_alive = (ka > 0).then(|| Duration::from_secs(u64::from(ka)));
        if !c.counted {
            c.counted = true;
            Stats::add(&self.core.stats.connections, 1);
            Stats::add(&self.core.stats.connections_total, 1);
        }
        tracing::info!(client_id = %c.client_id, %peer, clean = p.clean_session, keep_alive = ka,
            session_present = attached.session_present, "MQTT-SN client connected");
        self.connack(peer, ReturnCode::Accepted);
        self.mark_ready(c.token);
    }

    fn on_disconnect(&mut self, now: Instant, peer: &SnPeer, c: &mut SnClient, d: Disconnect) -> bool {
        self.send(peer, &SnMessage::Disconnect(Disconnect::default()));
        match d.duration {
            Some(secs) if secs > 0 => {
                tracing::debug!(client_id = %c.client_id, secs, "client asleep");
                c.state = SnClientState::Asleep;
                c.sleep = Duration::from_secs(u64::from(secs));
                self.mark_ready(c.token);
                true
            }
            _ => {
                let taken = std::mem::replace(c, SnClient::new(0, Arc::from(""), now, Duration::ZERO));
                self.leave(now, Box::new(taken), Leave::Disconnected);
                false
            }
        }
    }

    fn on_pingreq(&mut self, now: Instant, peer: &SnPeer, c: &mut SnClient, p: PingReq) {
        let asleep = matches!(c.state, SnClientState::Asleep | SnClientState::Awake);
        if asleep && p.client_id.is_some() {
            tracing::debug!(client_id = %c.client_id, "client awake");
            c.state = SnClientState::Awake;
            // What was outstanding when it fell asleep goes again first.
            self.resend_outstanding(now, peer, c);
            self.drive(now, peer, c);
        } else {
            self.send(peer, &SnMessage::PingResp);
        }
    }

    /// PINGREQ with a client id from an address we do not know: a sleeping client woke up elsewhere.
    fn on_wake_elsewhere(&mut self, now: Instant, peer: &SnPeer, p: PingReq) {
        let old = p.client_id.as_ref().and_then(|id| {
            self.clients
                .iter()
                .find(|(_, c)| c.state == SnClientState::Asleep && *c.client_id == *id.as_str())
                .map(|(addr, _)| addr.clone())
        });
        // A node moving behind a forwarder that is full is refused like an unknown one.
        let old = old.filter(|_| self.forwarder_has_room(peer));
        let Some(mut c) = old.and_then(|addr| self.clients.remove(&addr)) else {
            self.stats.unknown_peer += 1;
            self.send(peer, &SnMessage::Disconnect(Disconnect::default()));
            return;
        };
        self.bind_token(c.token, peer);
        c.last_received = now;
        self.on_pingreq(now, peer, &mut c, p);
        self.put_back(peer, c);
    }

    /// QoS -1: a PUBLISH without a connection, to a predefined or short topic.
    fn on_publish_minus_one(&mut self, now: Instant, peer: &SnPeer, p: Publish) {
        let name = match p.topic {
            Topic::Predefined(id) => self.naming.predefined(id).map(|s| s.to_string()),
            Topic::Short(raw) => super::topics::short_name(raw),
            Topic::Id(_) => None,
        };
        let Some(name) = name.filter(|n| valid_topic_name(n)) else {
            tracing::debug!(%peer, topic = ?p.topic, "QoS -1 publish to an unusable topic id, dropped");
            return;
        };
        // QoS -1 publishers are anonymous (the gateway's own identity), even from a connected address.
        let _ = self.route_publish(now, &name, p.payload, SnQoS::AtMostOnce, p.retain, None, None);
    }

    /// Timer work for one client; false if it is gone.
    pub(super) fn client_timeout(&mut self, now: Instant, peer: &SnPeer, c: &mut SnClient) -> bool {
        if c.silence_deadline().is_some_and(|at| at <= now) {
            let taken = std::mem::replace(c, SnClient::new(0, Arc::from(""), now, Duration::ZERO));
            if taken.state == SnClientState::Connecting && taken.session.is_none() {
                tracing::info!(%peer, "CONNECT not completed in time, forgotten");
                self.unbind_token(taken.token);
                return false;
            }
            tracing::info!(client_id = %taken.client_id, %peer, state = ?taken.state,
                "MQTT-SN client lost (no message within its keep alive or sleep duration)");
            self.leave(now, Box::new(taken), Leave::Lost);
            return false;
        }
        self.retransmit_due(now, peer, c)
    }
}
