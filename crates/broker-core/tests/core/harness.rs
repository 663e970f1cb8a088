//! Simulated clients for core scenarios: a fake client encodes packets into a connection's `handle_read`
//! and decodes what `poll_transmit` produced. No sockets, no sleeps: time is `t0 + offset`.

use bytes::{Bytes, BytesMut};
use std::net::SocketAddr;
use std::num::{NonZeroU16, NonZeroU32};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tern_broker_core::{BrokerCore, ConnMeta, CoreConfig, Hooks, MqttConnection, TransportKind};
use tern_mqtt_codec::{
    ByteStr, Connect, ConnectProperties, Disconnect, Packet, PacketId, ProtocolVersion, PubAck, Publish,
    PublishProperties, QoS, ReasonCode, RetainHandling, Subscribe, SubscribeFilter, SubscribeProperties,
    SubscriptionOptions, Unsubscribe, Will, WillProperties, decode_packet, encode_packet,
};

/// A broker plus a fake clock.
pub struct World {
    pub core: Arc<BrokerCore>,
    pub t0: Instant,
    pub now: Instant,
}

impl World {
    pub fn new(config: CoreConfig) -> World {
        let t0 = Instant::now();
        World {
            core: BrokerCore::new(config, t0),
            t0,
            now: t0,
        }
    }

    pub fn with_hooks(config: CoreConfig, hooks: Hooks) -> World {
        let t0 = Instant::now();
        World {
            core: BrokerCore::with_hooks(config, hooks, t0),
            t0,
            now: t0,
        }
    }

    /// Default config without `$SYS` noise.
    pub fn quiet() -> World {
        World::new(CoreConfig {
            sys_interval: None,
            ..CoreConfig::default()
        })
    }

    /// Moves the clock to `t0 + secs` and runs the core's timers.
    pub fn at(&mut self, secs: u64) -> Instant {
        self.now = self.t0 + Duration::from_secs(secs);
        self.core.handle_timeout(self.now);
        self.now
    }

    pub fn client(&self, version: ProtocolVersion) -> Client {
        let notified = Arc::new(AtomicUsize::new(0));
        let n = notified.clone();
        let meta = ConnMeta {
            peer: SocketAddr::from(([127, 0, 0, 1], 40000)),
            transport: TransportKind::Tcp,
            tls_identity: None,
            listener: None,
        };
        let notifier = Arc::new(move || {
            n.fetch_add(1, Ordering::SeqCst);
        });
        Client {
            conn: MqttConnection::new(self.core.clone(), meta, notifier, self.now),
            version,
            notified,
            inbox: BytesMut::new(),
            stash: Vec::new(),
            now: self.now,
        }
    }

    /// Connects a client with `connect`, returns it and its CONNACK.
    pub fn connect_with(&self, connect: Connect) -> (Client, tern_mqtt_codec::ConnAck) {
        let mut c = self.client(connect.protocol);
        c.send(&Packet::Connect(Box::new(connect)));
        let mut ack = None;
        for p in c.recv() {
            match p {
                Packet::ConnAck(a) if ack.is_none() => ack = Some(*a),
                other => c.stash.push(other),
            }
        }
        (c, ack.expect("CONNACK"))
    }

    /// Connects a 5.0 client with clean start and the given session expiry, asserting success.
    pub fn connect5(&self, id: &str, clean: bool, expiry: u32) -> Client {
        let mut c = connect_packet(ProtocolVersion::V5, id, clean);
        c.properties.session_expiry_interval = Some(expiry);
        let (client, ack) = self.connect_with(c);
        assert_eq!(ack.reason_code, ReasonCode::Success);
        client
    }

    pub fn connect311(&self, id: &str, clean: bool) -> Client {
        let (client, ack) = self.connect_with(connect_packet(ProtocolVersion::V3_1_1, id, clean));
        assert_eq!(ack.reason_code, ReasonCode::Success);
        client
    }
}

/// A simulated client driving one `MqttConnection`.
pub struct Client {
    pub conn: MqttConnection,
    pub version: ProtocolVersion,
    pub notified: Arc<AtomicUsize>,
    inbox: BytesMut,
    /// Packets received but not yet looked at (those that came with the CONNACK).
    stash: Vec<Packet>,
    pub now: Instant,
}

impl Client {
    pub fn set_now(&mut self, now: Instant) {
        self.now = now;
    }

    pub fn send(&mut self, p: &Packet) {
        let mut buf = BytesMut::new();
        encode_packet(p, self.version, &mut buf).expect("encode");
        self.conn.handle_read(self.now, &mut buf);
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        let mut buf = BytesMut::from(bytes);
        self.conn.handle_read(self.now, &mut buf);
    }

