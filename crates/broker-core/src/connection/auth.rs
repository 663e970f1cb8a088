//! Authentication that takes more than one look at CONNECT: MQTT 5 enhanced authentication (an AUTH
//! exchange run by the policy's [`AuthExchange`], at CONNECT and at re-authentication, section 4.12) and
//! CONNECT decisions the policy makes later ([`PendingAuth`], e.g. an HTTP call). The state lives in one
//! boxed field that exists only while authenticating, so idle connections do not pay for it.

use super::{MqttConnection, Phase, Violation};
use crate::core::DetachKind;
use crate::policy::{AuthExchange, AuthStep, Identity, PendingAuth};
use crate::stats::Stats;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Instant;
use tern_mqtt_codec::{Auth, AuthProperties, ByteStr, Connect, Disconnect, Packet, PacketType, ReasonCode};

/// A CONNECT whose authentication is not decided yet, with what was derived from it before.
pub(super) struct ConnectWait {
    /// The CONNECT, answered once authentication is decided.
    pub connect: Box<Connect>,
    /// The session's client id (generated if the client sent none).
    pub client_id: Arc<str>,
    /// The generated client id to announce in CONNACK (5.0).
    pub assigned: Option<ByteStr>,
}

/// What the connection waits for.
enum Wait {
    /// The client's next AUTH of an enhanced authentication exchange.
    Exchange(Box<dyn AuthExchange>),
    /// The policy's later decision on CONNECT; nothing is read meanwhile.
    Decision(PendingAuth),
}

/// Authentication in progress: at CONNECT (`connect` set) or re-authentication of a connected client.
pub(super) struct AuthState {
    wait: Wait,
    /// The Authentication Method every AUTH must repeat ([MQTT-4.12.0-5]).
    method: ByteStr,
    connect: Option<ConnectWait>,
}

impl MqttConnection {
    /// True while a CONNECT decision is pending: the connection reads nothing until it arrives.
    pub(super) fn decision_pending(&self) -> bool {
        self.auth
            .as_ref()
            .is_some_and(|a| matches!(a.wait, Wait::Decision(_)))
    }

    /// CONNECT carried an Authentication Method: start the policy's exchange or refuse the method.
    pub(super) fn start_connect_exchange(&mut self, now: Instant, waiting: ConnectWait, method: ByteStr) {
        let client_id = if waiting.assigned.is_some() {
            ""
        } else {
            &*waiting.client_id
        };
        let Some(exchange) = self
            .core
            .hooks
            .policy
            .start_exchange(&self.meta, &method, client_id)
        else {
            tracing::info!(peer = %self.meta.peer, %method, "[MQTT-4.12.0-1] authentication method not supported");
            Stats::add(&self.core.stats.auth_refused, 1);
            return self.refuse_connect(ReasonCode::BadAuthenticationMethod);
        };
        let data = waiting
            .connect
            .properties
            .authentication_data
            .clone()
            .unwrap_or_default();
        self.auth = Some(Box::new(AuthState {
            wait: Wait::Exchange(exchange),
            method,
            connect: Some(waiting),
        }));
        self.phase = Phase::Authenticating;
        self.auth_step(now, &data);
    }

    /// The policy will decide CONNECT later: stop reading until `pending` completes.
    pub(super) fn wait_for_decision(&mut self, waiting: ConnectWait, pending: PendingAuth) {
        tracing::debug!(peer = %self.meta.peer, "waiting for the authentication decision");
        pending.set_waker(self.notifier.clone());
        self.auth = Some(Box::new(AuthState {
            wait: Wait::Decision(pending),
            method: ByteStr::default(),
            connect: Some(waiting),
        }));
        self.phase = Phase::Authenticating;
    }

    /// Answers CONNECT if the pending decision arrived (called on every wake-up).
    pub(super) fn poll_decision(&mut self, now: Instant) {
        let Some(Wait::Decision(pending)) = self.auth.as_ref().map(|a| &a.wait) else {
            return;
        };
        let Some(result) = pending.take() else { return };
        let Some(state) = self.auth.take() else { return };
        self.phase = Phase::AwaitConnect;
        if let Some(waiting) = state.connect {
            self.connect_decided(now, waiting, result, None);
        }
    }

    /// A packet while CONNECT's authentication runs: only AUTH (continuing the exchange) and DISCONNECT are
    /// allowed ([MQTT-3.1.2-30]).
    pub(super) fn on_packet_authenticating(&mut self, now: Instant, packet: Packet) {
        match packet {
            Packet::Auth(a) => {
                if let Err(v) = self.check_auth_packet(&a, ReasonCode::ContinueAuthentication) {
                    return self.auth_violation(now, v);
                }
                let data = a.properties.authentication_data.unwrap_or_default();
                self.auth_step(now, &data);
            }
            Packet::Disconnect(_) => {
                tracing::info!(peer = %self.meta.peer, "client disconnected during authentication");
                self.auth = None;
                self.close(now, DetachKind::Abnormal);
            }
            other => {
                tracing::warn!(peer = %self.meta.peer, packet = ?other.packet_type(),
                    "[MQTT-3.1.2-30] packet other than AUTH or DISCONNECT before CONNACK");
                self.auth_violation(now, Violation::PacketDuringAuth);
            }
        }
    }

