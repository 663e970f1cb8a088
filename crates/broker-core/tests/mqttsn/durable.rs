//! A sensor with a persistent session (clean session false) gets the guarantees of an MQTT connection: its
//! PUBACK/PUBREC wait for the store's commit, its QoS 2 ids are committed with the message, PUBCOMP waits
//! for the id's removal, PUBREL to it waits for the PUBREC's state, and a commit that fails (disk full)
//! refuses the publish instead of acknowledging it.

use crate::harness::*;
use std::sync::{Arc, Mutex};
use tern_broker_core::{
    Accepted, AttachRequest, BrokerCore, CommitTicket, CoreConfig, Fanout, Hooks, Persistence, SessionHandle,
    SessionRecord, SubscribeRequest,
};
use tern_mqtt_codec::{QoS as MqttQoS, SubscriptionOptions};
use tern_mqttsn_codec::{Message, PubAck, QoS, ReturnCode, Topic};

/// A store whose commits complete (or fail) only when the test says so.
#[derive(Default)]
struct HeldStore {
    pending: Mutex<Vec<CommitTicket>>,
    /// Inbound QoS 2 ids committed with their message.
    inbound_added: Mutex<Vec<(String, u16)>>,
    /// Inbound QoS 2 ids released by PUBREL.
    inbound_removed: Mutex<Vec<(String, u16)>>,
    /// Outbound QoS 2 deliveries whose PUBREC the store recorded.
    released: Mutex<Vec<(String, u16)>>,
}

impl HeldStore {
    fn hold(&self) -> Option<CommitTicket> {
        let t = CommitTicket::new();
        self.pending.lock().unwrap().push(t.clone());
        Some(t)
    }
    fn complete_all(&self) {
        for t in self.pending.lock().unwrap().drain(..) {
            t.complete();
        }
    }
    fn fail_all(&self) {
        for t in self.pending.lock().unwrap().drain(..) {
            t.fail();
        }
    }
}

impl Persistence for HeldStore {
    fn message_accepted(&self, a: &Accepted<'_>) -> Option<CommitTicket> {
        if let Some((client, pid)) = a.inbound_qos2 {
            self.inbound_added.lock().unwrap().push((client.to_string(), pid));
        }
        self.pending.lock().unwrap().push(a.ticket.clone());
        Some(a.ticket.clone())
    }
    fn session_saved(&self, _: &SessionRecord) {}
    fn session_removed(&self, _: &str) {}
    fn delivery_acked(&self, _: &str, _: u16) {}
    fn delivery_released(&self, client_id: &str, packet_id: u16) -> Option<CommitTicket> {
        self.released
            .lock()
            .unwrap()
            .push((client_id.to_owned(), packet_id));
        self.hold()
    }
    fn inbound_released(&self, client_id: &str, packet_id: u16) -> Option<CommitTicket> {
        self.inbound_removed
            .lock()
            .unwrap()
            .push((client_id.to_owned(), packet_id));
        self.hold()
    }
}

fn net_with(store: &Arc<HeldStore>) -> Net {
    let t0 = std::time::Instant::now();
    let hooks = Hooks {
        persistence: store.clone(),
        ..Hooks::default()
    };
    let core = BrokerCore::with_hooks(
        CoreConfig {
            sys_interval: None,
            ..CoreConfig::default()
        },
        hooks,
        t0,
    );
    Net::on(core, config(), t0)
}

/// An MQTT-side subscriber with a session expiry: its copies are durable, so publishes to it need a commit.
fn durable_watcher(net: &Net, filter: &str) -> SessionHandle {
    let attached = net.core.attach(
        AttachRequest {
            client_id: "durable-watcher".into(),
            clean_start: true,
            expiry_interval: 3600,
            will: None,
            notifier: Arc::new(|| {}),
        },
        net.now,
    );
    let req = SubscribeRequest {
        filter,
        options: SubscriptionOptions {
            qos: MqttQoS::ExactlyOnce,
            ..SubscriptionOptions::default()
        },
        subscription_id: None,
    };
    net.core
        .subscribe(
            &attached.handle,
            &Default::default(),
            req,
            net.now,
            &mut Fanout::default(),
        )
        .unwrap();
    attached.handle
}

fn pulled_payloads(net: &Net, h: &SessionHandle) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    h.pull(net.now, 100, &mut out);
    out.into_iter()
        .filter_map(|o| match o {
            tern_broker_core::Outbound::Publish { delivery, .. } => Some(delivery.msg.payload.to_vec()),
            _ => None,
        })
        .collect()
}

