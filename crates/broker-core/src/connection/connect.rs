//! CONNECT → CONNACK: client identifier rules, authentication, keep alive, session expiry, the client's
//! limits, the will, attaching to the session, and the CONNACK properties that announce our limits.

use super::{MqttConnection, PeerLimits, Phase};
use crate::core::AttachRequest;
use crate::policy::{ConnectDecision, Identity};
use crate::session::WillMessage;
use crate::stats::Stats;
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tern_mqtt_codec::{
    ByteStr, ConnAck, ConnAckProperties, Connect, Packet, ProtocolVersion, QoS, ReasonCode,
};

/// Distinguishes generated client identifiers across brokers started in the same process.
static GENERATED: AtomicU64 = AtomicU64::new(0);

impl MqttConnection {
    /// Queues a refusing CONNACK and closes ([MQTT-3.2.2-6]/[MQTT-3.2.2-7]: session present 0 on refusal).
    pub(super) fn refuse_connect(&mut self, code: ReasonCode) {
        tracing::info!(peer = %self.meta.peer, reason = %code, "connection refused");
        self.control.push_back(Packet::ConnAck(Box::new(ConnAck {
            session_present: false,
            reason_code: code,
            properties: ConnAckProperties::default(),
        })));
        self.closing = true;
    }

    pub(super) fn on_connect(&mut self, now: Instant, c: Connect) {
        let v5 = c.protocol.is_v5();
        self.version = Some(c.protocol);
        let cfg = &self.core.config;
        if Stats::get(&self.core.stats.connections) >= cfg.max_connections as u64 {
            let code = if v5 {
                ReasonCode::ServerBusy
            } else {
                ReasonCode::ServerUnavailable
            };
            return self.refuse_connect(code);
        }
        if let Some(w) = &c.will {
            if w.qos > cfg.maximum_qos {
                return self.refuse_connect(if v5 {
                    ReasonCode::QoSNotSupported
                } else {
                    ReasonCode::NotAuthorized
                });
            }
            if w.retain && !cfg.retain_available {
                return self.refuse_connect(if v5 {
                    ReasonCode::RetainNotSupported
                } else {
                    ReasonCode::NotAuthorized
                });
            }
        }
        let mut assigned = None;
        let client_id: Arc<str> = if c.client_id.is_empty() {
            if !v5 && !c.clean_start {
                tracing::info!(peer = %self.meta.peer, "[MQTT-3.1.3-8] empty client id without clean session");
                return self.refuse_connect(ReasonCode::ClientIdentifierNotValid);
            }
            let n = GENERATED.fetch_add(1, Ordering::Relaxed);
            let id = format!("tern-{:x}-{:x}", self.conn_id, n);
            if v5 {
                assigned = Some(ByteStr::from(id.as_str()));
            }
            Arc::from(id)
        } else {
            Arc::from(c.client_id.as_str())
        };
        if let Err(code) = self.check_conn_limits(now, &client_id) {
            return self.refuse_connect(code);
        }
        let waiting = super::auth::ConnectWait {
            connect: Box::new(c),
            client_id,
            assigned,
        };
        if v5 && let Some(method) = waiting.connect.properties.authentication_method.clone() {
            return self.start_connect_exchange(now, waiting, method);
        }
        match self
            .core
            .hooks
            .policy
            .decide_connect(&self.meta, &waiting.connect)
        {
            ConnectDecision::Done(result) => self.connect_decided(now, waiting, result, None),
            ConnectDecision::Pending(pending) => self.wait_for_decision(waiting, pending),
        }
    }

