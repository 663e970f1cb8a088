//! A blocking MQTT 5 client over raw packets (the project's codec), so the crash test controls every
//! packet id and implements a QoS 2 receiver exactly as the spec describes.

use bytes::BytesMut;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tern_mqtt_codec::{
    ByteStr, Connect, ConnectProperties, Disconnect, Packet, PacketId, ProtocolVersion, PubAck, Publish, QoS,
    ReasonCode, Subscribe, SubscribeFilter, SubscribeProperties, SubscriptionOptions, decode_packet,
};

/// One connection.
pub struct Raw {
    stream: TcpStream,
    buf: BytesMut,
}

/// The connection is gone (the broker was killed).
#[derive(Debug)]
pub struct Closed;

impl From<std::io::Error> for Closed {
    fn from(_: std::io::Error) -> Closed {
        Closed
    }
}

impl Raw {
    /// Connects with a session expiry of an hour; returns the client and Session Present.
    pub fn connect(port: u16, client_id: &str, clean: bool) -> Result<(Raw, bool), Closed> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_nodelay(true)?;
        let mut raw = Raw {
            stream,
            buf: BytesMut::new(),
        };
        let connect = Connect {
            protocol: ProtocolVersion::V5,
            clean_start: clean,
            keep_alive: 30,
            client_id: ByteStr::from(client_id),
            will: None,
            username: None,
            password: None,
            properties: ConnectProperties {
                session_expiry_interval: Some(3600),
                receive_maximum: Some(32),
                ..ConnectProperties::default()
            },
        };
        raw.send(&Packet::Connect(Box::new(connect)))?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            match raw.recv(Duration::from_millis(100))? {
                Some(Packet::ConnAck(ack)) if ack.reason_code == ReasonCode::Success => {
                    return Ok((raw, ack.session_present));
                }
                Some(_) => return Err(Closed),
                None => {}
            }
        }
        Err(Closed)
    }

    /// Sends one packet.
    pub fn send(&mut self, p: &Packet) -> Result<(), Closed> {
        let mut out = BytesMut::new();
        p.encode(ProtocolVersion::V5, &mut out).map_err(|_| Closed)?;
        self.stream.write_all(&out)?;
        Ok(())
    }

    /// The next packet, or `None` after `wait` without one.
    pub fn recv(&mut self, wait: Duration) -> Result<Option<Packet>, Closed> {
        loop {
            match decode_packet(&mut self.buf, ProtocolVersion::V5, u32::MAX) {
                Ok(Some(p)) => return Ok(Some(p)),
                Ok(None) => {}
                Err(_) => return Err(Closed),
            }
            self.stream.set_read_timeout(Some(wait))?;
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(Closed),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return Ok(None),
                Err(_) => return Err(Closed),
            }
        }
    }

    /// Subscribes and waits for the SUBACK.
    pub fn subscribe(&mut self, filter: &str, qos: QoS) -> Result<(), Closed> {
        self.send(&Packet::Subscribe(Subscribe {
            packet_id: pid(1),
            properties: SubscribeProperties::default(),
            filters: vec![SubscribeFilter {
                filter: ByteStr::from(filter),
                options: SubscriptionOptions {
                    qos,
                    ..SubscriptionOptions::default()
                },
            }],
        }))?;
        for _ in 0..50 {
            if let Some(Packet::SubAck(_)) = self.recv(Duration::from_millis(100))? {
                return Ok(());
            }
        }
        Err(Closed)
    }

    /// Closes the connection normally (the session stays).
    pub fn disconnect(mut self) {
        let _ = self.send(&Packet::Disconnect(Disconnect::new(
            ReasonCode::NormalDisconnection,
        )));
    }
}

/// A packet id.
pub fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap_or(PacketId::MIN)
}

/// A PUBLISH of message `n`.
pub fn publish(topic: &str, n: u64, qos: QoS, id: Option<PacketId>, dup: bool, retain: bool) -> Packet {
    Packet::Publish(Publish {
        dup,
        qos,
        retain,
        topic: ByteStr::from(topic),
        packet_id: id,
        properties: Default::default(),
        payload: bytes::Bytes::from(n.to_string()),
    })
}

/// An acknowledgement packet of the given kind.
pub fn ack(kind: fn(PubAck) -> Packet, id: PacketId) -> Packet {
    kind(PubAck::new(id))
}