    /// Everything the connection has to send, decoded.
    pub fn recv(&mut self) -> Vec<Packet> {
        let mut out = BytesMut::new();
        self.conn.poll_transmit(self.now, &mut out);
        self.inbox.extend_from_slice(&out);
        let mut packets = std::mem::take(&mut self.stash);
        while let Some(p) =
            decode_packet(&mut self.inbox, self.version, u32::MAX).expect("decode from broker")
        {
            packets.push(p);
        }
        packets
    }

    /// Raw bytes the connection would write.
    pub fn recv_bytes(&mut self) -> BytesMut {
        let mut out = BytesMut::new();
        self.conn.poll_transmit(self.now, &mut out);
        out
    }

    pub fn publishes(&mut self) -> Vec<Publish> {
        self.recv()
            .into_iter()
            .filter_map(|p| match p {
                Packet::Publish(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    pub fn subscribe(&mut self, filter: &str, qos: QoS) -> Vec<ReasonCode> {
        self.subscribe_opts(
            filter,
            SubscriptionOptions {
                qos,
                ..Default::default()
            },
            None,
        )
    }

    pub fn subscribe_opts(
        &mut self,
        filter: &str,
        options: SubscriptionOptions,
        sub_id: Option<u32>,
    ) -> Vec<ReasonCode> {
        self.send(&Packet::Subscribe(Subscribe {
            packet_id: pid(100),
            properties: SubscribeProperties {
                subscription_identifier: sub_id.and_then(NonZeroU32::new),
                user_properties: Vec::new(),
            },
            filters: vec![SubscribeFilter {
                filter: filter.into(),
                options,
            }],
        }));
        self.suback()
    }

    /// The reason codes of the next SUBACK (other packets are kept for the next `recv`).
    pub fn suback(&mut self) -> Vec<ReasonCode> {
        let mut codes = None;
        for p in self.recv() {
            match p {
                Packet::SubAck(s) if codes.is_none() => codes = Some(s.reason_codes),
                other => self.stash.push(other),
            }
        }
        codes.expect("SUBACK")
    }

    pub fn unsubscribe(&mut self, filter: &str) -> Vec<Packet> {
        self.send(&Packet::Unsubscribe(Unsubscribe {
            packet_id: pid(101),
            user_properties: Vec::new(),
            filters: vec![filter.into()],
        }));
        self.recv()
    }

    pub fn publish(&mut self, topic: &str, payload: &str, qos: QoS, id: u16) {
        self.send(&Packet::Publish(publish_packet(topic, payload, qos, id)));
    }

    pub fn publish_retained(&mut self, topic: &str, payload: &str, qos: QoS, id: u16) {
        let mut p = publish_packet(topic, payload, qos, id);
        p.retain = true;
        self.send(&Packet::Publish(p));
    }

    pub fn puback(&mut self, id: PacketId) {
        self.send(&Packet::PubAck(PubAck::new(id)));
    }

    pub fn disconnect(&mut self, code: ReasonCode) {
        self.send(&Packet::Disconnect(Disconnect::new(code)));
    }

    pub fn take_notified(&self) -> usize {
        self.notified.swap(0, Ordering::SeqCst)
    }
}

pub fn pid(n: u16) -> PacketId {
    NonZeroU16::new(n).expect("non-zero")
}

pub fn connect_packet(version: ProtocolVersion, id: &str, clean: bool) -> Connect {
    Connect {
        protocol: version,
        clean_start: clean,
        keep_alive: 0,
        client_id: id.into(),
        will: None,
        username: None,
        password: None,
        properties: ConnectProperties::default(),
    }
}

pub fn will(topic: &str, payload: &str, delay: Option<u32>) -> Will {
    Will {
        topic: topic.into(),
        payload: Bytes::copy_from_slice(payload.as_bytes()),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: WillProperties {
            will_delay_interval: delay,
            ..Default::default()
        },
    }
}

pub fn publish_packet(topic: &str, payload: &str, qos: QoS, id: u16) -> Publish {
    Publish {
        dup: false,
        qos,
        retain: false,
        topic: ByteStr::from(topic),
        packet_id: if qos == QoS::AtMostOnce {
            None
        } else {
            NonZeroU16::new(id)
        },
        properties: PublishProperties::default(),
        payload: Bytes::copy_from_slice(payload.as_bytes()),
    }
}

pub fn payload(p: &Publish) -> &str {
    std::str::from_utf8(&p.payload).expect("utf8")
}

pub fn sub_opts(qos: QoS) -> SubscriptionOptions {
    SubscriptionOptions {
        qos,
        no_local: false,
        retain_as_published: false,
        retain_handling: RetainHandling::SendAtSubscribe,
    }
}

pub fn disconnect_code(packets: &[Packet]) -> Option<ReasonCode> {
    packets.iter().find_map(|p| match p {
        Packet::Disconnect(d) => Some(d.reason_code),
        _ => None,
    })
}

impl Client {
    /// QoS 1/2 deliveries to this client awaiting acknowledgement.
    pub fn conn_inflight(&self) -> usize {
        self.conn.session().map_or(0, |s| s.inflight_len())
    }
}
