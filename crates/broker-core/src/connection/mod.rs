//! [`MqttConnection`]: one client's MQTT 3.1/3.1.1/5.0 state machine. Bytes in through
//! [`MqttConnection::handle_read`], bytes out through [`MqttConnection::poll_transmit`], time through
//! `poll_timeout`/`handle_timeout`. Owned by one task, no lock around it; everything shared goes through the
//! [`BrokerCore`].

mod auth;
mod connect;
mod limits;
mod outbound;
mod publish;
mod subscribe;
mod violation;

pub use violation::Violation;

use crate::core::{BrokerCore, DetachKind, Fanout};
use crate::persistence::CommitTicket;
use crate::policy::Identity;
use crate::session::{Notifier, SessionHandle};
use crate::stats::Stats;
use bytes::BytesMut;
use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tern_mqtt_codec::{
    ByteStr, DecodeError, Disconnect, Packet, ProtocolVersion, ReasonCode, decode_packet, encode_packet,
};

/// Which transport carries a connection (for logs, policy and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// Plain TCP.
    Tcp,
    /// TCP with TLS.
    Tls,
    /// WebSocket over TCP.
    WebSocket,
    /// WebSocket over TLS.
    WebSocketTls,
    /// A QUIC bidirectional stream.
    Quic,
}

/// What the shell knows about a connection before any MQTT byte: handed to the policy at CONNECT.
#[derive(Debug, Clone)]
pub struct ConnMeta {
    /// Remote address.
    pub peer: SocketAddr,
    /// Carrying transport.
    pub transport: TransportKind,
    /// Identity from a verified TLS client certificate, if any.
    pub tls_identity: Option<String>,
    /// Name of the listener that accepted the connection (as the configuration names it), so settings
    /// of one listener (`allow_anonymous`) apply to its connections only; `None` for unnamed frontends.
    pub listener: Option<Arc<str>>,
}

/// Where the connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for CONNECT.
    AwaitConnect,
    /// CONNECT read, its authentication not decided yet (an AUTH exchange or the policy's later decision).
    Authenticating,
    /// CONNACK (success) queued; normal operation.
    Connected,
}

/// Limits the client announced in CONNECT (5.0) or their 3.x defaults.
#[derive(Debug, Clone, Copy)]
struct PeerLimits {
    /// How many QoS 1/2 deliveries it accepts unacknowledged.
    receive_maximum: u16,
    /// Largest packet it accepts.
    max_packet_size: u32,
    /// Topic aliases it accepts from us.
    topic_alias_maximum: u16,
}

/// One MQTT connection's protocol state.
pub struct MqttConnection {
    core: Arc<BrokerCore>,
    meta: ConnMeta,
    notifier: Notifier,
    conn_id: u64,
    phase: Phase,
    version: Option<ProtocolVersion>,
    client_id: Option<Arc<str>>,
    /// What the policy attached at CONNECT, boxed; `None` when that is nothing beyond the client id (every
    /// anonymous client), which [`MqttConnection::identity`] then builds on demand.
    identity: Option<Box<Identity>>,
    /// The Authentication Method of CONNECT (5.0 enhanced authentication), which re-authentication repeats.
    /// A thin pointer: idle connections pay 8 bytes for it.
    auth_method: Option<Arc<ByteStr>>,
    /// Authentication in progress (CONNECT or re-authentication); boxed and only there meanwhile.
    auth: Option<Box<auth::AuthState>>,
    session: Option<SessionHandle>,
    connect_deadline: Instant,
    /// Keep alive in force in seconds (already capped); 0 = off.
    keep_alive: u16,
    last_received: Instant,
    peer: PeerLimits,
    /// Session expiry requested at CONNECT (a DISCONNECT may not raise it from 0, [MQTT-3.14.2-2]).
    connect_expiry: u32,
    /// Topic aliases in both directions (MQTT 5 only): boxed and made at the first alias, so a connection
    /// that uses none (every 3.x one) carries a pointer, not two maps.
    aliases: Option<Box<Aliases>>,
    /// Control packets to send, in order (CONNACK, SUBACK, UNSUBACK, PINGRESP, PUBREL, DISCONNECT).
    control: VecDeque<Packet>,
    /// Acks to the client's publishes (PUBACK, PUBREC, PUBCOMP), in order, each possibly waiting on a commit.
    acks: VecDeque<(Option<CommitTicket>, Packet)>,
    /// The routing scratch space of this connection's publishes (and retained deliveries at SUBSCRIBE):
    /// made at the first use, so a connection that never publishes holds none of it.
    fanout: Option<Box<Fanout>>,
    /// Whether this connection's publishes are subject to back-pressure (set once its session is known).
    backpressure: bool,
    /// The last `poll_transmit` stopped at its write budget with deliveries still queued.
    more_to_send: bool,
    /// No more input is processed; the connection closes once `control` is flushed.
    closing: bool,
    /// CONNACK success was counted in the connection gauge.
    counted: bool,
    /// This connection's place in the per-IP count (`max_connections_per_ip`), from CONNECT to close.
    /// Boxed: only set when `max_connections_per_ip` is configured.
    ip_slot: Option<Box<crate::limits::IpSlot>>,
    /// Publish rate buckets (`publish_rate`, `publish_bytes_rate`), if configured.
    publish_limiter: Option<Box<crate::limits::PublishLimiter>>,
    /// `mqtt` span with peer, transport and (once known) client id; entered by every entry point.
    /// Boxed and `None` while the span is disabled (the usual level), so it costs a pointer.
    span: Option<Box<tracing::Span>>,
    /// Back-pressure: set when a publish of the last read met a subscriber's queue past its high watermark;
    /// the connection is not read until then, or until a congested queue drains (`resume`).
    paused_until: Option<Instant>,
    /// Set by the resume notifier (`notifier` plus setting this), which congested sessions call once their
    /// queue drained below half; made with the fanout, as only a publisher can be paused.
    resume: Option<Arc<AtomicBool>>,
}

