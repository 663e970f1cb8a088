//! MQTT-SN QoS 2 exactly once across a crash: a sensor with a persistent session (clean session false)
//! publishes through the gateway on a core with the real store; the broker "crashes" (the core and gateway
//! are dropped without detaching, the store file is all that is left) between PUBREC and PUBREL, and again
//! after PUBCOMP. The retransmission after the first restart is recognised and not routed again; after the
//! second, the same message id is a new message.

mod support;
use support::*;

use bytes::{Bytes, BytesMut};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tern_broker_core::mqttsn::{SnConfig, SnGateway};
use tern_broker_core::{
    AttachRequest, BrokerCore, CoreConfig, Fanout, Hooks, Identity, Outbound, SessionHandle, SubscribeRequest,
};
use tern_mqtt_codec::{QoS as MqttQoS, SubscriptionOptions};
use tern_mqttsn_codec::{Connect, Message, ProtocolVersion, Publish, QoS, Register, Topic, Utf8Bytes};
use tern_store::{Durability, Store};

const SENSOR: &str = "sensor";

/// One broker life: store, core, gateway.
struct Life {
    store: Arc<Store>,
    core: Arc<BrokerCore>,
    gw: SnGateway,
    now: Instant,
}

fn sensor() -> SocketAddr {
    SocketAddr::from(([10, 0, 0, 1], 1884))
}

impl Life {
    fn start(path: &std::path::Path, now: Instant) -> Life {
        let (store, rec) = Store::open(path, Durability::Sync, now).unwrap();
        let hooks = Hooks {
            persistence: store.clone(),
            ..Hooks::default()
        };
        let config = CoreConfig {
            sys_interval: None,
            ..CoreConfig::default()
        };
        let core = BrokerCore::with_hooks(config, hooks, now);
        core.restore(rec, now);
        let gw = SnGateway::new(core.clone(), SnConfig::default(), Arc::new(|| {}), now);
        Life { store, core, gw, now }
    }

    /// kill -9 stand-in: nothing detaches; what was committed is all that is left.
    fn crash(self) {
        self.store.close();
    }

    /// Sends `msg` from the sensor and returns what the gateway answered once the store caught up.
    fn exchange(&mut self, msg: Message) -> Vec<Message> {
        let mut buf = BytesMut::new();
        msg.encode(&mut buf).unwrap();
        self.gw.handle_datagram(self.now, sensor(), buf.freeze());
        // The store completes commits on its own thread; flushing makes every one so far done.
        self.store.flush();
        let mut out = Vec::new();
        while let Some((to, d)) = self.gw.poll_transmit(self.now) {
            assert_eq!(to, sensor());
            out.push(Message::decode(&d).unwrap());
        }
        out
    }

    fn connect(&mut self) {
        let got = self.exchange(Message::Connect(Connect {
            will: false,
            clean_session: false,
            version: ProtocolVersion::V1_2,
            duration: 600,
            client_id: Utf8Bytes::from(SENSOR.to_owned()),
        }));
        assert!(
            matches!(got.first(), Some(Message::ConnAck { return_code }) if return_code.is_accepted()),
            "{got:?}"
        );
        let got = self.exchange(Message::Register(Register {
            topic_id: 0,
            msg_id: 1,
            topic_name: Utf8Bytes::from("t".to_owned()),
        }));
        assert!(
            matches!(got.first(), Some(Message::RegAck(a)) if a.topic_id == 1),
            "{got:?}"
        );
    }

    /// The MQTT subscriber with a persistent session; `clean` on its first attach.
    fn watcher(&self, clean: bool) -> SessionHandle {
        let a = self.core.attach(
            AttachRequest {
                client_id: "watcher".into(),
                clean_start: clean,
                expiry_interval: 3600,
                will: None,
                notifier: Arc::new(|| {}),
            },
            self.now,
        );
        if clean {
            let req = SubscribeRequest {
                filter: "t",
                options: SubscriptionOptions {
                    qos: MqttQoS::ExactlyOnce,
                    ..Default::default()
                },
                subscription_id: None,
            };
            self.core
                .subscribe(
                    &a.handle,
                    &Identity::default(),
                    req,
                    self.now,
                    &mut Fanout::default(),
                )
                .unwrap();
        }
        a.handle
    }
}

fn publish(msg_id: u16, dup: bool, payload: &'static [u8]) -> Message {
    Message::Publish(Publish {
        dup,
        qos: QoS::ExactlyOnce,
        retain: false,
        topic: Topic::Id(1),
        msg_id,
        payload: Bytes::from_static(payload),
    })
}

/// Payloads the watcher received, completing each QoS 2 exchange.
fn received(h: &SessionHandle, now: Instant) -> Vec<String> {
    let mut out = Vec::new();
    h.pull(now, 100, &mut out);
    let mut got = Vec::new();
    for o in out {
        if let Outbound::Publish {
            packet_id: Some(id),
            delivery,
            ..
        } = o
        {
            got.push(String::from_utf8_lossy(&delivery.msg.payload).into_owned());
            h.pubrec(id, true);
            h.pubcomp(id);
        }
    }
    got
}

#[test]
fn mqttsn_qos2_is_exactly_once_across_crashes() {
    let dir = temp_dir("sn-qos2");
    let path = dir.join("tern.redb");
    let t0 = Instant::now();

    let mut life = Life::start(&path, t0);
    let _w = life.watcher(true);
    life.connect();
    assert_eq!(
        life.exchange(publish(7, false, b"once")),
        vec![Message::PubRec { msg_id: 7 }]
    );
    life.crash();

    // Restart between PUBREC and PUBREL: the sensor never saw the PUBREC and re-sends.
    let mut life = Life::start(&path, t0 + Duration::from_secs(1));
    life.now = t0 + Duration::from_secs(1);
    let w = life.watcher(false);
    life.connect();
    assert_eq!(
        life.exchange(publish(7, true, b"once")),
        vec![Message::PubRec { msg_id: 7 }]
    );
    assert_eq!(
        life.exchange(Message::PubRel { msg_id: 7 }),
        vec![Message::PubComp { msg_id: 7 }]
    );
    assert_eq!(
        received(&w, life.now),
        vec!["once"],
        "routed exactly once across the crash"
    );
    life.store.flush();
    life.crash();

    // Restart after PUBCOMP: the id was forgotten durably, so its reuse is a new message.
    let now = t0 + Duration::from_secs(2);
    let mut life = Life::start(&path, now);
    life.now = now;
    let w = life.watcher(false);
    life.connect();
    assert_eq!(
        life.exchange(publish(7, false, b"next")),
        vec![Message::PubRec { msg_id: 7 }]
    );
    assert_eq!(
        life.exchange(Message::PubRel { msg_id: 7 }),
        vec![Message::PubComp { msg_id: 7 }]
    );
    assert_eq!(
        received(&w, now),
        vec!["next"],
        "a new message with the reused id is delivered"
    );
    life.crash();
    let _ = std::fs::remove_dir_all(&dir);
}