    /// CONNECT's authentication is decided: refuse it or finish it. `auth_data` is the final Authentication
    /// Data of an enhanced authentication exchange, for the CONNACK.
    pub(super) fn connect_decided(
        &mut self,
        now: Instant,
        waiting: super::auth::ConnectWait,
        result: Result<Identity, ReasonCode>,
        auth_data: Option<Bytes>,
    ) {
        let super::auth::ConnectWait {
            connect: c,
            client_id,
            assigned,
        } = waiting;
        let c = *c;
        let v5 = c.protocol.is_v5();
        let mut identity = match result {
            Ok(identity) => identity,
            Err(code) => {
                Stats::add(&self.core.stats.auth_refused, 1);
                return self.refuse_connect(code);
            }
        };
        identity.client_id = Some(client_id.clone());
        if let Some(w) = &c.will
            && !self.core.hooks.policy.authorize_publish(&identity, &w.topic)
        {
            tracing::info!(peer = %self.meta.peer, topic = %w.topic, "will topic not authorized");
            Stats::add(&self.core.stats.auth_refused, 1);
            return self.refuse_connect(ReasonCode::NotAuthorized);
        }
        if let Err(code) = self.record_flapping(now, &client_id) {
            return self.refuse_connect(code);
        }

        let cfg = &self.core.config;
        self.publish_limiter = crate::limits::PublishLimiter::from_config(cfg).map(Box::new);
        let mut props = ConnAckProperties::default();
        // Keep alive: capped on 5.0 through Server Keep Alive; 3.x clients cannot be told, so theirs stands.
        let mut keep_alive = c.keep_alive;
        if v5 && cfg.max_keepalive > 0 && (keep_alive == 0 || keep_alive > cfg.max_keepalive) {
            keep_alive = cfg.max_keepalive;
            props.server_keep_alive = Some(keep_alive);
        }
        self.keep_alive = keep_alive;

        let requested = if v5 {
            c.properties.session_expiry_interval.unwrap_or(0)
        } else if c.clean_start {
            0
        } else {
            u32::MAX
        };
        let expiry = requested.min(cfg.max_session_expiry);
        if v5 && expiry != requested {
            props.session_expiry_interval = Some(expiry);
        }
        self.connect_expiry = expiry;
        self.peer = PeerLimits {
            receive_maximum: c.properties.receive_maximum.unwrap_or(u16::MAX).max(1),
            max_packet_size: c.properties.maximum_packet_size.unwrap_or(u32::MAX),
            topic_alias_maximum: if v5 {
                c.properties.topic_alias_maximum.unwrap_or(0)
            } else {
                0
            },
        };
        let will = c.will.as_ref().map(WillMessage::from_connect);
        let attached = self.core.attach(
            AttachRequest {
                client_id: client_id.clone(),
                clean_start: c.clean_start,
                expiry_interval: expiry,
                will,
                notifier: self.notifier.clone(),
            },
            now,
        );
        if v5 {
            props.receive_maximum = (cfg.max_inflight != u16::MAX).then_some(cfg.max_inflight);
            props.maximum_packet_size = Some(cfg.max_packet_size);
            props.topic_alias_maximum = (cfg.topic_alias_maximum > 0).then_some(cfg.topic_alias_maximum);
            props.retain_available = (!cfg.retain_available).then_some(false);
            props.maximum_qos = (cfg.maximum_qos < QoS::ExactlyOnce).then_some(cfg.maximum_qos);
            props.assigned_client_identifier = assigned;
            // [MQTT-4.12.0-5]: a successful CONNACK repeats the CONNECT's Authentication Method.
            props.authentication_method = c.properties.authentication_method.clone();
            props.authentication_data = auth_data;
            self.auth_method = c.properties.authentication_method.clone().map(Arc::new);
        }
        tracing::info!(client_id = %client_id, peer = %self.meta.peer, transport = ?self.meta.transport,
            version = ?c.protocol, clean_start = c.clean_start, keep_alive, session_expiry = expiry,
            session_present = attached.session_present, "client connected");
        self.control.push_back(Packet::ConnAck(Box::new(ConnAck {
            session_present: attached.session_present,
            reason_code: ReasonCode::Success,
            properties: props,
        })));
        self.session = Some(attached.handle);
        self.enable_backpressure();
        if let Some(span) = &self.span {
            span.record("client_id", &*client_id);
        }
        self.client_id = Some(client_id);
        self.set_identity(identity);
        self.phase = Phase::Connected;
        self.counted = true;
        Stats::add(&self.core.stats.connections, 1);
        Stats::add(&self.core.stats.connections_total, 1);
        if c.protocol == ProtocolVersion::V3_1 && c.client_id.len() > 23 {
            tracing::debug!(client_id = %c.client_id, "MQTT 3.1 client id longer than 23 bytes accepted");
        }
    }
}
