//! A tiny MQTT server for the client's tests, built on the codec: accepts on 127.0.0.1 port 0, answers
//! CONNECT, echoes PUBLISH back to the sender, acknowledges everything. Knobs in [`Behavior`] make it
//! misbehave in the ways the tests need; [`Seen`] records what the client sent.

use bytes::BytesMut;
use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tern_mqtt_codec::{
    ConnAck, ConnAckProperties, Disconnect, Packet, ProtocolVersion, PubAck, Publish, QoS, ReasonCode,
    SubAck, UnsubAck, decode_packet, encode_packet,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Every test's upper bound for one step.
pub const STEP: Duration = Duration::from_secs(5);

/// How the fake server behaves.
#[derive(Debug, Clone)]
pub struct Behavior {
    /// CONNACK reason code (failure codes make the server close after sending it).
    pub connack_code: ReasonCode,
    /// Receive Maximum announced in a 5.0 CONNACK.
    pub receive_maximum: Option<u16>,
    /// Never answer anything (not even CONNACK).
    pub silent: bool,
    /// Answer PINGREQ.
    pub answer_pings: bool,
    /// Acknowledge publishes at all.
    pub ack_publishes: bool,
    /// Hold QoS 1 acks until this many are outstanding, then ack them all (0: ack at once).
    pub ack_batch: usize,
    /// Reason code for PUBACK/PUBREC (5.0).
    pub ack_reason: ReasonCode,
    /// Echo publishes back to the sender.
    pub echo: bool,
    /// Send each QoS 2 echo twice (DUP set on the second) before PUBREL.
    pub duplicate_qos2: bool,
    /// Send DISCONNECT with this code right after CONNACK (5.0) and close.
    pub disconnect_after_connack: Option<ReasonCode>,
}

impl Default for Behavior {
    fn default() -> Self {
        Behavior {
            connack_code: ReasonCode::Success,
            receive_maximum: None,
            silent: false,
            answer_pings: true,
            ack_publishes: true,
            ack_batch: 0,
            ack_reason: ReasonCode::Success,
            echo: true,
            duplicate_qos2: false,
            disconnect_after_connack: None,
        }
    }
}

/// What the server observed.
#[derive(Debug, Default)]
pub struct Seen {
    /// Every packet received, in order, across connections.
    pub packets: Vec<Packet>,
    /// Most QoS 1 publishes outstanding (received, not acked) at once.
    pub max_outstanding: usize,
}

/// A running fake server.
pub struct FakeServer {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Seen>>,
}

impl FakeServer {
    pub async fn start(behavior: Behavior) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let seen2 = seen.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(serve(sock, behavior.clone(), seen2.clone()));
            }
        });
        FakeServer { addr, seen }
    }

    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }

    /// Waits (bounded) until `n` received packets match `f`; false if that never happened.
    pub async fn wait_for(&self, n: usize, f: impl Fn(&Packet) -> bool) -> bool {
        for _ in 0..250 {
            if self.count(&f) >= n {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    pub fn count(&self, f: impl Fn(&Packet) -> bool) -> usize {
        self.seen
            .lock()
            .expect("lock")
            .packets
            .iter()
            .filter(|p| f(p))
            .count()
    }
}

async fn serve(mut sock: TcpStream, b: Behavior, seen: Arc<Mutex<Seen>>) {
    let mut rbuf = BytesMut::new();
    let mut version = ProtocolVersion::V5;
    let mut next_id: u16 = 0;
    let mut held: Vec<NonZeroU16> = Vec::new();
    loop {
        let mut out = BytesMut::new();
        let mut close = false;
        loop {
            let packet = match decode_packet(&mut rbuf, version, 1 << 20) {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(_) => return,
            };
            seen.lock().expect("lock").packets.push(packet.clone());
            if b.silent {
                continue;
            }
            match packet {
                Packet::Connect(c) => {
                    version = c.protocol;
                    let properties = ConnAckProperties {
                        receive_maximum: b.receive_maximum,
                        ..Default::default()
                    };
                    put(
                        &mut out,
                        version,
                        Packet::ConnAck(Box::new(ConnAck {
                            session_present: false,
                            reason_code: b.connack_code,
                            properties,
                        })),
                    );
                    if !b.connack_code.is_success() {
                        close = true;
                    } else if let Some(rc) = b.disconnect_after_connack {
                        put(&mut out, version, Packet::Disconnect(Disconnect::new(rc)));
                        close = true;
                    }
                }
                Packet::Publish(p) => {
                    if b.echo {
                        let mut echo = Publish {
                            dup: false,
                            ..p.clone()
                        };
                        if echo.qos != QoS::AtMostOnce {
                            next_id = next_id.checked_add(1).unwrap_or(1);
                            echo.packet_id = NonZeroU16::new(next_id);
                        }
                        put(&mut out, version, Packet::Publish(echo.clone()));
                        if echo.qos == QoS::ExactlyOnce && b.duplicate_qos2 {
                            put(&mut out, version, Packet::Publish(Publish { dup: true, ..echo }));
                        }
                    }
                    if let (true, Some(id)) = (b.ack_publishes, p.packet_id) {
                        let ack = PubAck {
                            reason_code: b.ack_reason,
                            ..PubAck::new(id)
                        };
                        match p.qos {
                            QoS::AtLeastOnce if b.ack_batch > 0 => {
                                held.push(id);
                                let mut s = seen.lock().expect("lock");
                                s.max_outstanding = s.max_outstanding.max(held.len());
                                drop(s);
                                if held.len() >= b.ack_batch {
                                    for id in held.drain(..) {
                                        put(&mut out, version, Packet::PubAck(PubAck::new(id)));
                                    }
                                }
                            }
                            QoS::AtLeastOnce => put(&mut out, version, Packet::PubAck(ack)),
                            _ => put(&mut out, version, Packet::PubRec(ack)),
                        }
                    }
                }
                Packet::PubRel(r) => put(&mut out, version, Packet::PubComp(PubAck::new(r.packet_id))),
                Packet::PubRec(r) => put(&mut out, version, Packet::PubRel(PubAck::new(r.packet_id))),
                Packet::Subscribe(s) => {
                    let reason_codes = s
                        .filters
                        .iter()
                        .map(|f| match f.options.qos {
                            QoS::AtMostOnce => ReasonCode::GrantedQoS0,
                            QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
                            QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
                        })
                        .collect();
                    put(
                        &mut out,
                        version,
                        Packet::SubAck(SubAck {
                            packet_id: s.packet_id,
                            properties: Default::default(),
                            reason_codes,
                        }),
                    );
                }
                Packet::Unsubscribe(u) => {
                    let reason_codes = if version.is_v5() {
                        vec![ReasonCode::Success; u.filters.len()]
                    } else {
                        vec![]
                    };
                    put(
                        &mut out,
                        version,
                        Packet::UnsubAck(UnsubAck {
                            packet_id: u.packet_id,
                            properties: Default::default(),
                            reason_codes,
                        }),
                    );
                }
                Packet::PingReq if b.answer_pings => put(&mut out, version, Packet::PingResp),
                Packet::Disconnect(_) => close = true,
                _ => {}
            }
        }
        if !out.is_empty() && sock.write_all(&out).await.is_err() {
            return;
        }
        if close {
            return;
        }
        match sock.read_buf(&mut rbuf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

fn put(out: &mut BytesMut, version: ProtocolVersion, p: Packet) {
    encode_packet(&p, version, out).expect("encode");
}