/// Topic aliases of an MQTT 5 connection.
#[derive(Debug, Default)]
struct Aliases {
    /// Inbound topic aliases (alias → topic).
    inbound: HashMap<u16, ByteStr>,
    /// Outbound topic aliases we assigned (topic → alias), first come, first served, never evicted.
    outbound: HashMap<ByteStr, NonZeroU16>,
}

impl std::fmt::Debug for MqttConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttConnection")
            .field("peer", &self.meta.peer)
            .field("client_id", &self.client_id)
            .field("version", &self.version)
            .field("phase", &self.phase)
            .field("closing", &self.closing)
            .finish_non_exhaustive()
    }
}

impl MqttConnection {
    /// A connection that just opened; it expects CONNECT within the configured connect timeout.
    pub fn new(core: Arc<BrokerCore>, meta: ConnMeta, notifier: Notifier, now: Instant) -> MqttConnection {
        let conn_id = core.register_connection(notifier.clone());
        let connect_deadline = now + core.config.connect_timeout;
        let span = tracing::info_span!("mqtt", peer = %meta.peer, transport = ?meta.transport,
            client_id = tracing::field::Empty);
        MqttConnection {
            core,
            meta,
            notifier,
            conn_id,
            phase: Phase::AwaitConnect,
            version: None,
            client_id: None,
            identity: None,
            auth_method: None,
            auth: None,
            session: None,
            connect_deadline,
            keep_alive: 0,
            last_received: now,
            peer: PeerLimits {
                receive_maximum: u16::MAX,
                max_packet_size: u32::MAX,
                topic_alias_maximum: 0,
            },
            connect_expiry: 0,
            aliases: None,
            control: VecDeque::new(),
            acks: VecDeque::new(),
            fanout: None,
            backpressure: false,
            more_to_send: false,
            closing: false,
            counted: false,
            ip_slot: None,
            publish_limiter: None,
            span: (!span.is_disabled()).then(|| Box::new(span)),
            paused_until: None,
            resume: None,
        }
    }

    /// The `mqtt` span (peer, transport, client id) to enter, or a disabled one.
    fn span(&self) -> tracing::Span {
        self.span.as_deref().cloned().unwrap_or_else(tracing::Span::none)
    }

