//! MQTT-SN 1.2 publishers over UDP (`--pub-url mqttsn://host:port`): CONNECT and REGISTER through
//! `tern-mqttsn-codec`, then PUBLISH datagrams written by hand into a reused buffer with the same payload
//! stamp as MQTT publishers, so MQTT subscribers time them. QoS 0 (paced or unthrottled) and QoS 1 within
//! `--window` unacknowledged publishes. Subscribing over MQTT-SN is not spoken.

use crate::load::PubPlan;
use crate::stats::Counters;
use crate::wire::PublishWriter;
use anyhow::{Context, Result, anyhow, bail};
use bytes::{Bytes, BytesMut};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tern_mqttsn_codec::{Connect, Message, ProtocolVersion, Register, ReturnCode, Utf8Bytes};
use tokio::net::UdpSocket;
use tokio::time::Instant;

/// Bound on each handshake step (CONNACK, REGACK): UDP has no connect, so a silent gateway shows here.
const STEP_TIMEOUT: Duration = Duration::from_secs(5);
/// Datagrams sent per round when unthrottled, before yielding to other tasks.
const BATCH: u64 = 64;
/// How long a QoS 1 publisher waits for outstanding PUBACKs after its last publish.
const ACK_DRAIN: Duration = Duration::from_secs(5);
/// PUBLISH message type.
const PUBLISH: u8 = 0x0C;
/// PUBACK message type.
const PUBACK: u8 = 0x0D;

/// Where MQTT-SN publishers send: the gateway's UDP address.
#[derive(Debug, Clone)]
pub struct SnTarget {
    gateway: SocketAddr,
    /// Keep alive (DURATION) every client announces: longer than the run, so none needs a PINGREQ.
    keep_alive: u16,
}

impl SnTarget {
    /// Parses `mqttsn://host[:port]` (port 1884 by default) and resolves it once.
    pub async fn new(url: &str, run_for: Duration) -> Result<SnTarget> {
        let rest = url
            .strip_prefix("mqttsn://")
            .or_else(|| url.strip_prefix("MQTTSN://"))
            .ok_or_else(|| anyhow!("{url} is not an mqttsn:// URL"))?;
        let host_port = rest.trim_end_matches('/');
        let with_port = if host_port
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            host_port.to_owned()
        } else {
            format!("{host_port}:1884")
        };
        let gateway = tokio::net::lookup_host(&with_port)
            .await
            .with_context(|| format!("cannot resolve {url}"))?
            .next()
            .ok_or_else(|| anyhow!("{url} resolves to no address"))?;
        let keep_alive = (run_for.as_secs() + 120).min(u64::from(u16::MAX)) as u16;
        Ok(SnTarget { gateway, keep_alive })
    }

    /// Opens a UDP socket, connects as `client_id` (clean session) and registers `topic`.
    pub async fn connect(&self, client_id: &str, topic: &str) -> Result<SnConn> {
        let bind: SocketAddr = if self.gateway.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let socket = UdpSocket::bind(bind).await.context("cannot open a UDP socket")?;
        socket
            .connect(self.gateway)
            .await
            .with_context(|| format!("cannot reach {}", self.gateway))?;
        let mut conn = SnConn {
            socket,
            topic_id: 0,
            rbuf: vec![0; 1500],
        };
        let connect = Message::Connect(Connect {
            will: false,
            clean_session: true,
            version: ProtocolVersion::V1_2,
            duration: self.keep_alive,
            client_id: Utf8Bytes::from(client_id.to_owned()),
        });
        conn.send(&connect).await?;
        match conn.recv().await? {
            Message::ConnAck {
                return_code: ReturnCode::Accepted,
            } => {}
            Message::ConnAck { return_code } => bail!("MQTT-SN CONNACK refused {client_id}: {return_code:?}"),
            other => bail!("expected CONNACK, got {:?}", other.msg_type()),
        }
        let register = Message::Register(Register {
            topic_id: 0,
            msg_id: 1,
            topic_name: Utf8Bytes::from(topic.to_owned()),
        });
        conn.send(&register).await?;
        match conn.recv().await? {
            Message::RegAck(ack) if ack.return_code == ReturnCode::Accepted => conn.topic_id = ack.topic_id,
            Message::RegAck(ack) => bail!("REGACK refused {topic}: {:?}", ack.return_code),
            other => bail!("expected REGACK, got {:?}", other.msg_type()),
        }
        Ok(conn)
    }
}

/// A connected MQTT-SN client with its registered topic.
pub struct SnConn {
    socket: UdpSocket,
    topic_id: u16,
    rbuf: Vec<u8>,
}

impl SnConn {
    async fn send(&self, m: &Message) -> Result<()> {
        let mut b = BytesMut::new();
        m.encode(&mut b)
            .map_err(|e| anyhow!("cannot encode {:?}: {e}", m.msg_type()))?;
        self.socket.send(&b).await.context("send failed")?;
        Ok(())
    }

    async fn recv(&mut self) -> Result<Message> {
        let n = tokio::time::timeout(STEP_TIMEOUT, self.socket.recv(&mut self.rbuf))
            .await
            .map_err(|_| anyhow!("no answer from the MQTT-SN gateway within {STEP_TIMEOUT:?}"))?
            .context("receive failed")?;
        let datagram = Bytes::copy_from_slice(self.rbuf.get(..n).unwrap_or_default());
        tern_mqttsn_codec::decode(&datagram).map_err(|e| anyhow!("malformed datagram from the gateway: {e}"))
    }

