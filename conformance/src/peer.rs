//! [`Peer`]: one connection to the broker under test, driven packet by packet.
//!
//! Tests need to see exactly what the broker sends (flags, packet identifiers, properties, the order of
//! packets, whether it closes), so the suite speaks through `tern-client`'s raw mode and does each QoS flow
//! itself. Every wait is bounded by the run's step timeout and names what it was waiting for, so a silent
//! broker yields "no SUBACK within 5 s" rather than a hang.

use crate::registry::{Stop, TestResult};
use std::collections::VecDeque;
use std::num::NonZeroU16;
use std::time::Duration;
use tern_client::{ClientError, ErrorKind, RawConnection};
use tern_mqtt_codec::{
    ConnAck, Disconnect, Packet, PacketId, ProtocolVersion, PubAck, Publish, QoS, ReasonCode, SubAck,
    Subscribe, SubscribeFilter, SubscribeProperties, UnsubAck, Unsubscribe,
};

/// A connection to the broker with a queue of packets received while waiting for others.
pub struct Peer {
    raw: RawConnection,
    version: ProtocolVersion,
    step: Duration,
    pending: VecDeque<Packet>,
    next_id: u16,
    /// The client identifier this connection sent in CONNECT (empty before CONNECT).
    pub client_id: String,
    /// What the broker supports, from the command line and its CONNACK: a publish beyond it makes the test
    /// "not applicable" instead of failing.
    pub limits: Limits,
}

/// What a broker supports for publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Highest QoS it accepts in PUBLISH.
    pub max_qos: QoS,
    /// Whether it accepts retained messages.
    pub retain: bool,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_qos: QoS::ExactlyOnce,
            retain: true,
        }
    }
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("client_id", &self.client_id)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// A short name of a packet for failure messages.
pub fn name(p: &Packet) -> String {
    match p {
        Packet::Publish(p) => format!("PUBLISH(topic {:?}, QoS {})", p.topic.as_str(), p.qos as u8),
        Packet::Disconnect(d) => format!("DISCONNECT({:?})", d.reason_code),
        Packet::ConnAck(c) => format!("CONNACK({:?})", c.reason_code),
        other => format!("{:?}", other.packet_type()).to_uppercase(),
    }
}

impl Peer {
    /// Opens the transport `url` names (TLS as `tls` says); nothing is sent.
    pub async fn open(
        url: &str,
        tls: &tern_client::TlsOptions,
        version: ProtocolVersion,
        step: Duration,
    ) -> Result<Peer, Stop> {
        let parsed = tern_client::ServerUrl::parse(url).map_err(|e| Stop::Fail(e.to_string()))?;
        let stream = tern_client::open_with(&parsed, step, tls)
            .await
            .map_err(|e| Stop::Fail(format!("could not open {url}: {e}")))?;
        let mut raw = RawConnection::from_stream(stream);
        raw.set_version(version);
        Ok(Peer {
            raw,
            version,
            step,
            pending: VecDeque::new(),
            next_id: 0,
            client_id: String::new(),
            limits: Limits::default(),
        })
    }

    /// The protocol level packets are encoded at.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// True for MQTT 5.0 connections.
    pub fn is_v5(&self) -> bool {
        self.version.is_v5()
    }

    /// The step timeout.
    pub fn step(&self) -> Duration {
        self.step
    }

    /// A fresh packet identifier (1, 2, 3, ...).
    pub fn next_id(&mut self) -> PacketId {
        self.next_id = self.next_id.checked_add(1).unwrap_or(1);
        NonZeroU16::new(self.next_id).unwrap_or(NonZeroU16::MIN)
    }

    /// Encodes and sends a packet.
    pub async fn send(&mut self, packet: Packet) -> TestResult {
        let v = self.version;
        self.raw
            .send(&packet, v)
            .await
            .map_err(|e| Stop::Fail(format!("sending {}: {e}", name(&packet))))
    }

    /// Sends bytes as they are (malformed packets).
    pub async fn send_bytes(&mut self, bytes: &[u8]) -> TestResult {
        self.raw
            .send_bytes(bytes)
            .await
            .map_err(|e| Stop::Fail(format!("sending raw bytes: {e}")))
    }

