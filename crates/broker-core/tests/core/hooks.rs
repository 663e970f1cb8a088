//! The durability and policy hooks, `$SYS`, and the transport-agnostic session API.

use crate::harness::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tern_broker_core::{
    Accepted, AttachRequest, AuthPolicy, CommitTicket, ConnMeta, CoreConfig, DetachKind, Hooks, Identity,
    MemoryPersistence, Message, Outbound, Persistence, SessionRecord,
};
use tern_mqtt_codec::{Connect, Packet, ProtocolVersion, QoS, ReasonCode};

/// A store whose commits complete only when the test says so.
#[derive(Default)]
struct SlowStore {
    pending: Mutex<Vec<CommitTicket>>,
    retained: Mutex<Vec<(String, usize)>>,
    saved: Mutex<Vec<SessionRecord>>,
    removed: Mutex<Vec<String>>,
    acked: Mutex<Vec<u16>>,
}

impl SlowStore {
    fn complete_all(&self) {
        for t in self.pending.lock().unwrap().drain(..) {
            t.complete();
        }
    }
}

impl Persistence for SlowStore {
    fn message_accepted(&self, a: &Accepted<'_>) -> Option<CommitTicket> {
        if a.retained {
            self.retained
                .lock()
                .unwrap()
                .push((a.msg.topic.to_string(), a.msg.payload.len()));
        }
        let t = a.ticket.clone();
        self.pending.lock().unwrap().push(t.clone());
        Some(t)
    }
    fn session_saved(&self, record: &SessionRecord) {
        self.saved.lock().unwrap().push(record.clone());
    }
    fn session_removed(&self, client_id: &str) {
        self.removed.lock().unwrap().push(client_id.to_owned());
    }
    fn delivery_acked(&self, _: &str, packet_id: u16) {
        self.acked.lock().unwrap().push(packet_id);
    }
}

#[test]
fn puback_waits_for_the_durable_commit() {
    let store = Arc::new(SlowStore::default());
    let hooks = Hooks {
        persistence: store.clone(),
        ..Hooks::default()
    };
    let w = World::with_hooks(
        CoreConfig {
            sys_interval: None,
            ..Default::default()
        },
        hooks,
    );
    let mut s = w.connect5("s", true, 300);
    s.subscribe("t", QoS::AtLeastOnce);
    assert!(
        store
            .saved
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.subscriptions.len() == 1)
    );
    let mut p = w.connect5("p", true, 0);
    p.publish("t", "x", QoS::AtLeastOnce, 1);
    p.publish("t", "y", QoS::AtMostOnce, 0);
    assert!(p.recv().is_empty(), "PUBACK parked until the commit is done");
    assert!(
        s.recv().is_empty(),
        "a durable subscriber's copy waits for the commit too"
    );
    p.take_notified();
    store.complete_all();
    assert!(p.take_notified() > 0, "completion wakes the connection");
    assert!(matches!(&p.recv()[..], [Packet::PubAck(a)] if a.packet_id == pid(1)));
    let got = s.publishes();
    s.puback(got[0].packet_id.unwrap());
    assert_eq!(
        *store.acked.lock().unwrap(),
        vec![got[0].packet_id.unwrap().get()]
    );
    s.disconnect(ReasonCode::NormalDisconnection);
    let mut s = w.connect5("s", true, 0);
    s.disconnect(ReasonCode::NormalDisconnection);
    assert!(store.removed.lock().unwrap().iter().any(|c| c == "s"));
}

#[test]
fn memory_persistence_acks_at_once() {
    let p = MemoryPersistence;
    let msg = Arc::new(Message {
        topic: "t".into(),
        payload: bytes::Bytes::new(),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Default::default(),
        expires_at: None,
        publisher: None,
    });
    let ticket = CommitTicket::new();
    let accepted = Accepted {
        msg: &msg,
        ticket: &ticket,
        deliveries: &[],
        retained: true,
        inbound_qos2: None,
    };
    assert!(p.message_accepted(&accepted).is_none());
}

struct DenyTopic;

impl AuthPolicy for DenyTopic {
    fn authenticate(&self, _: &ConnMeta, c: &Connect) -> Result<Identity, ReasonCode> {
        if c.username.as_deref() == Some("bad") {
            return Err(ReasonCode::BadUserNameOrPassword);
        }
        Ok(Identity::default())
    }
    fn authorize_publish(&self, _: &Identity, topic: &str) -> bool {
        !topic.starts_with("secret")
    }
    fn authorize_subscribe(&self, _: &Identity, filter: &str) -> bool {
        !filter.starts_with("secret")
    }
}

