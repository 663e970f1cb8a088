//! MQTT 5 enhanced authentication (section 4.12) and CONNECT decisions that arrive later, on a fake clock,
//! with a toy challenge-response mechanism standing in for SCRAM (which lives in `tern-auth`).

use crate::harness::*;
use bytes::{Bytes, BytesMut};
use std::sync::{Arc, Mutex};
use tern_broker_core::{
    AuthExchange, AuthPolicy, AuthStep, ConnMeta, ConnectDecision, CoreConfig, Hooks, Identity, PendingAuth,
};
use tern_mqtt_codec::{
    Auth, AuthProperties, ByteStr, Connect, Packet, ProtocolVersion, QoS, ReasonCode, encode_packet,
};

const METHOD: &str = "TOY-CHALLENGE";

/// Challenge-response: client-first names the user, the server answers "challenge", the client must answer
/// "<user>-answer".
struct Toy {
    user: Option<String>,
}

impl AuthExchange for Toy {
    fn step(&mut self, data: &[u8]) -> AuthStep {
        let data = String::from_utf8_lossy(data).into_owned();
        match self.user.take() {
            None => {
                self.user = Some(data);
                AuthStep::Continue(b"challenge".to_vec())
            }
            Some(user) if data == format!("{user}-answer") => AuthStep::Success {
                identity: Identity {
                    username: Some(Arc::from(user.as_str())),
                    ..Identity::default()
                },
                data: Some(b"welcome".to_vec()),
            },
            Some(_) => AuthStep::Failure(ReasonCode::NotAuthorized),
        }
    }
}

/// Offers the toy method; decides plain CONNECTs of client ids starting with `p` later through `pending` when
/// `defer` is set.
#[derive(Default)]
struct ToyPolicy {
    defer: bool,
    pending: Mutex<Vec<PendingAuth>>,
}

impl AuthPolicy for ToyPolicy {
    fn authenticate(&self, _: &ConnMeta, c: &Connect) -> Result<Identity, ReasonCode> {
        Ok(Identity {
            username: c.username.as_deref().map(Arc::from),
            ..Identity::default()
        })
    }
    fn decide_connect(&self, meta: &ConnMeta, c: &Connect) -> ConnectDecision {
        if !self.defer || !c.client_id.starts_with('p') {
            return ConnectDecision::Done(self.authenticate(meta, c));
        }
        let p = PendingAuth::new();
        self.pending.lock().unwrap().push(p.clone());
        ConnectDecision::Pending(p)
    }
    fn start_exchange(&self, _: &ConnMeta, method: &str, _: &str) -> Option<Box<dyn AuthExchange>> {
        (method == METHOD).then(|| Box::new(Toy { user: None }) as Box<dyn AuthExchange>)
    }
    fn authorize_publish(&self, _: &Identity, _: &str) -> bool {
        true
    }
    fn authorize_subscribe(&self, _: &Identity, _: &str) -> bool {
        true
    }
}

fn world(policy: Arc<ToyPolicy>) -> World {
    World::with_hooks(
        CoreConfig {
            sys_interval: None,
            ..CoreConfig::default()
        },
        Hooks {
            policy,
            ..Hooks::default()
        },
    )
}

fn auth(code: ReasonCode, method: &str, data: &str) -> Packet {
    Packet::Auth(Auth {
        reason_code: code,
        properties: AuthProperties {
            authentication_method: Some(ByteStr::from(method)),
            authentication_data: Some(Bytes::copy_from_slice(data.as_bytes())),
            ..AuthProperties::default()
        },
    })
}

fn connect_with_method(id: &str, method: &str, data: &str) -> Packet {
    let mut c = connect_packet(ProtocolVersion::V5, id, true);
    c.properties.authentication_method = Some(ByteStr::from(method));
    c.properties.authentication_data = Some(Bytes::copy_from_slice(data.as_bytes()));
    Packet::Connect(Box::new(c))
}