    /// The identity policy checks see: what the policy attached at CONNECT, with the client id.
    pub(super) fn identity(&self) -> Cow<'_, Identity> {
        match &self.identity {
            Some(identity) => Cow::Borrowed(identity),
            None => Cow::Owned(Identity {
                client_id: self.client_id.clone(),
                ..Identity::default()
            }),
        }
    }

    /// Keeps what the policy attached, boxed only when it holds more than the client id.
    pub(super) fn set_identity(&mut self, identity: Identity) {
        let plain = identity.username.is_none()
            && identity.tls_identity.is_none()
            && identity.roles.is_empty()
            && identity.attributes.is_empty();
        self.identity = (!plain).then(|| Box::new(identity));
    }

    /// The client identifier, once CONNECT was accepted (assigned ones included).
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// The protocol level, once CONNECT was read.
    pub fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.version
    }

    /// What the shell told us about the transport.
    pub fn meta(&self) -> &ConnMeta {
        &self.meta
    }

    /// The session this connection is attached to, once CONNECT was accepted (for inspection and tests).
    pub fn session(&self) -> Option<&SessionHandle> {
        self.session.as_ref()
    }

    /// False while the connection is paused for back-pressure: its last read queued messages for an online
    /// subscriber whose queue is past 3/4 full. True again once that queue drained below half (the notifier
    /// is called) or `publisher_pause` after the read (folded into [`MqttConnection::poll_timeout`]). The
    /// shell reads the socket only while this is true.
    pub fn wants_read(&self, now: Instant) -> bool {
        if self.decision_pending() {
            return false;
        }
        match self.paused_until {
            Some(until) => now >= until || self.resumed(),
            None => true,
        }
    }

    /// Makes this connection's publishes subject to back-pressure, once its own session is known (a queue
    /// it drains itself never pauses it).
    pub(super) fn enable_backpressure(&mut self) {
        self.backpressure = true;
        self.fanout = None;
    }

    /// A congested session's drain called the resume notifier since the last read.
    fn resumed(&self) -> bool {
        self.resume.as_ref().is_some_and(|r| r.load(Ordering::Acquire))
    }

    /// Whether the publishes handled so far met a congested queue.
    fn congested(&self) -> bool {
        self.fanout.as_ref().is_some_and(|f| f.congested)
    }

    /// The fanout scratch space, taken out for a publish or a subscribe (put it back with `self.fanout =
    /// Some(..)`): made at the first use, with the resume notifier when back-pressure applies.
    pub(super) fn take_fanout(&mut self) -> Box<Fanout> {
        if let Some(f) = self.fanout.take() {
            return f;
        }
        let mut fanout = Box::<Fanout>::default();
        if self.backpressure {
            let flag = Arc::new(AtomicBool::new(false));
            let (set, notifier) = (flag.clone(), self.notifier.clone());
            let resume_notifier: Notifier = Arc::new(move || {
                set.store(true, Ordering::Release);
                notifier();
            });
            let own = self.session.as_ref().map(SessionHandle::id);
            fanout.publisher = Some((self.conn_id, resume_notifier, own));
            self.resume = Some(flag);
        }
        fanout
    }

    fn is_v5(&self) -> bool {
        self.version.is_some_and(ProtocolVersion::is_v5)
    }

    /// Decodes and handles every complete packet in `buf`, leaving an incomplete tail in it (or, when a
    /// publish pauses the connection for back-pressure, everything after that publish: call again once
    /// [`MqttConnection::wants_read`] is true, before reading more). A decode error
    /// closes the connection (DISCONNECT or CONNACK with the error's reason code on 5.0).
    pub fn handle_read(&mut self, now: Instant, buf: &mut BytesMut) {
        let span = self.span();
        let _entered = span.enter();
        // Read while paused and not resumed by a drain: the safety valve opened (or the caller does not take
        // back-pressure). Then the whole buffer is handled; otherwise decoding stops at the first publish
        // that met a congested queue, leaving the rest in `buf` for when reading resumes, so a read's worth
        // of publishes never overshoots the queue's headroom.
        let valve = self.paused_until.is_some() && !self.resumed();
        self.paused_until = None;
        if let Some(r) = &self.resume {
            r.store(false, Ordering::Release);
        }
        if let Some(f) = &mut self.fanout {
            f.congested = false;
        }
        while !self.closing && (valve || !self.congested()) && !self.decision_pending() {
            let version = self.version.unwrap_or(ProtocolVersion::V3_1_1);
            let peeked_level = if self.phase != Phase::Connected {
                peek_connect_level(buf)
            } else {
                None
            };
            let before = buf.len();
            let result = decode_packet(buf, version, self.core.config.max_packet_size);
            Stats::add(&self.core.stats.bytes_in, (before - buf.len()) as u64);
            match result {
                Ok(Some(packet)) => {
                    self.last_received = now;
                    self.handle_packet(now, packet);
                }
                Ok(None) => break,
                Err(e) => {
                    self.decode_failed(now, e, peeked_level);
                    break;
                }
            }
        }
        if self.closing {
            buf.clear();
        }
        let congested = self
            .fanout
            .as_mut()
            .is_some_and(|f| std::mem::take(&mut f.congested));
        if congested && !self.closing {
            self.paused_until = Some(now + self.core.config.publisher_pause);
            tracing::trace!(
                client_id = self.client_id().unwrap_or(""),
                "subscriber queue past its high watermark: publisher paused"
            );
        }
        if let Some(f) = &mut self.fanout {
            f.flush();
        }
    }

    fn decode_failed(&mut self, now: Instant, e: DecodeError, peeked_level: Option<u8>) {
        if self.phase == Phase::Authenticating {
            self.auth = None;
            self.phase = Phase::AwaitConnect;
            tracing::warn!(peer = %self.meta.peer, error = %e, "malformed packet during authentication, closing");
            self.refuse_connect(e.reason_code());
            return self.close(now, DetachKind::Abnormal);
        }
        if self.phase == Phase::AwaitConnect {
            tracing::warn!(peer = %self.meta.peer, error = %e, "malformed CONNECT, closing");
            let code = e.reason_code();
            if matches!(
                e,
                DecodeError::UnsupportedProtocolVersion(_) | DecodeError::InvalidProtocolName
            ) {
                // A 3.1.1-shaped CONNACK 0x01 is understood by every client level ([MQTT-3.1.2-2]).
                self.version = Some(ProtocolVersion::V3_1_1);
                self.refuse_connect(ReasonCode::UnsupportedProtocolVersion);
            } else if peeked_level == Some(5) {
                self.version = Some(ProtocolVersion::V5);
                self.refuse_connect(code);
            } else {
                self.close(now, DetachKind::Abnormal);
            }
            return;
        }
        self.violation(now, Violation::Malformed(e));
    }

    fn handle_packet(&mut self, now: Instant, packet: Packet) {
        tracing::debug!(client_id = self.client_id().unwrap_or(""), packet = ?packet.packet_type(), "received");
        if self.phase == Phase::AwaitConnect {
            match packet {
                Packet::Connect(c) => self.on_connect(now, *c),
                _ => {
                    tracing::warn!(peer = %self.meta.peer, "[MQTT-3.1.0-1] first packet is not CONNECT");
                    Stats::add(&self.core.stats.violations, 1);
                    self.close(now, DetachKind::Abnormal);
                }
            }
            return;
        }
        if self.phase == Phase::Authenticating {
            return self.on_packet_authenticating(now, packet);
        }
        if !self.check_current() {
            return;
        }
        match packet {
            Packet::Connect(_) => self.violation(now, Violation::SecondConnect),
            Packet::Publish(p) => self.on_publish(now, p),
            Packet::PubAck(a) => self.on_puback(a),
            Packet::PubRec(a) => self.on_pubrec(a),
            Packet::PubRel(a) => self.on_pubrel(a),
            Packet::PubComp(a) => self.on_pubcomp(a),
            Packet::Subscribe(s) => self.on_subscribe(now, s),
            Packet::Unsubscribe(u) => self.on_unsubscribe(u),
            Packet::PingReq => self.control.push_back(Packet::PingResp),
            Packet::Disconnect(d) => self.on_disconnect(now, d),
            Packet::Auth(a) => self.on_auth(now, a),
            Packet::ConnAck(_) | Packet::SubAck(_) | Packet::UnsubAck(_) | Packet::PingResp => {
                self.violation(now, Violation::ServerPacket)
            }
        }
    }

    fn on_disconnect(&mut self, now: Instant, d: Disconnect) {
        if let Some(secs) = d.properties.session_expiry_interval {
            if self.connect_expiry == 0 && secs != 0 {
                self.violation(now, Violation::ExpiryRaisedFromZero);
                return;
            }
            if let Some(s) = &self.session {
                s.set_expiry_interval(secs.min(self.core.config.max_session_expiry));
            }
        }
        let kind = match d.reason_code {
            ReasonCode::NormalDisconnection => DetachKind::Normal,
            ReasonCode::DisconnectWithWillMessage => DetachKind::WithWill,
            _ => DetachKind::Abnormal,
        };
        tracing::info!(client_id = self.client_id().unwrap_or(""), reason = %d.reason_code, "client disconnected");
        self.close(now, kind);
    }

    /// False (and the connection closing, with DISCONNECT 0x8E on 5.0) once another connection took the
    /// session over ([MQTT-3.1.4-3]).
    fn check_current(&mut self) -> bool {
        match &self.session {
            Some(s) if !s.is_current() => {
                tracing::info!(
                    client_id = self.client_id().unwrap_or(""),
                    "session taken over, closing"
                );
                self.session = None;
                if self.is_v5() {
                    self.control
                        .push_back(Packet::Disconnect(Disconnect::new(ReasonCode::SessionTakenOver)));
                }
                self.closing = true;
                self.uncount();
                false
            }
            _ => !self.closing,
        }
    }

    /// A protocol violation by the client: DISCONNECT with its reason code on 5.0, plain close on 3.x; the
    /// will is published.
    fn violation(&mut self, now: Instant, v: Violation) {
        Stats::add(&self.core.stats.violations, 1);
        let code = v.reason_code();
        tracing::warn!(client_id = self.client_id().unwrap_or(""), peer = %self.meta.peer, reason = %code,
            "closing: {v}");
        if self.is_v5() && self.phase == Phase::Connected {
            self.control.push_back(Packet::Disconnect(Disconnect::new(code)));
        }
        self.close(now, DetachKind::Abnormal);
    }

    /// Stops processing input and lets go of the session.
    fn close(&mut self, now: Instant, kind: DetachKind) {
        self.closing = true;
        self.acks.clear();
        if let Some(s) = self.session.take() {
            self.core.detach(&s, kind, now);
        }
        self.uncount();
        self.ip_slot = None;
    }

    fn uncount(&mut self) {
        if self.counted {
            self.counted = false;
            Stats::sub(&self.core.stats.connections, 1);
        }
    }

    /// Appends every pending outbound packet to `out`: control packets, acks whose commit is done, then
    /// retransmissions and queued deliveries as the client's Receive Maximum and our in-flight cap allow.
    pub fn poll_transmit(&mut self, now: Instant, out: &mut BytesMut) {
        let span = self.span();
        let _entered = span.enter();
        let start = out.len();
        if !self.closing {
            self.poll_decision(now);
        }
        if !self.closing && self.phase == Phase::Connected {
            if self.core.is_shutting_down() {
                if self.is_v5() {
                    self.control.push_back(Packet::Disconnect(Disconnect::new(
                        ReasonCode::ServerShuttingDown,
                    )));
                }
                // The server closes without a DISCONNECT 0x00 from the client: wills are published (3.1.2.5).
                self.close(now, DetachKind::Abnormal);
            } else {
                self.check_current();
            }
        } else if !self.closing && self.core.is_shutting_down() {
            self.close(now, DetachKind::Abnormal);
        }
        let version = self.version.unwrap_or(ProtocolVersion::V3_1_1);
        while let Some(p) = self.control.pop_front() {
            self.encode(&p, version, out);
        }
        let mut refused_v3 = false;
        while let Some((ticket, _)) = self.acks.front() {
            if ticket.as_ref().is_some_and(|t| !t.is_done()) {
                break;
            }
            if let Some((ticket, mut p)) = self.acks.pop_front() {
                if ticket.is_some_and(|t| t.is_failed()) && !self.refuse_undurable(&mut p) {
                    refused_v3 = true;
                    continue;
                }
                self.encode(&p, version, out);
            }
        }
        if refused_v3 && !self.closing {
            // MQTT 3.x has no negative PUBACK/PUBREC: close, and the client re-sends after reconnecting.
            tracing::warn!(
                client_id = self.client_id().unwrap_or(""),
                "store full: closing 3.x publisher"
            );
            self.close(now, DetachKind::Abnormal);
        }
        if !self.closing && self.phase == Phase::Connected {
            self.transmit_deliveries(now, version, out);
        }
        Stats::add(&self.core.stats.bytes_out, (out.len() - start) as u64);
        // An idle connection keeps no queue storage: a `Packet` is large, and these grow in bursts.
        if self.control.is_empty() && self.control.capacity() > 0 {
            self.control = VecDeque::new();
        }
        if self.acks.is_empty() && self.acks.capacity() > 0 {
            self.acks = VecDeque::new();
        }
    }

    /// An ack whose commit failed (the store is full): PUBACK/PUBREC become 0x97 Quota exceeded on MQTT 5
    /// and the inbound QoS 2 id is forgotten, so the publisher may retry. False on 3.x (no negative ack).
    /// PUBREL/PUBCOMP go out unchanged: their state change was best effort.
    fn refuse_undurable(&mut self, p: &mut Packet) -> bool {
        if let (Packet::PubRec(a), Some(s)) = (&*p, &self.session) {
            s.qos2_released(a.packet_id);
        }
        let (Packet::PubAck(a) | Packet::PubRec(a)) = p else {
            return true;
        };
        if !self.is_v5() {
            return false;
        }
        tracing::warn!(
            client_id = self.client_id().unwrap_or(""),
            id = a.packet_id,
            "publish refused: the store could not make it durable"
        );
        a.reason_code = ReasonCode::QuotaExceeded;
        true
    }

    fn encode(&self, p: &Packet, version: ProtocolVersion, out: &mut BytesMut) {
        tracing::debug!(client_id = self.client_id().unwrap_or(""), packet = ?p.packet_type(), "sending");
        if let Err(e) = encode_packet(p, version, out) {
            tracing::warn!(client_id = self.client_id().unwrap_or(""), error = %e, "packet not encodable, skipped");
        }
    }

    /// When `handle_timeout` next has work: the CONNECT deadline, 1.5 × keep alive after the last packet, or
    /// the end of a back-pressure pause.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closing {
            return None;
        }
        let pause = self.paused_until.filter(|_| !self.resumed());
        match (self.protocol_deadline(), pause) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The CONNECT deadline or the keep alive deadline.
    fn protocol_deadline(&self) -> Option<Instant> {
        if self.closing {
            return None;
        }
        match self.phase {
            Phase::AwaitConnect | Phase::Authenticating => Some(self.connect_deadline),
            Phase::Connected => (self.keep_alive > 0).then(|| {
                let ka = Duration::from_secs(u64::from(self.keep_alive));
                self.last_received + ka + ka / 2
            }),
        }
    }

    /// Closes a connection that missed its CONNECT deadline or its keep alive ([MQTT-3.1.2-24]).
    pub fn handle_timeout(&mut self, now: Instant) {
        let span = self.span();
        let _entered = span.enter();
        if self.paused_until.is_some_and(|until| now >= until) {
            self.paused_until = None;
        }
        if self.protocol_deadline().is_none_or(|at| now < at) {
            return;
        }
        match self.phase {
            Phase::AwaitConnect | Phase::Authenticating => {
                self.auth = None;
                tracing::info!(peer = %self.meta.peer, "no CONNECT (or no authentication) within the connect timeout, closing");
                self.close(now, DetachKind::Abnormal);
            }
            Phase::Connected => {
                tracing::info!(
                    client_id = self.client_id().unwrap_or(""),
                    "[MQTT-3.1.2-24] keep alive expired, closing"
                );
                if self.is_v5() {
                    self.control
                        .push_back(Packet::Disconnect(Disconnect::new(ReasonCode::KeepAliveTimeout)));
                }
                self.close(now, DetachKind::Abnormal);
            }
        }
        if let Some(f) = &mut self.fanout {
            f.flush();
        }
    }

    /// The transport closed or failed: abnormal unless DISCONNECT was received (the will is handled).
    pub fn handle_close(&mut self, now: Instant) {
        let span = self.span();
        let _entered = span.enter();
        if !self.closing {
            tracing::info!(client_id = self.client_id().unwrap_or(""), "connection lost");
        }
        self.close(now, DetachKind::Abnormal);
        self.control.clear();
        self.core.unregister_connection(self.conn_id);
    }

    /// True when the last [`MqttConnection::poll_transmit`] stopped at its write budget with deliveries
    /// still queued: the shell writes what it got and polls again without waiting for a wake-up.
    pub fn has_more_to_send(&self) -> bool {
        self.more_to_send
    }

    /// True once the connection is over and everything it had to say was handed to `poll_transmit`: the
    /// shell closes the socket after writing the last bytes.
    pub fn is_closed(&self) -> bool {
        self.closing && self.control.is_empty()
    }
}

impl Drop for MqttConnection {
    fn drop(&mut self) {
        let now = self.last_received;
        self.close(now, DetachKind::Abnormal);
        self.core.unregister_connection(self.conn_id);
    }
}

/// The protocol level byte of a CONNECT at the front of `buf`, if enough of it is there.
fn peek_connect_level(buf: &[u8]) -> Option<u8> {
    if buf.first()? >> 4 != 1 {
        return None;
    }
    let mut i = 1;
    while buf.get(i)? & 0x80 != 0 {
        i += 1;
        if i > 4 {
            return None;
        }
    }
    let name_len = usize::from(u16::from_be_bytes([*buf.get(i + 1)?, *buf.get(i + 2)?]));
    buf.get(i + 3 + name_len).copied()
}
