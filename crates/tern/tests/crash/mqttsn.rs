//! MQTT-SN QoS 2 exactly once across `kill -9` of the real binary: a sensor with a persistent session
//! (clean session false) gets PUBREC, the broker is killed before the sensor's PUBREL, and the sensor's
//! retransmission after the restart is acknowledged without being routed again. The MQTT subscriber (a
//! durable session) receives the message once.

use crate::raw::{Raw, ack};
use crate::{Broker, free_port};
use bytes::{Bytes, BytesMut};
use std::net::UdpSocket;
use std::time::{Duration, Instant};
use tern_mqtt_codec::{Packet, QoS as MqttQoS};
use tern_mqttsn_codec::{Connect, Message, ProtocolVersion, Publish, QoS, Register, Topic, Utf8Bytes};

/// A sensor on a UDP socket, talking to the gateway at `gw`.
struct Sensor {
    sock: UdpSocket,
    gw: std::net::SocketAddr,
}

impl Sensor {
    fn send(&self, msg: &Message) {
        let mut buf = BytesMut::new();
        msg.encode(&mut buf).expect("encodable");
        self.sock.send_to(&buf, self.gw).expect("send");
    }

    /// The next message from the gateway, within two seconds.
    fn recv(&self) -> Option<Message> {
        let mut buf = [0u8; 2048];
        let (n, _) = self.sock.recv_from(&mut buf).ok()?;
        Message::decode(&Bytes::copy_from_slice(&buf[..n])).ok()
    }

    /// Sends `msg` until the gateway answers with what `want` accepts (UDP: the first try may be lost while
    /// the broker starts). Bounded.
    fn request(&self, msg: &Message, want: impl Fn(&Message) -> bool) -> Message {
        for _ in 0..10 {
            self.send(msg);
            let deadline = Instant::now() + Duration::from_secs(2);
            while Instant::now() < deadline {
                match self.recv() {
                    Some(m) if want(&m) => return m,
                    Some(_) => {}
                    None => break,
                }
            }
        }
        panic!("no answer to {msg:?}");
    }

    /// CONNECT (clean session false) and REGISTER the topic; returns its id.
    fn connect(&self, topic: &str) -> u16 {
        let connect = Message::Connect(Connect {
            will: false,
            clean_session: false,
            version: ProtocolVersion::V1_2,
            duration: 60,
            client_id: Utf8Bytes::from("sensor".to_owned()),
        });
        let got = self.request(&connect, |m| matches!(m, Message::ConnAck { .. }));
        assert!(matches!(got, Message::ConnAck { return_code } if return_code.is_accepted()));
        let register = Message::Register(Register {
            topic_id: 0,
            msg_id: 1,
            topic_name: Utf8Bytes::from(topic.to_owned()),
        });
        match self.request(&register, |m| matches!(m, Message::RegAck(_))) {
            Message::RegAck(a) if a.return_code.is_accepted() => a.topic_id,
            other => panic!("REGACK expected: {other:?}"),
        }
    }
}

fn publish(topic_id: u16, dup: bool) -> Message {
    Message::Publish(Publish {
        dup,
        qos: QoS::ExactlyOnce,
        retain: false,
        topic: Topic::Id(topic_id),
        msg_id: 7,
        payload: Bytes::from_static(b"exactly once"),
    })
}

#[test]
fn mqttsn_qos2_is_exactly_once_across_kill_9() {
    let dir = std::env::temp_dir().join(format!("tern-crash-sn-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let port = free_port();
    let udp_port = UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("udp port")
        .port();
    let config = dir.join("tern.toml");
    let toml = format!(
        "data_dir = {dir:?}\n[log]\nlevel = \"warn\"\n[[listener]]\ntype = \"tcp\"\n\
         bind = \"127.0.0.1:{port}\"\n[[listener]]\ntype = \"mqttsn\"\nbind = \"127.0.0.1:{udp_port}\"\n\
         [store]\ndurability = \"sync\"\n"
    );
    std::fs::write(&config, toml).expect("config");
    let mut broker = Broker {
        config,
        port,
        child: None,
    };
    broker.start();

    // The MQTT subscriber: a durable session, offline while the sensor publishes.
    let (mut w, _) = Raw::connect(port, "watcher", true).expect("connect");
    w.subscribe("sn/t", MqttQoS::ExactlyOnce).expect("subscribe");
    w.disconnect();

    let sock = UdpSocket::bind("127.0.0.1:0").expect("udp");
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let sensor = Sensor {
        sock,
        gw: ([127, 0, 0, 1], udp_port).into(),
    };
    let topic = sensor.connect("sn/t");
    let rec = sensor.request(&publish(topic, false), |m| matches!(m, Message::PubRec { .. }));
    assert_eq!(rec, Message::PubRec { msg_id: 7 });

    // kill -9 before the PUBREL: the sensor re-sends after the restart, as if the PUBREC was lost.
    broker.kill9();
    broker.start();
    let topic = sensor.connect("sn/t");
    let rec = sensor.request(&publish(topic, true), |m| matches!(m, Message::PubRec { .. }));
    assert_eq!(rec, Message::PubRec { msg_id: 7 });
    let comp = sensor.request(&Message::PubRel { msg_id: 7 }, |m| {
        matches!(m, Message::PubComp { .. })
    });
    assert_eq!(comp, Message::PubComp { msg_id: 7 });

    let (mut w, present) = Raw::connect(port, "watcher", false).expect("reconnect");
    assert!(present);
    let mut got = 0;
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        match w.recv(Duration::from_millis(100)) {
            Ok(Some(Packet::Publish(m))) => {
                assert_eq!(&m.payload[..], b"exactly once");
                got += 1;
                if let Some(id) = m.packet_id {
                    let _ = w.send(&ack(Packet::PubRec, id));
                }
            }
            Ok(Some(Packet::PubRel(r))) => {
                let _ = w.send(&ack(Packet::PubComp, r.packet_id));
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    assert_eq!(got, 1, "delivered exactly once across the crash");
    w.disconnect();
    drop(broker);
    let _ = std::fs::remove_dir_all(&dir);
}