fn only(packets: Vec<Packet>) -> Packet {
    assert_eq!(packets.len(), 1, "{packets:?}");
    packets.into_iter().next().unwrap()
}

/// Runs the toy exchange to CONNACK success.
fn authenticated(w: &World, id: &str, user: &str) -> Client {
    let mut c = w.client(ProtocolVersion::V5);
    c.send(&connect_with_method(id, METHOD, user));
    c.send(&auth(
        ReasonCode::ContinueAuthentication,
        METHOD,
        &format!("{user}-answer"),
    ));
    let packets = c.recv();
    assert!(
        matches!(packets.as_slice(), [Packet::Auth(_), Packet::ConnAck(a)] if a.reason_code == ReasonCode::Success)
    );
    c
}

#[test]
fn mqtt_4_12_0_5_exchange_ends_in_connack_with_the_method_and_final_data() {
    let w = world(Arc::default());
    let mut c = w.client(ProtocolVersion::V5);
    c.send(&connect_with_method("a", METHOD, "alice"));
    let Packet::Auth(a) = only(c.recv()) else {
        panic!("expected AUTH")
    };
    assert_eq!(a.reason_code, ReasonCode::ContinueAuthentication);
    assert_eq!(a.properties.authentication_method.as_deref(), Some(METHOD));
    assert_eq!(
        a.properties.authentication_data.as_deref(),
        Some(&b"challenge"[..])
    );
    assert!(
        c.conn.session().is_none(),
        "no session before authentication succeeds"
    );

    c.send(&auth(ReasonCode::ContinueAuthentication, METHOD, "alice-answer"));
    let Packet::ConnAck(ack) = only(c.recv()) else {
        panic!("expected CONNACK")
    };
    assert_eq!(ack.reason_code, ReasonCode::Success);
    assert_eq!(ack.properties.authentication_method.as_deref(), Some(METHOD));
    assert_eq!(
        ack.properties.authentication_data.as_deref(),
        Some(&b"welcome"[..])
    );
    assert!(c.conn.session().is_some());
    assert_eq!(c.subscribe("t", QoS::AtLeastOnce), [ReasonCode::GrantedQoS1]);
}

#[test]
fn mqtt_4_12_0_1_unsupported_method_is_refused_with_0x8c() {
    let w = world(Arc::default());
    let mut c = w.client(ProtocolVersion::V5);
    c.send(&connect_with_method("a", "KERBEROS", "x"));
    let Packet::ConnAck(ack) = only(c.recv()) else {
        panic!("expected CONNACK")
    };
    assert_eq!(ack.reason_code, ReasonCode::BadAuthenticationMethod);
    assert!(c.conn.is_closed());
}

#[test]
fn mqtt_4_12_0_4_failed_exchange_is_refused_and_closed() {
    let w = world(Arc::default());
    let mut c = w.client(ProtocolVersion::V5);
    c.send(&connect_with_method("a", METHOD, "alice"));
    c.recv();
    c.send(&auth(ReasonCode::ContinueAuthentication, METHOD, "wrong"));
    let Packet::ConnAck(ack) = only(c.recv()) else {
        panic!("expected CONNACK")
    };
    assert_eq!(ack.reason_code, ReasonCode::NotAuthorized);
    assert!(ack.properties.authentication_method.is_none());
    assert!(c.conn.is_closed());
    assert_eq!(w.core.stats().auth_refused, 1);
}

#[test]
fn mqtt_3_1_2_30_only_auth_or_disconnect_before_connack() {
    let w = world(Arc::default());
    let mut c = w.client(ProtocolVersion::V5);
    c.send(&connect_with_method("a", METHOD, "alice"));
    c.recv();
    c.send(&Packet::Publish(publish_packet("t", "x", QoS::AtMostOnce, 0)));
    let Packet::ConnAck(ack) = only(c.recv()) else {
        panic!("expected CONNACK")
    };
    assert_eq!(ack.reason_code, ReasonCode::ProtocolError);
    assert!(c.conn.is_closed());
}