    /// The next packet within `within`: `Ok(None)` if none arrived in time. A closed connection is a failure
    /// naming `what` the test was waiting for.
    pub async fn poll(&mut self, within: Duration, what: &str) -> Result<Option<Packet>, Stop> {
        if let Some(p) = self.pending.pop_front() {
            return Ok(Some(p));
        }
        match self.raw.recv_packet(within).await {
            Ok(Some(p)) => Ok(Some(p)),
            Ok(None) => Err(Stop::Fail(format!(
                "the broker closed the connection while we waited for {what}"
            ))),
            Err(e) if e.kind() == ErrorKind::Timeout => Ok(None),
            Err(e) => Err(Stop::Fail(format!("while waiting for {what}: {e}"))),
        }
    }

    /// The next packet (queued first), within the step timeout.
    pub async fn recv(&mut self, what: &str) -> Result<Packet, Stop> {
        let step = self.step;
        match self.poll(step, what).await? {
            Some(p) => Ok(p),
            None => Err(Stop::Fail(format!("no {what} within {step:?}"))),
        }
    }

    /// The first packet for which `pred` holds, within the step timeout; other packets are kept for later
    /// calls. A DISCONNECT from the broker is a failure.
    pub async fn recv_where(&mut self, what: &str, pred: impl Fn(&Packet) -> bool) -> Result<Packet, Stop> {
        if let Some(i) = self.pending.iter().position(&pred)
            && let Some(p) = self.pending.remove(i)
        {
            return Ok(p);
        }
        let deadline = tokio::time::Instant::now() + self.step;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let p = match self.raw.recv_packet(left).await {
                Ok(Some(p)) => p,
                Ok(None) => fail_closed(what)?,
                Err(e) if e.kind() == ErrorKind::Timeout => {
                    return Err(Stop::Fail(format!("no {what} within {:?}", self.step)));
                }
                Err(e) => return Err(Stop::Fail(format!("while waiting for {what}: {e}"))),
            };
            if pred(&p) {
                return Ok(p);
            }
            if let Packet::Disconnect(d) = &p {
                return Err(Stop::Fail(format!(
                    "the broker sent DISCONNECT {:?} while we waited for {what}",
                    d.reason_code
                )));
            }
            self.pending.push_back(p);
        }
    }

    /// Waits for CONNACK.
    pub async fn connack(&mut self) -> Result<ConnAck, Stop> {
        match self.recv("CONNACK").await? {
            Packet::ConnAck(c) => Ok(*c),
            other => Err(Stop::Fail(format!(
                "expected CONNACK first, got {}",
                name(&other)
            ))),
        }
    }

    /// Waits for the broker to close the connection, accepting on the way a DISCONNECT (returned) and any
    /// packet `allowed` accepts. Anything else, or no close within the step timeout, fails with `why`.
    pub async fn expect_closed_allowing(
        &mut self,
        why: &str,
        allowed: impl Fn(&Packet) -> bool,
    ) -> Result<Option<Disconnect>, Stop> {
        let deadline = tokio::time::Instant::now() + self.step;
        let mut disconnect = None;
        let mut queued: Vec<Packet> = self.pending.drain(..).collect();
        queued.reverse();
        loop {
            let next = match queued.pop() {
                Some(p) => Ok(Some(p)),
                None => {
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    self.raw.recv_packet(left).await
                }
            };
            match next {
                Ok(None) => return Ok(disconnect),
                Ok(Some(Packet::Disconnect(d))) => disconnect = Some(d),
                Ok(Some(p)) if allowed(&p) => {}
                Ok(Some(p)) => {
                    return Err(Stop::Fail(format!(
                        "{why}: expected the connection to close, got {}",
                        name(&p)
                    )));
                }
                Err(e) if e.kind() == ErrorKind::Timeout => {
                    return Err(Stop::Fail(format!(
                        "{why}: the connection was still open after {:?}",
                        self.step
                    )));
                }
                Err(e) if closed_kind(&e) => return Ok(disconnect),
                Err(e) => return Err(Stop::Fail(format!("{why}: {e}"))),
            }
        }
    }

    /// Waits for the broker to close the connection (a DISCONNECT first is allowed and returned).
    pub async fn expect_closed(&mut self, why: &str) -> Result<Option<Disconnect>, Stop> {
        self.expect_closed_allowing(why, |_| false).await
    }

    /// Checks that the connection is still open and answering: PINGREQ gets PINGRESP.
    pub async fn expect_alive(&mut self, why: &str) -> TestResult {
        self.send(Packet::PingReq).await?;
        self.recv_where("PINGRESP", |p| matches!(p, Packet::PingResp))
            .await
            .map_err(|e| match e {
                Stop::Fail(m) => Stop::Fail(format!("{why}: {m}")),
                other => other,
            })?;
        Ok(())
    }

    /// Subscribes and returns the SUBACK (checked to carry our packet identifier).
    pub async fn subscribe(&mut self, filters: Vec<SubscribeFilter>) -> Result<SubAck, Stop> {
        self.subscribe_with(filters, SubscribeProperties::default()).await
    }

    /// Subscribes with properties (subscription identifier).
    pub async fn subscribe_with(
        &mut self,
        filters: Vec<SubscribeFilter>,
        properties: SubscribeProperties,
    ) -> Result<SubAck, Stop> {
        let packet_id = self.next_id();
        self.send(Packet::Subscribe(Subscribe {
            packet_id,
            properties,
            filters,
        }))
        .await?;
        match self
            .recv_where("SUBACK", |p| matches!(p, Packet::SubAck(_)))
            .await?
        {
            Packet::SubAck(s) if s.packet_id == packet_id => Ok(s),
            Packet::SubAck(s) => Err(Stop::Fail(format!(
                "SUBACK carries packet id {} for SUBSCRIBE {}",
                s.packet_id, packet_id
            ))),
            _ => unreachable_packet(),
        }
    }

    /// Subscribes to one filter and fails unless it is granted.
    pub async fn sub(&mut self, filter: &str, qos: QoS) -> Result<SubAck, Stop> {
        let s = self
            .subscribe(vec![tern_client::filter(filter.to_owned(), qos)])
            .await?;
        match s.reason_codes.first() {
            Some(rc) if rc.is_success() => Ok(s),
            other => Err(Stop::Fail(format!(
                "SUBSCRIBE to {filter:?} was refused: {other:?}"
            ))),
        }
    }

    /// Unsubscribes and returns the UNSUBACK (checked to carry our packet identifier).
    pub async fn unsubscribe(&mut self, filters: &[&str]) -> Result<UnsubAck, Stop> {
        let packet_id = self.next_id();
        let filters = filters.iter().map(|f| (*f).to_owned().into()).collect();
        self.send(Packet::Unsubscribe(Unsubscribe {
            packet_id,
            user_properties: Vec::new(),
            filters,
        }))
        .await?;
        match self
            .recv_where("UNSUBACK", |p| matches!(p, Packet::UnsubAck(_)))
            .await?
        {
            Packet::UnsubAck(s) if s.packet_id == packet_id => Ok(s),
            Packet::UnsubAck(s) => Err(Stop::Fail(format!(
                "UNSUBACK carries packet id {} for UNSUBSCRIBE {}",
                s.packet_id, packet_id
            ))),
            _ => unreachable_packet(),
        }
    }

    /// Publishes and completes the QoS flow: returns the PUBACK (QoS 1), the PUBCOMP (QoS 2; or the PUBREC when
    /// it carries a failure code), or `None` for QoS 0. A packet identifier is assigned unless one is set.
    pub async fn publish(&mut self, mut publish: Publish) -> Result<Option<PubAck>, Stop> {
        if publish.qos > self.limits.max_qos {
            return Err(Stop::NotApplicable(format!(
                "needs a QoS {} publish; the broker's maximum QoS is {}",
                publish.qos as u8, self.limits.max_qos as u8
            )));
        }
        if publish.retain && !self.limits.retain {
            return Err(Stop::NotApplicable(
                "needs retained messages, which the broker does not support".into(),
            ));
        }
        if publish.qos == QoS::AtMostOnce {
            publish.packet_id = None;
            self.send(Packet::Publish(publish)).await?;
            return Ok(None);
        }
        let id = match publish.packet_id {
            Some(id) => id,
            None => self.next_id(),
        };
        publish.packet_id = Some(id);
        let qos = publish.qos;
        self.send(Packet::Publish(publish)).await?;
        if qos == QoS::AtLeastOnce {
            return match self
                .recv_where("PUBACK", |p| matches!(p, Packet::PubAck(a) if a.packet_id == id))
                .await?
            {
                Packet::PubAck(a) => Ok(Some(a)),
                _ => unreachable_packet(),
            };
        }
        let rec = match self
            .recv_where("PUBREC", |p| matches!(p, Packet::PubRec(a) if a.packet_id == id))
            .await?
        {
            Packet::PubRec(a) => a,
            _ => return unreachable_packet(),
        };
        if !rec.reason_code.is_success() {
            return Ok(Some(rec));
        }
        self.send(Packet::PubRel(PubAck::new(id))).await?;
        match self
            .recv_where(
                "PUBCOMP",
                |p| matches!(p, Packet::PubComp(a) if a.packet_id == id),
            )
            .await?
        {
            Packet::PubComp(a) => Ok(Some(a)),
            _ => unreachable_packet(),
        }
    }

    /// Publishes `payload` on `topic` at `qos` and checks the broker accepted it.
    pub async fn pub_msg(&mut self, topic: &str, payload: &[u8], qos: QoS, retain: bool) -> TestResult {
        let mut p = Publish::new(topic.to_owned(), bytes::Bytes::copy_from_slice(payload));
        p.qos = qos;
        p.retain = retain;
        if let Some(ack) = self.publish(p).await?
            && !ack.reason_code.is_success()
        {
            return Err(Stop::Fail(format!(
                "the broker refused a publish to {topic:?}: {:?}",
                ack.reason_code
            )));
        }
        Ok(())
    }

    /// The next PUBLISH, not acknowledged (see [`ack`](Self::ack)).
    pub async fn expect_publish(&mut self, what: &str) -> Result<Publish, Stop> {
        match self.recv_where(what, |p| matches!(p, Packet::Publish(_))).await? {
            Packet::Publish(p) => Ok(p),
            _ => unreachable_packet(),
        }
    }

    /// The next PUBLISH, acknowledged as its QoS requires.
    pub async fn recv_publish(&mut self, what: &str) -> Result<Publish, Stop> {
        let p = self.expect_publish(what).await?;
        self.ack(&p).await?;
        Ok(p)
    }

    /// Acknowledges a received PUBLISH: PUBACK for QoS 1; PUBREC, PUBREL, PUBCOMP for QoS 2.
    pub async fn ack(&mut self, p: &Publish) -> TestResult {
        let Some(id) = p.packet_id else { return Ok(()) };
        match p.qos {
            QoS::AtMostOnce => Ok(()),
            QoS::AtLeastOnce => self.send(Packet::PubAck(PubAck::new(id))).await,
            QoS::ExactlyOnce => {
                self.send(Packet::PubRec(PubAck::new(id))).await?;
                self.recv_where("PUBREL", |q| matches!(q, Packet::PubRel(a) if a.packet_id == id))
                    .await?;
                self.send(Packet::PubComp(PubAck::new(id))).await
            }
        }
    }

    /// Checks that no PUBLISH arrives for `quiet`; other packets are kept. Returns the unexpected PUBLISH as a
    /// failure with `why`.
    pub async fn expect_no_publish(&mut self, quiet: Duration, why: &str) -> TestResult {
        if let Some(p) = self.pending.iter().find(|p| matches!(p, Packet::Publish(_))) {
            return Err(Stop::Fail(format!("{why}: got {}", name(p))));
        }
        let deadline = tokio::time::Instant::now() + quiet;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            match self.raw.recv_packet(left).await {
                Ok(Some(Packet::Publish(p))) => {
                    return Err(Stop::Fail(format!("{why}: got {}", name(&Packet::Publish(p)))));
                }
                Ok(Some(other)) => self.pending.push_back(other),
                Ok(None) => return Err(Stop::Fail(format!("{why}: the broker closed the connection"))),
                Err(e) if e.kind() == ErrorKind::Timeout => return Ok(()),
                Err(e) => return Err(Stop::Fail(format!("{why}: {e}"))),
            }
        }
    }

    /// Sends DISCONNECT (normal) and closes; errors are ignored (the test is over with this connection).
    pub async fn disconnect(mut self) {
        let _ = self
            .send(Packet::Disconnect(Disconnect::new(
                ReasonCode::NormalDisconnection,
            )))
            .await;
        let _ = self.raw.shutdown().await;
        // Wait (briefly) for the broker to close its side, so the DISCONNECT is processed before the next step.
        let _ = self
            .raw
            .recv_packet(Duration::from_millis(200).min(self.step))
            .await;
    }

    /// Drops the connection without DISCONNECT (an abnormal close that triggers the will).
    pub async fn drop_abruptly(mut self) {
        let _ = self.raw.shutdown().await;
    }
}

fn closed_kind(e: &ClientError) -> bool {
    matches!(e.kind(), ErrorKind::ConnectionClosed | ErrorKind::Io)
}

fn fail_closed<T>(what: &str) -> Result<T, Stop> {
    Err(Stop::Fail(format!(
        "the broker closed the connection while we waited for {what}"
    )))
}

fn unreachable_packet<T>() -> Result<T, Stop> {
    Err(Stop::Fail("internal: packet filter mismatch".to_owned()))
}