    /// Counts the PUBACKs already received (without waiting); a rejected one is an error.
    fn take_acks(&mut self) -> Result<u64> {
        let mut acked = 0;
        loop {
            match self.socket.try_recv(&mut self.rbuf) {
                Ok(n) => acked += puback(self.rbuf.get(..n).unwrap_or_default())?,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(acked),
                Err(e) => return Err(e).context("receive failed"),
            }
        }
    }

    /// Says DISCONNECT; the run is over, errors are ignored.
    async fn close(self) {
        let _ = self.socket.send(&[2, 0x18]).await;
    }
}

/// 1 for an accepted PUBACK, 0 for anything else the gateway sends; a rejected PUBACK is an error.
fn puback(d: &[u8]) -> Result<u64> {
    match d {
        [7, PUBACK, _, _, _, _, 0] => Ok(1),
        [7, PUBACK, _, _, _, _, rc] => bail!("the gateway rejected a PUBLISH (return code {rc:#04x})"),
        _ => Ok(0),
    }
}

/// Appends one MQTT-SN PUBLISH on the registered topic id, payload stamped like an MQTT one.
fn put_publish(out: &mut BytesMut, w: &PublishWriter, topic_id: u16, msg_id: u16, seq: u64, sent_ns: u64) {
    let body = 7 + w.payload_len();
    if body < 256 {
        out.extend_from_slice(&[body as u8]);
    } else {
        let long = (body + 2) as u16;
        out.extend_from_slice(&[1]);
        out.extend_from_slice(&long.to_be_bytes());
    }
    let flags = (w.qos() & 0b11) << 5;
    out.extend_from_slice(&[PUBLISH, flags]);
    out.extend_from_slice(&topic_id.to_be_bytes());
    out.extend_from_slice(&msg_id.to_be_bytes());
    w.put_payload(out, seq, sent_ns);
}

/// Publishes per `plan` over MQTT-SN; returns how many were sent and when the last one left.
pub async fn publish(
    mut conn: SnConn,
    writer: PublishWriter,
    plan: PubPlan,
    counters: Arc<Counters>,
) -> Result<(u64, Instant)> {
    if writer.payload_len() + 9 > usize::from(u16::MAX) {
        bail!("--size too large for one MQTT-SN datagram");
    }
    tokio::time::sleep_until(plan.start).await;
    let (mut sent, mut acked) = (0u64, 0u64);
    let mut msg_id: u16 = 0;
    let mut last = plan.start;
    let mut buf = BytesMut::with_capacity(writer.payload_len() + 16);
    loop {
        let now = Instant::now();
        if now >= plan.deadline || sent >= plan.count {
            break;
        }
        if plan.qos > 0 {
            let done = conn.take_acks()?;
            acked += done;
            Counters::add(&counters.acked, done);
        }
        let room = plan.window_room(sent, acked);
        let n = plan.batch(now, sent, room, BATCH);
        if n > 0 {
            let stamp = crate::wire::now_ns();
            for _ in 0..n {
                msg_id = if msg_id == u16::MAX { 1 } else { msg_id + 1 };
                buf.clear();
                put_publish(&mut buf, &writer, conn.topic_id, msg_id, sent, stamp);
                conn.socket.send(&buf).await.context("send failed")?;
                sent += 1;
            }
            Counters::add(&counters.sent, n);
            last = Instant::now();
        }
        let paced_wait = plan.rate > 0.0 && sent < plan.count && n == 0;
        let window_full = plan.qos > 0 && room == n;
        if !(paced_wait || window_full) {
            tokio::task::yield_now().await;
            continue;
        }
        let wake = plan.next_wake(sent, paced_wait, window_full);
        if plan.qos == 0 {
            tokio::time::sleep_until(wake).await;
            continue;
        }
        tokio::select! {
            r = conn.socket.readable() => r.context("receive failed")?,
            _ = tokio::time::sleep_until(wake) => {}
        }
    }
    let drain_until = Instant::now() + ACK_DRAIN;
    while plan.qos > 0 && acked < sent && Instant::now() < drain_until {
        let done = conn.take_acks()?;
        acked += done;
        Counters::add(&counters.acked, done);
        if done == 0 {
            let _ = tokio::time::timeout_at(drain_until, conn.socket.readable()).await;
        }
    }
    conn.close().await;
    Ok((sent, last))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tern_mqtt_codec::ProtocolVersion as MqttVersion;

    #[test]
    fn a_hand_written_publish_decodes_as_the_codec_reads_it() {
        for size in [0, 10, 24, 100, 300] {
            for qos in [0u8, 1] {
                let w = PublishWriter::new("a/b", qos, MqttVersion::V3_1_1, size, 3);
                let mut out = BytesMut::new();
                put_publish(&mut out, &w, 42, 7, 9, 1234);
                let Ok(Message::Publish(p)) = tern_mqttsn_codec::decode(&out.freeze()) else {
                    panic!("not a PUBLISH (size {size}, qos {qos})");
                };
                assert_eq!(p.topic, tern_mqttsn_codec::Topic::Id(42));
                assert_eq!(p.msg_id, 7);
                assert_eq!(p.qos as u8, qos);
                assert_eq!(p.payload.len(), size);
            }
        }
    }

    #[test]
    fn only_an_accepted_puback_counts() {
        assert_eq!(puback(&[7, PUBACK, 0, 1, 0, 2, 0]).ok(), Some(1));
        assert!(puback(&[7, PUBACK, 0, 1, 0, 2, 3]).is_err());
        assert_eq!(puback(&[3, 0x05, 0]).ok(), Some(0));
    }
}