#[test]
fn mqtt_4_12_0_5_auth_with_another_method_is_a_protocol_error() {
    let w = world(Arc::default());
    let mut c = w.client(ProtocolVersion::V5);
    c.send(&connect_with_method("a", METHOD, "alice"));
    c.recv();
    c.send(&auth(ReasonCode::ContinueAuthentication, "OTHER", "alice-answer"));
    let Packet::ConnAck(ack) = only(c.recv()) else {
        panic!("expected CONNACK")
    };
    assert_eq!(ack.reason_code, ReasonCode::ProtocolError);
    assert!(c.conn.is_closed());
}

#[test]
fn mqtt_4_12_1_1_reauthentication_answers_auth_success() {
    let w = world(Arc::default());
    let mut c = authenticated(&w, "a", "alice");
    c.send(&auth(ReasonCode::ReAuthenticate, METHOD, "alice"));
    let Packet::Auth(a) = only(c.recv()) else {
        panic!("expected AUTH")
    };
    assert_eq!(a.reason_code, ReasonCode::ContinueAuthentication);
    // Normal traffic continues during re-authentication.
    assert_eq!(c.subscribe("t", QoS::AtMostOnce), [ReasonCode::GrantedQoS0]);
    c.send(&auth(ReasonCode::ContinueAuthentication, METHOD, "alice-answer"));
    let Packet::Auth(a) = only(c.recv()) else {
        panic!("expected AUTH")
    };
    assert_eq!(a.reason_code, ReasonCode::Success);
    assert_eq!(a.properties.authentication_method.as_deref(), Some(METHOD));
    assert_eq!(a.properties.authentication_data.as_deref(), Some(&b"welcome"[..]));
    assert!(!c.conn.is_closed());
    // And again.
    c.send(&auth(ReasonCode::ReAuthenticate, METHOD, "alice"));
    assert!(matches!(only(c.recv()), Packet::Auth(_)));
}

#[test]
fn mqtt_4_12_1_2_failed_reauthentication_disconnects() {
    let w = world(Arc::default());
    let mut c = authenticated(&w, "a", "alice");
    c.send(&auth(ReasonCode::ReAuthenticate, METHOD, "alice"));
    c.recv();
    c.send(&auth(ReasonCode::ContinueAuthentication, METHOD, "nope"));
    assert_eq!(disconnect_code(&c.recv()), Some(ReasonCode::NotAuthorized));
    assert!(c.conn.is_closed());
}

#[test]
fn reauthentication_as_another_user_disconnects() {
    let w = world(Arc::default());
    let mut c = authenticated(&w, "a", "alice");
    c.send(&auth(ReasonCode::ReAuthenticate, METHOD, "bob"));
    c.recv();
    c.send(&auth(ReasonCode::ContinueAuthentication, METHOD, "bob-answer"));
    assert_eq!(disconnect_code(&c.recv()), Some(ReasonCode::NotAuthorized));
    assert!(c.conn.is_closed());
}

#[test]
fn reauthentication_with_continue_first_is_a_protocol_error() {
    let w = world(Arc::default());
    let mut c = authenticated(&w, "a", "alice");
    c.send(&auth(ReasonCode::ContinueAuthentication, METHOD, "alice"));
    assert_eq!(disconnect_code(&c.recv()), Some(ReasonCode::ProtocolError));
    assert!(c.conn.is_closed());
}

#[test]
fn mqtt_4_12_0_7_auth_without_a_method_in_connect_is_a_protocol_error() {
    let w = world(Arc::default());
    let mut c = w.connect5("a", true, 0);
    c.send(&auth(ReasonCode::ReAuthenticate, METHOD, "alice"));
    assert_eq!(disconnect_code(&c.recv()), Some(ReasonCode::ProtocolError));
    assert!(c.conn.is_closed());
}