    /// AUTH on a connected client: starts or continues re-authentication ([MQTT-4.12.1-1]).
    pub(super) fn on_auth(&mut self, now: Instant, a: Auth) {
        let Some(method) = self.auth_method.clone() else {
            // [MQTT-4.12.0-7]: no Authentication Method in CONNECT, so no AUTH.
            return self.violation(now, Violation::UnexpectedAuth);
        };
        let expected = if self.auth.is_some() {
            ReasonCode::ContinueAuthentication
        } else {
            ReasonCode::ReAuthenticate
        };
        if let Err(v) = self.check_auth_packet_method(&a, expected, method.as_str()) {
            self.auth = None;
            return self.violation(now, v);
        }
        if self.auth.is_none() {
            let client_id = self.client_id.clone().unwrap_or_else(|| Arc::from(""));
            let Some(exchange) =
                self.core
                    .hooks
                    .policy
                    .start_exchange(&self.meta, method.as_str(), &client_id)
            else {
                // The policy stopped offering the method (reloaded configuration).
                tracing::info!(client_id = &*client_id, %method, "re-authentication method no longer offered");
                return self.reauth_failed(now, ReasonCode::BadAuthenticationMethod);
            };
            self.auth = Some(Box::new(AuthState {
                wait: Wait::Exchange(exchange),
                method: ByteStr::clone(&method),
                connect: None,
            }));
        }
        let data = a.properties.authentication_data.unwrap_or_default();
        self.auth_step(now, &data);
    }

    /// Checks an AUTH during CONNECT's exchange against the method in progress.
    fn check_auth_packet(&self, a: &Auth, expected: ReasonCode) -> Result<(), Violation> {
        let method = self.auth.as_ref().map(|s| s.method.as_str()).unwrap_or("");
        self.check_auth_packet_method(a, expected, method)
    }

    fn check_auth_packet_method(
        &self,
        a: &Auth,
        expected: ReasonCode,
        method: &str,
    ) -> Result<(), Violation> {
        if a.properties.authentication_method.as_deref() != Some(method) {
            return Err(Violation::AuthMethodChanged);
        }
        if a.reason_code != expected {
            return Err(Violation::AuthReasonCode);
        }
        Ok(())
    }

    /// A protocol error in CONNECT's exchange: CONNACK with the violation's code, then close.
    fn auth_violation(&mut self, now: Instant, v: Violation) {
        Stats::add(&self.core.stats.violations, 1);
        tracing::warn!(peer = %self.meta.peer, "closing: {v}");
        self.auth = None;
        self.phase = Phase::AwaitConnect;
        self.refuse_connect(v.reason_code());
        self.close(now, DetachKind::Abnormal);
    }

    /// Feeds the client's Authentication Data to the exchange and acts on its answer.
    fn auth_step(&mut self, now: Instant, data: &[u8]) {
        let Some(state) = self.auth.as_mut() else { return };
        let Wait::Exchange(exchange) = &mut state.wait else {
            return;
        };
        match exchange.step(data) {
            AuthStep::Continue(out) => {
                let method = state.method.clone();
                self.control
                    .push_back(auth_packet(ReasonCode::ContinueAuthentication, method, Some(out)));
            }
            AuthStep::Success { identity, data } => {
                let Some(state) = self.auth.take() else { return };
                match state.connect {
                    Some(waiting) => {
                        self.phase = Phase::AwaitConnect;
                        self.connect_decided(now, waiting, Ok(identity), data.map(Bytes::from));
                    }
                    None => self.reauthenticated(now, state.method, identity, data),
                }
            }
            AuthStep::Failure(code) => {
                let Some(state) = self.auth.take() else { return };
                if state.connect.is_some() {
                    self.phase = Phase::AwaitConnect;
                    Stats::add(&self.core.stats.auth_refused, 1);
                    self.refuse_connect(code);
                } else {
                    self.reauth_failed(now, code);
                }
            }
        }
    }

    /// Re-authentication succeeded: AUTH 0x00. The client must stay who it was: a different user name
    /// would dodge the ACL decisions already made for this session.
    fn reauthenticated(
        &mut self,
        now: Instant,
        method: ByteStr,
        mut identity: Identity,
        data: Option<Vec<u8>>,
    ) {
        let old = self.identity().username.clone();
        if identity.username != old {
            tracing::warn!(
                client_id = self.client_id().unwrap_or(""),
                old = old.as_deref().unwrap_or(""),
                new = identity.username.as_deref().unwrap_or(""),
                "re-authentication as a different user refused"
            );
            return self.reauth_failed(now, ReasonCode::NotAuthorized);
        }
        identity.client_id = self.client_id.clone();
        tracing::info!(client_id = self.client_id().unwrap_or(""), "re-authenticated");
        self.set_identity(identity);
        self.control
            .push_back(auth_packet(ReasonCode::Success, method, data));
    }

    /// Re-authentication failed: DISCONNECT and close ([MQTT-4.12.1-2]).
    fn reauth_failed(&mut self, now: Instant, code: ReasonCode) {
        self.auth = None;
        Stats::add(&self.core.stats.auth_refused, 1);
        // DISCONNECT has no 0x86 Bad user name or password: such failures say 0x87 Not authorized.
        let code = if code.is_valid_for(PacketType::Disconnect) {
            code
        } else {
            ReasonCode::NotAuthorized
        };
        tracing::info!(client_id = self.client_id().unwrap_or(""), reason = %code, "re-authentication failed, closing");
        self.control.push_back(Packet::Disconnect(Disconnect::new(code)));
        self.close(now, DetachKind::Abnormal);
    }
}

fn auth_packet(code: ReasonCode, method: ByteStr, data: Option<Vec<u8>>) -> Packet {
    Packet::Auth(Auth {
        reason_code: code,
        properties: AuthProperties {
            authentication_method: Some(method),
            authentication_data: data.map(Bytes::from),
            ..AuthProperties::default()
        },
    })
}