fn policy_world() -> World {
    let hooks = Hooks {
        policy: Arc::new(DenyTopic),
        ..Hooks::default()
    };
    World::with_hooks(
        CoreConfig {
            sys_interval: None,
            ..Default::default()
        },
        hooks,
    )
}

#[test]
fn policy_refuses_connect_publish_subscribe() {
    let w = policy_world();
    let mut c = connect_packet(ProtocolVersion::V5, "x", true);
    c.username = Some("bad".into());
    let (_, ack) = w.connect_with(c);
    assert_eq!(ack.reason_code, ReasonCode::BadUserNameOrPassword);

    let mut s = w.connect5("s", true, 0);
    assert_eq!(
        s.subscribe("secret/#", QoS::AtMostOnce),
        vec![ReasonCode::NotAuthorized]
    );
    s.subscribe("#", QoS::AtMostOnce);
    let mut p = w.connect5("p", true, 0);
    p.publish("secret/a", "x", QoS::AtLeastOnce, 1);
    assert!(matches!(&p.recv()[..], [Packet::PubAck(a)] if a.reason_code == ReasonCode::NotAuthorized));
    p.publish("secret/a", "x", QoS::ExactlyOnce, 2);
    assert!(matches!(&p.recv()[..], [Packet::PubRec(a)] if a.reason_code == ReasonCode::NotAuthorized));
    assert!(s.publishes().is_empty());

    let mut s3 = w.connect311("s3", true);
    assert_eq!(
        s3.subscribe("secret/#", QoS::AtMostOnce),
        vec![ReasonCode::UnspecifiedError]
    );
    let mut p3 = w.connect311("p3", true);
    p3.publish("secret/a", "x", QoS::AtLeastOnce, 1);
    assert!(
        matches!(&p3.recv()[..], [Packet::PubAck(_)]),
        "3.1.1: acknowledged and dropped"
    );
    assert!(s.publishes().is_empty());
    let stats = w.core.stats();
    assert_eq!(
        (stats.auth_refused, stats.publish_denied, stats.subscribe_denied),
        (1, 3, 2),
        "every refusal is counted"
    );
}

#[test]
fn sys_topics_published_every_interval() {
    let mut w = World::new(CoreConfig {
        sys_interval: Some(Duration::from_secs(10)),
        ..Default::default()
    });
    let mut s = w.connect5("s", true, 0);
    s.subscribe("$SYS/#", QoS::AtMostOnce);
    w.at(0);
    let got = s.publishes();
    let topics: Vec<&str> = got.iter().map(|p| &*p.topic).collect();
    for t in [
        "$SYS/broker/uptime",
        "$SYS/broker/version",
        "$SYS/broker/clients/connected",
        "$SYS/broker/clients/total",
        "$SYS/broker/messages/received",
        "$SYS/broker/messages/sent",
        "$SYS/broker/bytes/received",
        "$SYS/broker/bytes/sent",
        "$SYS/broker/subscriptions/count",
        "$SYS/broker/retained messages/count",
        "$SYS/broker/messages/dropped",
    ] {
        assert!(topics.contains(&t), "{t} missing");
    }
    let connected = got
        .iter()
        .find(|p| &*p.topic == "$SYS/broker/clients/connected")
        .unwrap();
    assert_eq!(payload(connected), "1");
    assert_eq!(w.core.poll_timeout(), Some(w.t0 + Duration::from_secs(10)));
    w.at(5);
    assert!(s.publishes().is_empty());
    w.at(10);
    let uptime = s
        .publishes()
        .into_iter()
        .find(|p| &*p.topic == "$SYS/broker/uptime")
        .unwrap();
    assert_eq!(payload(&uptime), "10 seconds");
    // Retained: a late subscriber gets them at once; `#` does not match `$SYS` ([MQTT-4.7.2-1]).
    let mut late = w.connect5("late", true, 0);
    late.subscribe("#", QoS::AtMostOnce);
    assert!(late.publishes().is_empty());
    late.subscribe("$SYS/broker/version", QoS::AtMostOnce);
    assert_eq!(late.publishes().len(), 1);
}

