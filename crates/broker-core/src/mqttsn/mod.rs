//! [`SnGateway`]: the MQTT-SN 1.2 gateway as an I/O-free state machine. Datagrams in through
//! [`SnGateway::handle_datagram`], datagrams out through [`SnGateway::poll_transmit`], time through
//! [`SnGateway::poll_timeout`] / [`SnGateway::handle_timeout`]. Every client is keyed by its [`SnPeer`] (its UDP address, or a forwarder's
//! address and the wireless node id of an Encapsulated Message) and attaches to an ordinary broker session, so a sensor and an MQTT client see each other's messages.
//!
//! The gateway owns what is MQTT-SN specific: the client state machine (active, asleep, awake; lost and
//! disconnected clients are forgotten), topic ids (registered, predefined, short), the will handshake and
//! its updates, the sleeping buffer, and Tretry/Nretry retransmission with one outstanding message per
//! client. Sessions, routing, retained messages and QoS bookkeeping stay in the [`BrokerCore`]. The will is
//! kept here rather than in the session, so WILLTOPICUPD/WILLMSGUPD can change it, and published by the
//! gateway when a client is lost.

mod client;
mod config;
mod inbound;
mod lifecycle;
mod outbound;
mod peer;
mod topics;

pub use client::SnClientState;
pub use config::SnConfig;
pub use peer::{FORWARD_RADIUS, MAX_NODE_ID_LEN, SnPeer};

use crate::core::{BrokerCore, DetachKind, Fanout};
use crate::limits::TokenBucket;
use crate::message::Message;
use crate::policy::Identity;
use crate::session::{Notifier, Outbound, lock};
use crate::stats::Stats;
use bytes::{Bytes, BytesMut};
use client::SnClient;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

/// The hasher of the gateway's per-datagram lookups (clients by address, tokens, forwarders): SipHash was
/// 12% of the gateway's instructions; foldhash is several times cheaper and still seeded per process, so
/// spoofed source addresses cannot be chosen to collide.
pub(crate) type FastHash = foldhash::fast::RandomState;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tern_mqtt_codec::{ByteStr, PublishProperties, QoS};
use tern_mqttsn_codec::{Advertise, Encapsulated, GwInfo, Message as SnMessage, QoS as SnQoS};
use topics::Naming;

/// Counters of one gateway, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SnStats {
    /// Clients tracked now (connecting, active, asleep, awake).
    pub clients: u64,
    /// Datagrams received.
    pub datagrams_in: u64,
    /// Datagrams sent (handed to `poll_transmit`).
    pub datagrams_out: u64,
    /// Datagrams that did not decode (dropped, the sender unaffected).
    pub malformed: u64,
    /// Datagrams from unknown addresses that need a connection (answered with DISCONNECT).
    pub unknown_peer: u64,
    /// Datagrams dropped because the transmit queue was full.
    pub transmit_dropped: u64,
    /// Messages dropped from full sleeping buffers or because a topic id could not be assigned.
    pub dropped: u64,
    /// Retransmissions after Tretry.
    pub retransmissions: u64,
    /// Clients declared lost (keep alive, sleep duration or Nretry exceeded).
    pub lost: u64,
    /// CONNECTs refused with "rejected: congestion" for exceeding `connect_rate`.
    pub refused_rate: u64,
}

/// The MQTT-SN gateway of one UDP listener. Owned by one task, no lock around it.
pub struct SnGateway {
    core: Arc<BrokerCore>,
    config: SnConfig,
    naming: Naming,
    /// Who sensors are to the policy: anonymous, with the role `mqttsn`.
    identity: Identity,
    /// Boxed: a datagram takes its client out and puts it back, which moved the whole client twice.
    clients: HashMap<SnPeer, Box<SnClient>, FastHash>,
    /// Client token → its current address.
    tokens: HashMap<u64, SnPeer, FastHash>,
    /// Forwarder address → clients tracked behind it (bounded by `max_nodes_per_forwarder`).
    forwarders: HashMap<SocketAddr, usize, FastHash>,
    next_token: u64,
    /// Tokens of clients whose session has new work; filled by their notifiers from any thread.
    ready: Arc<Mutex<HashSet<u64>>>,
    /// Wakes the shell when `ready` gains an entry.
    waker: Notifier,
    /// (due, token) per client; stale entries are skipped when they fire.
    timers: BTreeSet<(Instant, u64)>,
    out: VecDeque<(SocketAddr, Bytes)>,
    next_advertise: Option<Instant>,
    fanout: Fanout,
    pulled: Vec<Outbound>,
    stats: SnStats,
    /// `connect_rate`'s bucket.
    connect_bucket: Option<TokenBucket>,
    shut_down: bool,
}

