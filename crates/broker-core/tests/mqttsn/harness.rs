//! A fake clock, a gateway on a core, and simulated sensors that encode datagrams into
//! `handle_datagram` and collect what `poll_transmit` addressed to them.

use bytes::{Bytes, BytesMut};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tern_broker_core::mqttsn::{SnConfig, SnGateway};
use tern_broker_core::{BrokerCore, CoreConfig};
use tern_mqttsn_codec::{
    Connect, Message, ProtocolVersion, Publish, QoS, Subscribe, Topic, TopicFilter, Utf8Bytes,
};

/// A core, a gateway and a fake clock; datagrams the gateway sent, by destination.
pub struct Net {
    pub core: Arc<BrokerCore>,
    pub gw: SnGateway,
    pub t0: Instant,
    pub now: Instant,
    pub inbox: HashMap<SocketAddr, VecDeque<Message>>,
}

pub fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, 1], port))
}

pub fn config() -> SnConfig {
    SnConfig {
        predefined_topics: BTreeMap::from([(7, "predef/seven".to_owned())]),
        retry_interval: Duration::from_secs(5),
        max_retries: 2,
        ..SnConfig::default()
    }
}

impl Net {
    pub fn new(sn: SnConfig) -> Net {
        let t0 = Instant::now();
        let core = BrokerCore::new(
            CoreConfig {
                sys_interval: None,
                ..CoreConfig::default()
            },
            t0,
        );
        Net::on(core, sn, t0)
    }

    pub fn on(core: Arc<BrokerCore>, sn: SnConfig, t0: Instant) -> Net {
        let gw = SnGateway::new(core.clone(), sn, Arc::new(|| {}), t0);
        Net {
            core,
            gw,
            t0,
            now: t0,
            inbox: HashMap::new(),
        }
    }

    /// Moves the clock to `t0 + secs` (fractions allowed) and runs the timers.
    pub fn at(&mut self, secs: f64) {
        self.now = self.t0 + Duration::from_secs_f64(secs);
        self.core.handle_timeout(self.now);
        self.gw.handle_timeout(self.now);
        self.flush();
    }

    pub fn flush(&mut self) {
        while let Some((to, d)) = self.gw.poll_transmit(self.now) {
            let msg = Message::decode(&d).expect("the gateway sends valid datagrams");
            self.inbox.entry(to).or_default().push_back(msg);
        }
    }

    pub fn raw(&mut self, from: SocketAddr, bytes: &[u8]) {
        self.gw
            .handle_datagram(self.now, from, Bytes::copy_from_slice(bytes));
        self.flush();
    }

    pub fn send(&mut self, from: SocketAddr, msg: Message) {
        let mut buf = BytesMut::new();
        msg.encode(&mut buf).expect("encodable");
        self.gw.handle_datagram(self.now, from, buf.freeze());
        self.flush();
    }

    /// Every message delivered to `to` since the last call.
    pub fn take(&mut self, to: SocketAddr) -> Vec<Message> {
        self.flush();
        self.inbox
            .get_mut(&to)
            .map(|q| q.drain(..).collect())
            .unwrap_or_default()
    }

    /// The single next message for `to` (panics otherwise).
    pub fn one(&mut self, to: SocketAddr) -> Message {
        let got = self.take(to);
        assert_eq!(got.len(), 1, "expected one message for {to}, got {got:?}");
        got.into_iter().next().unwrap()
    }

    /// CONNECT without will; asserts CONNACK accepted.
    pub fn connect(&mut self, from: SocketAddr, id: &str, clean: bool, keep_alive: u16) {
        self.send(from, connect_msg(id, clean, false, keep_alive));
        let got = self.take(from);
        assert!(
            matches!(got.first(), Some(Message::ConnAck { return_code }) if return_code.is_accepted()),
            "CONNACK expected, got {got:?}"
        );
    }

    /// SUBSCRIBE by name; returns the SUBACK's (granted QoS, topic id).
    pub fn subscribe(&mut self, from: SocketAddr, filter: TopicFilter, qos: QoS, msg_id: u16) -> Message {
        self.send(
            from,
            Message::Subscribe(Subscribe {
                dup: false,
                qos,
                msg_id,
                topic: filter,
            }),
        );
        let got = self.take(from);
        got.into_iter().next().expect("SUBACK")
    }

    /// REGISTER `name`; returns the topic id.
    pub fn register(&mut self, from: SocketAddr, name: &str, msg_id: u16) -> u16 {
        self.send(
            from,
            Message::Register(tern_mqttsn_codec::Register {
                topic_id: 0,
                msg_id,
                topic_name: Utf8Bytes::from(name.to_owned()),
            }),
        );
        match self.one(from) {
            Message::RegAck(a) if a.return_code.is_accepted() && a.msg_id == msg_id => a.topic_id,
            other => panic!("REGACK expected, got {other:?}"),
        }
    }
}

pub fn connect_msg(id: &str, clean: bool, will: bool, duration: u16) -> Message {
    Message::Connect(Connect {
        will,
        clean_session: clean,
        version: ProtocolVersion::V1_2,
        duration,
        client_id: Utf8Bytes::from(id.to_owned()),
    })
}

pub fn publish(topic: Topic, qos: QoS, msg_id: u16, payload: &'static [u8]) -> Message {
    Message::Publish(Publish {
        dup: false,
        qos,
        retain: false,
        topic,
        msg_id,
        payload: Bytes::from_static(payload),
    })
}

pub fn name(s: &str) -> TopicFilter {
    TopicFilter::Name(Utf8Bytes::from(s.to_owned()))
}