#[test]
fn session_api_without_mqtt_connection() {
    let w = World::quiet();
    let n: tern_broker_core::Notifier = Arc::new(|| {});
    let req = |clean| AttachRequest {
        client_id: Arc::from("sn-1"),
        clean_start: clean,
        expiry_interval: 60,
        will: None,
        notifier: n.clone(),
    };
    let attached = w.core.attach(req(true), w.now);
    assert!(!attached.session_present);
    let h = attached.handle;
    let mut fanout = tern_broker_core::Fanout::default();
    let sub = tern_broker_core::SubscribeRequest {
        filter: "t",
        options: sub_opts(QoS::AtLeastOnce),
        subscription_id: None,
    };
    assert_eq!(
        w.core
            .subscribe(&h, &Identity::default(), sub, w.now, &mut fanout),
        Ok(QoS::AtLeastOnce)
    );
    let mut p = w.connect5("p", true, 0);
    p.publish("t", "x", QoS::AtLeastOnce, 1);
    let mut out = Vec::new();
    h.pull(w.now, 10, &mut out);
    let Some(Outbound::Publish {
        packet_id: Some(id),
        delivery,
        ..
    }) = out.pop()
    else {
        panic!("no delivery")
    };
    assert_eq!(&delivery.msg.payload[..], b"x");
    assert!(h.puback(id));
    w.core.detach(&h, DetachKind::Normal, w.now);
    let again = w.core.attach(req(false), w.now);
    assert!(again.session_present);
    assert!(!h.is_current());
}

#[test]
fn stats_count_traffic() {
    let w = World::quiet();
    let mut s = w.connect5("s", true, 0);
    s.subscribe("t", QoS::AtMostOnce);
    let mut p = w.connect5("p", true, 0);
    p.publish("t", "x", QoS::AtMostOnce, 0);
    s.publishes();
    let st = w.core.stats();
    assert_eq!(st.connections, 2);
    assert_eq!(st.sessions, 2);
    assert_eq!(st.subscriptions, 1);
    assert_eq!(st.messages_in, 1);
    assert_eq!(st.messages_out, 1);
    assert!(st.bytes_in > 0 && st.bytes_out > 0);
}

#[test]
fn retained_changes_reach_the_store_but_sys_does_not() {
    let store = Arc::new(SlowStore::default());
    let hooks = Hooks {
        persistence: store.clone(),
        ..Hooks::default()
    };
    let mut w = World::with_hooks(CoreConfig::default(), hooks);
    w.at(0);
    let mut p = w.connect5("p", true, 0);
    p.publish_retained("r", "x", QoS::AtMostOnce, 0);
    p.publish_retained("r", "", QoS::AtMostOnce, 0);
    assert!(p.recv().iter().all(|p| !matches!(p, Packet::PubAck(_))));
    assert_eq!(
        *store.retained.lock().unwrap(),
        vec![("r".to_owned(), 1), ("r".to_owned(), 0)]
    );
}

#[test]
fn will_topic_must_be_authorized() {
    let w = policy_world();
    let mut c = connect_packet(ProtocolVersion::V5, "x", true);
    c.will = Some(will("secret/w", "x", None));
    let (_, ack) = w.connect_with(c);
    assert_eq!(ack.reason_code, ReasonCode::NotAuthorized);
}

#[test]
fn core_is_shareable_and_connections_are_sendable() {
    fn shared<T: Send + Sync>() {}
    fn sendable<T: Send>() {}
    shared::<tern_broker_core::BrokerCore>();
    sendable::<tern_broker_core::MqttConnection>();
    shared::<tern_broker_core::SessionHandle>();
}

#[test]
fn one_wake_up_per_session_per_read() {
    let w = World::quiet();
    let mut s = w.connect5("s", true, 0);
    s.subscribe("t/#", QoS::AtMostOnce);
    s.take_notified();
    let mut p = w.connect5("p", true, 0);
    let mut buf = bytes::BytesMut::new();
    for i in 0..3 {
        let pkt = Packet::Publish(publish_packet(&format!("t/{i}"), "x", QoS::AtMostOnce, 0));
        tern_mqtt_codec::encode_packet(&pkt, ProtocolVersion::V5, &mut buf).unwrap();
    }
    p.conn.handle_read(w.now, &mut buf);
    assert_eq!(s.take_notified(), 1);
    assert_eq!(s.publishes().len(), 3);
}