impl std::fmt::Debug for SnGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnGateway")
            .field("clients", &self.clients.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl SnGateway {
    /// A gateway on `core`; `waker` is called (from any thread) when sessions have deliveries, so the
    /// shell calls [`SnGateway::poll_transmit`] again.
    pub fn new(core: Arc<BrokerCore>, config: SnConfig, waker: Notifier, now: Instant) -> SnGateway {
        let next_advertise = match (config.advertise_interval, config.advertise_address) {
            (Some(i), Some(_)) if !i.is_zero() => Some(now),
            _ => None,
        };
        let connect_bucket = config
            .connect_rate
            .map(|r| TokenBucket::new(u64::from(r), u64::from(r)));
        SnGateway {
            naming: Naming::new(&config),
            identity: Identity {
                roles: vec![Arc::from("mqttsn")],
                ..Identity::default()
            },
            core,
            config,
            clients: HashMap::default(),
            tokens: HashMap::default(),
            forwarders: HashMap::default(),
            next_token: 1,
            ready: Arc::new(Mutex::new(HashSet::new())),
            waker,
            timers: BTreeSet::new(),
            out: VecDeque::new(),
            next_advertise,
            fanout: Fanout::default(),
            pulled: Vec::new(),
            stats: SnStats::default(),
            connect_bucket,
            shut_down: false,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &SnConfig {
        &self.config
    }

    /// Counters.
    pub fn stats(&self) -> SnStats {
        SnStats {
            clients: self.clients.len() as u64,
            ..self.stats
        }
    }

    /// The state of the client at `peer` (a UDP address, or an [`SnPeer`] for a client behind a forwarder);
    /// `None` if unknown (never connected, disconnected or lost).
    pub fn client_state(&self, peer: impl Into<SnPeer>) -> Option<SnClientState> {
        self.clients.get(&peer.into()).map(|c| c.state)
    }

    /// True if datagrams from `addr` belong to a tracked client: one using that address itself, or one
    /// behind a forwarder there (the shell rate-limits unknown addresses harder).
    pub fn is_known(&self, addr: SocketAddr) -> bool {
        self.clients_at(addr) > 0
    }

    /// Tracked clients whose datagrams come from `addr`: the client at that address, plus every client
    /// behind a forwarder there (the shell gives a forwarder a datagram budget for each).
    pub fn clients_at(&self, addr: SocketAddr) -> usize {
        let direct = usize::from(self.clients.contains_key(&SnPeer::Direct(addr)));
        direct + self.forwarders.get(&addr).copied().unwrap_or(0)
    }

    /// Handles one datagram from `peer`. Malformed input is dropped and counted; it never affects other
    /// clients, nor the sender's state.
    pub fn handle_datagram(&mut self, now: Instant, peer: SocketAddr, datagram: Bytes) {
        self.stats.datagrams_in += 1;
        Stats::add(&self.core.stats.bytes_in, datagram.len() as u64);
        let msg = match SnMessage::decode(&datagram) {
            Ok(m) => m,
            Err(e) => {
                self.stats.malformed += 1;
                Stats::add(&self.core.stats.violations, 1);
                tracing::debug!(%peer, error = %e, "malformed MQTT-SN datagram dropped");
                return;
            }
        };
        if self.shut_down {
            return;
        }
        let (peer, msg) = match msg {
            // [MQTT-SN 1.2 §5.5] a forwarder's envelope: the inner message is the node's own. The codec
            // refuses nested envelopes; the radius only matters gateway → forwarder.
            SnMessage::Encapsulated(e) => {
                if e.wireless_node_id.len() > MAX_NODE_ID_LEN {
                    self.stats.malformed += 1;
                    Stats::add(&self.core.stats.violations, 1);
                    tracing::debug!(%peer, len = e.wireless_node_id.len(), "wireless node id too long, dropped");
                    return;
                }
                (SnPeer::forwarded(peer, e.wireless_node_id), *e.message)
            }
            m => (SnPeer::Direct(peer), m),
        };
        tracing::trace!(%peer, msg_type = ?msg.msg_type(), "received");
        self.dispatch(now, &peer, msg);
        self.fanout.flush();
    }

    /// The next datagram to send: control answers first, then deliveries from the sessions that were
    /// notified. Call until `None` after every input and whenever the waker fired.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<(SocketAddr, Bytes)> {
        if !self.shut_down && self.core.is_shutting_down() {
            self.shutdown(now);
        }
        if self.out.is_empty() {
            self.drive_ready(now);
        }
        let next = self.out.pop_front();
        if let Some((_, d)) = &next {
            self.stats.datagrams_out += 1;
            Stats::add(&self.core.stats.bytes_out, d.len() as u64);
        }
        next
    }

    /// When [`SnGateway::handle_timeout`] next has work: a keep alive or sleep deadline, a retransmission,
    /// a CONNECT deadline, the next ADVERTISE.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let timer = self.timers.first().map(|(at, _)| *at);
        [timer, self.next_advertise].into_iter().flatten().min()
    }

    /// Does the clock work due at `now`: ADVERTISE, retransmissions (Tretry), lost clients (keep alive,
    /// sleep duration, Nretry; their wills are published), abandoned CONNECTs.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let (Some(at), Some(interval), Some(addr)) = (
            self.next_advertise,
            self.config.advertise_interval,
            self.config.advertise_address,
        ) && at <= now
        {
            let duration = u16::try_from(interval.as_secs()).unwrap_or(u16::MAX);
            let adv = SnMessage::Advertise(Advertise {
                gw_id: self.config.gateway_id,
                duration,
            });
            self.send(&SnPeer::Direct(addr), &adv);
            self.next_advertise = Some(now + interval);
        }
        while let Some(&(at, token)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            let Some(peer) = self.tokens.get(&token).cloned() else {
                continue;
            };
            let Some(mut c) = self.clients.remove(&peer) else {
                continue;
            };
            if c.armed == Some(at) {
                c.armed = None;
            }
            if self.client_timeout(now, &peer, &mut c) {
                self.put_back(&peer, c);
            }
        }
        self.fanout.flush();
    }

    /// Says goodbye to every client (DISCONNECT) and detaches their sessions normally; later input is
    /// ignored. Called by `poll_transmit` when the broker shuts down, or by the shell.
    pub fn shutdown(&mut self, now: Instant) {
        if self.shut_down {
            return;
        }
        self.shut_down = true;
        let peers: Vec<SnPeer> = self.clients.keys().cloned().collect();
        for peer in peers {
            if let Some(c) = self.clients.remove(&peer) {
                self.send(&peer, &SnMessage::Disconnect(Default::default()));
                self.leave(now, c, Leave::Disconnected);
            }
        }
        self.next_advertise = None;
        self.fanout.flush();
    }

    /// Encodes `msg` for `peer` onto the transmit queue (dropped and counted when the queue is full); for a
    /// client behind a forwarder, inside an Encapsulated Message with its node id, to the forwarder.
    fn send(&mut self, peer: &SnPeer, msg: &SnMessage) -> bool {
        if self.out.len() >= self.config.max_transmit_queue {
            self.stats.transmit_dropped += 1;
            return false;
        }
        let wrapped;
        let wire = match peer {
            SnPeer::Direct(_) => msg,
            SnPeer::Forwarded { node_id, .. } => {
                wrapped = SnMessage::Encapsulated(Encapsulated {
                    radius: FORWARD_RADIUS,
                    wireless_node_id: node_id.clone(),
                    message: Box::new(msg.clone()),
                });
                &wrapped
            }
        };
        let mut buf = BytesMut::with_capacity(wire.encoded_len());
        match wire.encode(&mut buf) {
            Ok(()) => {
                tracing::trace!(%peer, msg_type = ?msg.msg_type(), "sending");
                self.out.push_back((peer.addr(), buf.freeze()));
                true
            }
            Err(e) => {
                tracing::warn!(%peer, error = %e, "MQTT-SN message not encodable, skipped");
                false
            }
        }
    }

    /// Answers SEARCHGW.
    fn send_gwinfo(&mut self, peer: &SnPeer) {
        let info = SnMessage::GwInfo(GwInfo {
            gw_id: self.config.gateway_id,
            gw_add: None,
        });
        self.send(peer, &info);
    }

    /// A notifier that marks the client `token` ready and wakes the shell.
    fn notifier(&self, token: u64) -> Notifier {
        let ready = self.ready.clone();
        let waker = self.waker.clone();
        Arc::new(move || {
            lock(&ready).insert(token);
            waker();
        })
    }

    /// Marks a client ready without waiting for a notifier (an ack freed its outstanding slot).
    fn mark_ready(&mut self, token: u64) {
        lock(&self.ready).insert(token);
    }

    /// Re-inserts a client taken out of the table and arms its earliest timer.
    fn put_back(&mut self, peer: &SnPeer, mut c: Box<SnClient>) {
        if let Some(d) = c.next_deadline()
            && c.armed.is_none_or(|a| d < a)
        {
            self.timers.insert((d, c.token));
            c.armed = Some(d);
        }
        self.clients.insert(peer.clone(), c);
    }

    /// Records that client `token` is now reached at `peer` (counted behind its forwarder, if any).
    fn bind_token(&mut self, token: u64, peer: &SnPeer) {
        self.unbind_token(token);
        if let Some(f) = peer.forwarder() {
            *self.forwarders.entry(f).or_insert(0) += 1;
        }
        self.tokens.insert(token, peer.clone());
    }

    /// Forgets client `token`'s address.
    fn unbind_token(&mut self, token: u64) {
        if let Some(f) = self.tokens.remove(&token).and_then(|p| p.forwarder())
            && let Some(n) = self.forwarders.get_mut(&f)
        {
            *n -= 1;
            if *n == 0 {
                self.forwarders.remove(&f);
            }
        }
    }

    /// False if `peer` is behind a forwarder that already carries `max_nodes_per_forwarder` clients.
    fn forwarder_has_room(&self, peer: &SnPeer) -> bool {
        peer.forwarder().is_none_or(|f| {
            self.forwarders.get(&f).copied().unwrap_or(0) < self.config.max_nodes_per_forwarder
        })
    }

    /// Forgets a client: its session is detached (ended if clean), its will published if it was lost.
    fn leave(&mut self, now: Instant, c: Box<SnClient>, how: Leave) {
        self.unbind_token(c.token);
        lock(&self.ready).remove(&c.token);
        if c.counted {
            Stats::sub(&self.core.stats.connections, 1);
        }
        let kind = match how {
            Leave::Disconnected => DetachKind::Normal,
            Leave::Lost => DetachKind::Abnormal,
        };
        if let Some(s) = &c.session {
            self.core.detach(s, kind, now);
        }
        tracing::info!(client_id = %c.client_id, ?how, "MQTT-SN client gone");
        if how == Leave::Lost {
            self.stats.lost += 1;
            if let Some(topic) = &c.will.topic {
                Stats::add(&self.core.stats.wills, 1);
                let msg = Message {
                    topic: ByteStr::from(self.naming.mount(topic)),
                    payload: c.will.payload.clone(),
                    qos: broker_qos(c.will.qos),
                    retain: c.will.retain,
                    properties: PublishProperties::default(),
                    expires_at: None,
                    publisher: None,
                };
                tracing::info!(client_id = %c.client_id, topic = %msg.topic, "publishing MQTT-SN will");
                let _ = self.core.publish(Arc::new(msg), now, false, &mut self.fanout);
            }
        }
    }
}

/// How a client leaves the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leave {
    /// DISCONNECT (or shutdown): no will.
    Disconnected,
    /// Keep alive, sleep duration or Nretry exceeded, or session taken over: the will is published.
    Lost,
}

/// MQTT-SN QoS → broker QoS (QoS -1 is QoS 0 once accepted).
fn broker_qos(q: SnQoS) -> QoS {
    match q {
        SnQoS::AtMostOnce | SnQoS::MinusOne => QoS::AtMostOnce,
        SnQoS::AtLeastOnce => QoS::AtLeastOnce,
        SnQoS::ExactlyOnce => QoS::ExactlyOnce,
    }
}

/// Broker QoS → MQTT-SN QoS.
fn sn_qos(q: QoS) -> SnQoS {
    match q {
        QoS::AtMostOnce => SnQoS::AtMostOnce,
        QoS::AtLeastOnce => SnQoS::AtLeastOnce,
        QoS::ExactlyOnce => SnQoS::ExactlyOnce,
    }
}