#[test]
fn mqtt_4_12_0_6_no_method_no_auth_property_in_connack() {
    let w = world(Arc::default());
    let (_c, ack) = w.connect_with(connect_packet(ProtocolVersion::V5, "a", true));
    assert!(ack.properties.authentication_method.is_none() && ack.properties.authentication_data.is_none());
}

#[test]
fn pending_decision_holds_pipelined_packets_until_it_arrives() {
    let policy = Arc::new(ToyPolicy {
        defer: true,
        ..ToyPolicy::default()
    });
    let w = world(policy.clone());
    let mut watcher = w.connect5("watcher", true, 0);
    assert_eq!(watcher.subscribe("t", QoS::AtMostOnce), [ReasonCode::GrantedQoS0]);

    let mut c = w.client(ProtocolVersion::V5);
    let mut buf = BytesMut::new();
    let mut connect = connect_packet(ProtocolVersion::V5, "p", true);
    connect.username = Some("carol".into());
    encode_packet(&Packet::Connect(Box::new(connect)), ProtocolVersion::V5, &mut buf).unwrap();
    let publish = Packet::Publish(publish_packet("t", "early", QoS::AtMostOnce, 0));
    encode_packet(&publish, ProtocolVersion::V5, &mut buf).unwrap();
    c.conn.handle_read(c.now, &mut buf);
    assert!(c.recv().is_empty(), "no CONNACK before the decision");
    assert!(
        !c.conn.wants_read(c.now),
        "nothing is read while the decision is pending"
    );
    assert!(!buf.is_empty(), "the pipelined PUBLISH waits in the buffer");
    assert!(watcher.publishes().is_empty());

    let pending = policy.pending.lock().unwrap().pop().unwrap();
    let before = c.take_notified();
    pending.complete(Ok(Identity {
        username: Some(Arc::from("carol")),
        ..Identity::default()
    }));
    assert!(c.take_notified() > before, "completion wakes the connection");
    let Packet::ConnAck(ack) = only(c.recv()) else {
        panic!("expected CONNACK")
    };
    assert_eq!(ack.reason_code, ReasonCode::Success);
    assert!(c.conn.wants_read(c.now));
    c.conn.handle_read(c.now, &mut buf);
    let got = watcher.publishes();
    assert_eq!(got.len(), 1);
    assert_eq!(payload(&got[0]), "early");
}

#[test]
fn pending_refusal_answers_connack_with_its_code() {
    let policy = Arc::new(ToyPolicy {
        defer: true,
        ..ToyPolicy::default()
    });
    let w = world(policy.clone());
    let mut c = w.client(ProtocolVersion::V5);
    c.send(&Packet::Connect(Box::new(connect_packet(
        ProtocolVersion::V5,
        "p",
        true,
    ))));
    policy
        .pending
        .lock()
        .unwrap()
        .pop()
        .unwrap()
        .complete(Err(ReasonCode::BadUserNameOrPassword));
    let Packet::ConnAck(ack) = only(c.recv()) else {
        panic!("expected CONNACK")
    };
    assert_eq!(ack.reason_code, ReasonCode::BadUserNameOrPassword);
    assert!(c.conn.is_closed());
}

#[test]
fn pending_decision_that_never_comes_ends_at_the_connect_timeout() {
    let policy = Arc::new(ToyPolicy {
        defer: true,
        ..ToyPolicy::default()
    });
    let mut w = world(policy.clone());
    let mut c = w.client(ProtocolVersion::V5);
    c.send(&Packet::Connect(Box::new(connect_packet(
        ProtocolVersion::V5,
        "p",
        true,
    ))));
    let deadline = c.conn.poll_timeout().expect("the connect deadline stays armed");
    let now = w.at(3600);
    assert!(now >= deadline);
    c.conn.handle_timeout(now);
    assert!(c.conn.is_closed());
    // A late decision is harmless.
    policy
        .pending
        .lock()
        .unwrap()
        .pop()
        .unwrap()
        .complete(Ok(Identity::default()));
    c.set_now(now);
    assert!(c.recv().is_empty());
}
