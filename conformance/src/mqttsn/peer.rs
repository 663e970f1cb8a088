//! [`SnPeer`]: one MQTT-SN client over UDP, driven message by message, every wait bounded.

use crate::registry::Stop;
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::time::Duration;
use tern_mqttsn_codec::{Connect, Message, ProtocolVersion, Utf8Bytes};
use tokio::net::UdpSocket;

/// An MQTT-SN client socket "connected" to the gateway's address.
#[derive(Debug)]
pub struct SnPeer {
    socket: UdpSocket,
    step: Duration,
    pending: VecDeque<Message>,
    next_id: u16,
    /// The client id sent in CONNECT.
    pub client_id: String,
}

/// A short name of a message for failure messages.
pub fn sn_name(m: &Message) -> String {
    format!("{:?}", m.msg_type()).to_uppercase()
}

impl SnPeer {
    /// Binds a UDP socket on the loopback or any address and aims it at `url` (`mqttsn://host:port`).
    pub async fn open(url: &str, step: Duration) -> Result<SnPeer, Stop> {
        let addr = url
            .strip_prefix("mqttsn://")
            .ok_or_else(|| Stop::Fail(format!("{url} is not an mqttsn:// URL")))?
            .trim_end_matches('/');
        let socket = UdpSocket::bind("0.0.0.0:0")
            .await
            .map_err(|e| Stop::Fail(format!("cannot bind a UDP socket: {e}")))?;
        socket
            .connect(addr)
            .await
            .map_err(|e| Stop::Fail(format!("cannot aim at {addr}: {e}")))?;
        Ok(SnPeer {
            socket,
            step,
            pending: VecDeque::new(),
            next_id: 0,
            client_id: String::new(),
        })
    }

    /// A fresh message id (1, 2, ...).
    pub fn next_id(&mut self) -> u16 {
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.next_id
    }

    /// Encodes and sends one message.
    pub async fn send(&mut self, m: &Message) -> Result<(), Stop> {
        let mut buf = BytesMut::new();
        m.encode(&mut buf)
            .map_err(|e| Stop::Fail(format!("encoding {}: {e}", sn_name(m))))?;
        self.send_bytes(&buf).await
    }

    /// Sends one datagram as it is.
    pub async fn send_bytes(&mut self, b: &[u8]) -> Result<(), Stop> {
        self.socket
            .send(b)
            .await
            .map(|_| ())
            .map_err(|e| Stop::Fail(format!("sending a datagram: {e}")))
    }

    /// The next message within `within` (`None` if none); an undecodable datagram is a failure.
    pub async fn poll(&mut self, within: Duration) -> Result<Option<Message>, Stop> {
        if let Some(m) = self.pending.pop_front() {
            return Ok(Some(m));
        }
        let mut buf = vec![0u8; 2048];
        match tokio::time::timeout(within, self.socket.recv(&mut buf)).await {
            Err(_) => Ok(None),
            Ok(Err(e)) => Err(Stop::Fail(format!("receiving: {e} (is the gateway listening?)"))),
            Ok(Ok(n)) => {
                buf.truncate(n);
                Message::decode(&Bytes::from(buf))
                    .map(Some)
                    .map_err(|e| Stop::Fail(format!("the gateway sent an undecodable datagram: {e}")))
            }
        }
    }

    /// The first message `pred` accepts within the step timeout; others are kept for later.
    pub async fn recv_where(&mut self, what: &str, pred: impl Fn(&Message) -> bool) -> Result<Message, Stop> {
        if let Some(i) = self.pending.iter().position(&pred)
            && let Some(m) = self.pending.remove(i)
        {
            return Ok(m);
        }
        let deadline = tokio::time::Instant::now() + self.step;
        let mut kept = Vec::new();
        let found = loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                break None;
            }
            let mut buf = vec![0u8; 2048];
            match tokio::time::timeout(left, self.socket.recv(&mut buf)).await {
                Err(_) => break None,
                Ok(Err(e)) => return Err(Stop::Fail(format!("while waiting for {what}: {e}"))),
                Ok(Ok(n)) => {
                    buf.truncate(n);
                    let m = Message::decode(&Bytes::from(buf))
                        .map_err(|e| Stop::Fail(format!("the gateway sent an undecodable datagram: {e}")))?;
                    if pred(&m) {
                        break Some(m);
                    }
                    kept.push(m);
                }
            }
        };
        self.pending.extend(kept);
        found.ok_or_else(|| Stop::Fail(format!("no {what} within {:?}", self.step)))
    }

    /// Checks that nothing `pred` accepts arrives for `quiet`.
    pub async fn expect_none(
        &mut self,
        quiet: Duration,
        why: &str,
        pred: impl Fn(&Message) -> bool,
    ) -> Result<(), Stop> {
        if let Some(m) = self.pending.iter().find(|m| pred(m)) {
            return Err(Stop::Fail(format!("{why}: got {}", sn_name(m))));
        }
        let deadline = tokio::time::Instant::now() + quiet;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.poll(left).await? {
                None => return Ok(()),
                Some(m) if pred(&m) => return Err(Stop::Fail(format!("{why}: got {}", sn_name(&m)))),
                Some(m) => self.pending.push_back(m),
            }
        }
    }

    /// Sends CONNECT (clean session, keep alive `duration` s) and waits for the gateway's answer.
    pub async fn connect(&mut self, client_id: &str, duration: u16, will: bool) -> Result<Message, Stop> {
        self.client_id = client_id.to_owned();
        let c = Message::Connect(Connect {
            will,
            clean_session: true,
            version: ProtocolVersion::V1_2,
            duration,
            client_id: Utf8Bytes::try_from_bytes(Bytes::copy_from_slice(client_id.as_bytes()))
                .map_err(|_| Stop::Fail("client id is not UTF-8".into()))?,
        });
        self.send(&c).await?;
        self.recv_where("CONNACK or WILLTOPICREQ", |m| {
            matches!(m, Message::ConnAck { .. } | Message::WillTopicReq)
        })
        .await
    }
}