#[test]
fn persistent_sensor_qos2_ids_are_committed_and_pubrec_pubcomp_wait_for_the_store() {
    let store = Arc::new(HeldStore::default());
    let mut net = net_with(&store);
    let w = durable_watcher(&net, "#");
    let s = addr(1);
    net.connect(s, "sensor", false, 60);
    let id = net.register(s, "t", 1);

    net.send(s, publish(Topic::Id(id), QoS::ExactlyOnce, 9, b"once"));
    assert!(
        net.take(s).is_empty(),
        "PUBREC parked until the message and its id are durable"
    );
    assert_eq!(
        *store.inbound_added.lock().unwrap(),
        vec![("sensor".to_owned(), 9)]
    );
    store.complete_all();
    assert_eq!(net.one(s), Message::PubRec { msg_id: 9 });

    // The sensor missed the PUBREC and re-sends: acknowledged again, not routed again.
    net.send(s, publish(Topic::Id(id), QoS::ExactlyOnce, 9, b"once"));
    assert_eq!(net.one(s), Message::PubRec { msg_id: 9 });
    assert_eq!(store.inbound_added.lock().unwrap().len(), 1);

    net.send(s, Message::PubRel { msg_id: 9 });
    assert!(
        net.take(s).is_empty(),
        "PUBCOMP parked until the store forgot the id"
    );
    assert_eq!(
        *store.inbound_removed.lock().unwrap(),
        vec![("sensor".to_owned(), 9)]
    );
    store.complete_all();
    assert_eq!(net.one(s), Message::PubComp { msg_id: 9 });
    assert_eq!(
        pulled_payloads(&net, &w),
        vec![b"once".to_vec()],
        "routed exactly once"
    );
}

#[test]
fn persistent_sensor_puback_waits_for_the_commit() {
    let store = Arc::new(HeldStore::default());
    let mut net = net_with(&store);
    let _w = durable_watcher(&net, "#");
    let s = addr(1);
    net.connect(s, "sensor", false, 60);
    let id = net.register(s, "t", 1);
    net.send(s, publish(Topic::Id(id), QoS::AtLeastOnce, 3, b"q1"));
    assert!(net.take(s).is_empty(), "PUBACK parked until the commit");
    store.complete_all();
    assert_eq!(
        net.one(s),
        Message::PubAck(PubAck {
            topic_id: id,
            msg_id: 3,
            return_code: ReturnCode::Accepted
        })
    );
}

#[test]
fn a_failed_commit_refuses_the_publish_and_a_retry_is_routed() {
    let store = Arc::new(HeldStore::default());
    let mut net = net_with(&store);
    let w = durable_watcher(&net, "#");
    let s = addr(1);
    net.connect(s, "sensor", false, 60);
    let id = net.register(s, "t", 1);
    let refused = Message::PubAck(PubAck {
        topic_id: id,
        msg_id: 4,
        return_code: ReturnCode::Congestion,
    });
    net.send(s, publish(Topic::Id(id), QoS::ExactlyOnce, 4, b"full"));
    store.fail_all();
    assert_eq!(
        net.one(s),
        refused,
        "QoS 2 refused with PUBACK congestion, never PUBREC"
    );
    net.send(s, publish(Topic::Id(id), QoS::AtLeastOnce, 5, b"full1"));
    store.fail_all();
    assert_eq!(
        net.one(s),
        Message::PubAck(PubAck {
            topic_id: id,
            msg_id: 5,
            return_code: ReturnCode::Congestion
        })
    );
    assert!(
        pulled_payloads(&net, &w).is_empty(),
        "a refused message is not delivered"
    );

    // Space returned: the same QoS 2 id is a new message again (it was forgotten), routed once.
    net.send(s, publish(Topic::Id(id), QoS::ExactlyOnce, 4, b"again"));
    store.complete_all();
    assert_eq!(net.one(s), Message::PubRec { msg_id: 4 });
    assert_eq!(pulled_payloads(&net, &w), vec![b"again".to_vec()]);
}

#[test]
fn pubrel_to_a_persistent_sensor_waits_for_its_pubrec_to_be_durable() {
    let store = Arc::new(HeldStore::default());
    let mut net = net_with(&store);
    let s = addr(1);
    net.connect(s, "sensor", false, 60);
    let got = net.subscribe(s, name("down"), QoS::ExactlyOnce, 1);
    assert!(matches!(got, Message::SubAck(a) if a.return_code == ReturnCode::Accepted));
    crate::publish::mqtt_publish(&net, "down", MqttQoS::ExactlyOnce, b"cmd", false);
    store.complete_all();
    let msg_id = match net.one(s) {
        Message::Publish(p) if &p.payload[..] == b"cmd" => p.msg_id,
        other => panic!("PUBLISH expected, got {other:?}"),
    };
    net.send(s, Message::PubRec { msg_id });
    assert!(
        net.take(s).is_empty(),
        "PUBREL parked until the PUBREC is durable"
    );
    net.at(6.0);
    assert!(
        net.take(s).is_empty(),
        "nor retransmitted by the retry timer before it was sent"
    );
    assert_eq!(
        *store.released.lock().unwrap(),
        vec![("sensor".to_owned(), msg_id)]
    );
    store.complete_all();
    assert_eq!(net.one(s), Message::PubRel { msg_id });
    net.send(s, Message::PubComp { msg_id });
    assert!(net.take(s).is_empty());
}

#[test]
fn clean_session_sensor_acks_without_persisting_its_ids() {
    let store = Arc::new(HeldStore::default());
    let mut net = net_with(&store);
    let s = addr(1);
    net.connect(s, "sensor", true, 60);
    let id = net.register(s, "t", 1);
    net.send(s, publish(Topic::Id(id), QoS::ExactlyOnce, 2, b"x"));
    assert_eq!(
        net.one(s),
        Message::PubRec { msg_id: 2 },
        "no durable copy: nothing to wait for"
    );
    net.send(s, Message::PubRel { msg_id: 2 });
    assert_eq!(net.one(s), Message::PubComp { msg_id: 2 });
    assert!(store.inbound_added.lock().unwrap().is_empty());
    assert!(store.inbound_removed.lock().unwrap().is_empty());
}
