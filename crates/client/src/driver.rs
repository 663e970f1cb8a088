//! The one background task per connection: owns the socket, assigns packet identifiers, runs the QoS
//! flows both ways, keeps the connection alive, and answers the handles over channels.
//!
//! Every wait is a branch of one `select!` (socket read, socket write, commands, delivery to the receiver,
//! keep-alive timer), so a slow receiver or a slow server never stops pings or acknowledgements from being
//! handled in the other direction. Reads and writes go through buffers that survive a cancelled branch.

use crate::client::{PublishOutcome, Shared};
use crate::error::{ClientError, Repr};
use crate::framing::Framing;
use crate::scram::{self, ScramClient};
use crate::transport::BoxStream;
use bytes::BytesMut;
use std::collections::{HashMap, HashSet, VecDeque};
use std::num::NonZeroU16;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tern_mqtt_codec::{
    Auth, ByteStr, Disconnect, Packet, PacketId, PubAck, Publish, QoS, ReasonCode, SubAck, Subscribe,
    UnsubAck, Unsubscribe,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, Sleep};

/// Received publishes held by the task when the receiver's channel is full; reading pauses at this many.
const LOCAL_QUEUE_LIMIT: usize = 64;
/// Queued outgoing bytes above which new commands wait (back-pressure on QoS 0 floods).
const WRITE_HIGH_WATER: usize = 256 * 1024;

type Reply<T> = oneshot::Sender<Result<T, ClientError>>;

/// A request from a handle.
#[derive(Debug)]
pub(crate) enum Command {
    Publish {
        publish: Publish,
        reply: Reply<PublishOutcome>,
    },
    Subscribe {
        subscribe: Subscribe,
        reply: Reply<SubAck>,
    },
    Unsubscribe {
        unsubscribe: Unsubscribe,
        reply: Reply<UnsubAck>,
    },
    Disconnect {
        disconnect: Disconnect,
        reply: Reply<()>,
    },
    Reauthenticate {
        reply: Reply<()>,
    },
}

/// A packet identifier in use by this client, and who waits on it.
#[derive(Debug)]
enum Pending {
    /// QoS 1 awaiting PUBACK, or QoS 2 awaiting PUBREC (`released == false`) then PUBCOMP.
    Publish {
        qos: QoS,
        released: bool,
        reply: Reply<PublishOutcome>,
    },
    Subscribe(Reply<SubAck>),
    Unsubscribe(Reply<UnsubAck>),
}

impl Pending {
    fn fail(self, err: ClientError) {
        // A waiter that gave up (timed out, dropped) is not an error for the connection.
        match self {
            Pending::Publish { reply, .. } => drop(reply.send(Err(err))),
            Pending::Subscribe(reply) => drop(reply.send(Err(err))),
            Pending::Unsubscribe(reply) => drop(reply.send(Err(err))),
        }
    }
}

pub(crate) struct Driver {
    framing: Framing,
    reader: ReadHalf<BoxStream>,
    writer: WriteHalf<BoxStream>,
    /// Encoded packets not yet written.
    wbuf: BytesMut,
    cmd_rx: mpsc::Receiver<Command>,
    incoming_tx: mpsc::Sender<Publish>,
    /// Publishes received while `incoming_tx` was full, in order.
    incoming_queue: VecDeque<Publish>,
    /// False once the receiver is gone; publishes are then acknowledged and dropped.
    incoming_open: bool,
    /// Packet identifiers in use, by id.
    pending: HashMap<u16, Pending>,
    /// Last identifier handed out; allocation probes upwards from here.
    last_id: u16,
    /// QoS 1/2 publishes awaiting acknowledgement, and the most allowed.
    inflight: usize,
    window: usize,
    /// Identifiers of QoS 2 publishes received and PUBREC'd but not yet released: re-sends are not delivered.
    inbound_qos2: HashSet<u16>,
    /// Topic aliases the server set on publishes to us (5.0).
    aliases: HashMap<u16, ByteStr>,
    shared: Arc<Shared>,
    keep_alive: Duration,
    timer: Pin<Box<Sleep>>,
    last_write: Instant,
    ping_sent: Option<Instant>,
    /// Set once a DISCONNECT is queued: finish writing, then close. `Some` holds who waits for that.
    closing: Option<Option<Reply<()>>>,
    /// A SCRAM re-authentication in progress and who waits for it.
    reauth: Option<(ScramClient, Reply<()>)>,
}

impl Driver {
    pub(crate) fn new(
        stream: BoxStream,
        framing: Framing,
        cmd_rx: mpsc::Receiver<Command>,
        incoming_tx: mpsc::Sender<Publish>,
        shared: Arc<Shared>,
        keep_alive: Duration,
        window: usize,
    ) -> Driver {
        let (reader, writer) = tokio::io::split(stream);
        let now = Instant::now();
        Driver {
            framing,
            reader,
            writer,
            wbuf: BytesMut::with_capacity(8 * 1024),
            cmd_rx,
            incoming_tx,
            incoming_queue: VecDeque::new(),
            incoming_open: true,
            pending: HashMap::new(),
            last_id: 0,
            inflight: 0,
            window,
            inbound_qos2: HashSet::new(),
            aliases: HashMap::new(),
            shared,
            keep_alive,
            timer: Box::pin(tokio::time::sleep_until(now + keep_alive)),
            last_write: now,
            ping_sent: None,
            closing: None,
            reauth: None,
        }
    }

    /// Runs the connection to its end, then fails every waiter with the reason.
    pub(crate) async fn run(mut self) {
        let result = self.run_inner().await;
        let err = match result {
            Ok(()) => {
                tracing::debug!("connection closed by the client");
                ClientError::closed("disconnected by the client")
            }
            Err(e) => {
                tracing::debug!(error = %e, "connection ended");
                if e.kind() == crate::ErrorKind::Protocol && self.shared.protocol.is_v5() {
                    self.disconnect_best_effort(e.reason_code().unwrap_or(ReasonCode::ProtocolError))
                        .await;
                }
                e
            }
        };
        if let Ok(mut slot) = self.shared.close_error.lock() {
            *slot = Some(err.clone());
        }
        self.cmd_rx.close();
        for (_, p) in self.pending.drain() {
            p.fail(err.clone());
        }
        if let Some((_, reply)) = self.reauth.take() {
            let _ = reply.send(Err(err.clone()));
        }
        while let Ok(cmd) = self.cmd_rx.try_recv() {
            match cmd {
                Command::Publish { reply, .. } => drop(reply.send(Err(err.clone()))),
                Command::Subscribe { reply, .. } => drop(reply.send(Err(err.clone()))),
                Command::Unsubscribe { reply, .. } => drop(reply.send(Err(err.clone()))),
                Command::Disconnect { reply, .. } => drop(reply.send(Err(err.clone()))),
                Command::Reauthenticate { reply } => drop(reply.send(Err(err.clone()))),
            }
        }
        // Hand over what was received before the end, but never wait on a receiver that does not read.
        let deliver = async {
            while let Some(p) = self.incoming_queue.pop_front() {
                if self.incoming_tx.send(p).await.is_err() {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(self.shared.timeout, deliver).await;
    }

    async fn run_inner(&mut self) -> Result<(), ClientError> {
        loop {
            while self.incoming_queue.len() < LOCAL_QUEUE_LIMIT {
                match self.framing.decode()? {
                    Some(packet) => self.on_packet(packet)?,
                    None => break,
                }
            }
            if self.closing.is_some() && self.wbuf.is_empty() {
                let _ = self.writer.flush().await;
                let _ = self.writer.shutdown().await;
                if let Some(Some(reply)) = self.closing.take() {
                    let _ = reply.send(Ok(()));
                }
                return Ok(());
            }
            let can_read = self.incoming_queue.len() < LOCAL_QUEUE_LIMIT && self.closing.is_none();
            if can_read {
                self.framing.reserve();
            }
            let can_take_command = self.closing.is_none()
                && self.inflight < self.window
                && self.pending.len() < usize::from(u16::MAX)
                && self.wbuf.len() < WRITE_HIGH_WATER;
            let keep_alive_on = !self.keep_alive.is_zero();

            tokio::select! {
                read = self.reader.read_buf(&mut self.framing.rbuf), if can_read => {
                    let n = read.map_err(|e| ClientError::io("reading from the server", e))?;
                    if n == 0 {
                        return Err(ClientError::closed("the server closed the connection"));
                    }
                }
                written = self.writer.write_buf(&mut self.wbuf), if !self.wbuf.is_empty() => {
                    let n = written.map_err(|e| ClientError::io("writing to the server", e))?;
                    if n == 0 {
                        return Err(ClientError::closed("the server stopped accepting data"));
                    }
                    self.last_write = Instant::now();
                    if self.wbuf.is_empty() {
                        self.writer.flush().await.map_err(|e| ClientError::io("writing to the server", e))?;
                    }
                }
                open = deliver_one(&self.incoming_tx, &mut self.incoming_queue), if !self.incoming_queue.is_empty() => {
                    if !open {
                        self.incoming_open = false;
                        self.incoming_queue.clear();
                    }
                }
                cmd = self.cmd_rx.recv(), if can_take_command => match cmd {
                    Some(cmd) => self.on_command(cmd)?,
                    // Every handle dropped: leave politely.
                    None => self.start_close(Disconnect::new(ReasonCode::NormalDisconnection), None)?,
                },
                () = &mut self.timer, if keep_alive_on => self.on_timer()?,
            }
        }
    }

    fn on_command(&mut self, cmd: Command) -> Result<(), ClientError> {
        match cmd {
            Command::Publish { mut publish, reply } => {
                if publish.qos == QoS::AtMostOnce {
                    publish.packet_id = None;
                    let _ = reply.send(
                        self.queue_packet(&Packet::Publish(publish))
                            .map(|()| PublishOutcome::success()),
                    );
                    return Ok(());
                }
                let Some(id) = self.alloc_id() else {
                    let _ = reply.send(Err(ClientError::invalid_argument("no free packet identifier")));
                    return Ok(());
                };
                publish.packet_id = Some(id);
                let qos = publish.qos;
                match self.queue_packet(&Packet::Publish(publish)) {
                    Ok(()) => {
                        self.pending.insert(
                            id.get(),
                            Pending::Publish {
                                qos,
                                released: false,
                                reply,
                            },
                        );
                        self.inflight += 1;
                    }
                    Err(e) => drop(reply.send(Err(e))),
                }
            }
            Command::Subscribe { mut subscribe, reply } => {
                let Some(id) = self.alloc_id() else {
                    let _ = reply.send(Err(ClientError::invalid_argument("no free packet identifier")));
                    return Ok(());
                };
                subscribe.packet_id = id;
                match self.queue_packet(&Packet::Subscribe(subscribe)) {
                    Ok(()) => drop(self.pending.insert(id.get(), Pending::Subscribe(reply))),
                    Err(e) => drop(reply.send(Err(e))),
                }
            }
            Command::Unsubscribe {
                mut unsubscribe,
                reply,
            } => {
                let Some(id) = self.alloc_id() else {
                    let _ = reply.send(Err(ClientError::invalid_argument("no free packet identifier")));
                    return Ok(());
                };
                unsubscribe.packet_id = id;
                match self.queue_packet(&Packet::Unsubscribe(unsubscribe)) {
                    Ok(()) => drop(self.pending.insert(id.get(), Pending::Unsubscribe(reply))),
                    Err(e) => drop(reply.send(Err(e))),
                }
            }
            Command::Disconnect { disconnect, reply } => self.start_close(disconnect, Some(reply))?,
            Command::Reauthenticate { reply } => self.start_reauth(reply)?,
        }
        Ok(())
    }

    /// Sends AUTH 0x19 with a fresh client-first.
    fn start_reauth(&mut self, reply: Reply<()>) -> Result<(), ClientError> {
        let Some((user, password)) = self.shared.scram.clone() else {
            let _ = reply.send(Err(ClientError::invalid_argument(
                "re-authentication needs a connection made with ConnectOptions::scram",
            )));
            return Ok(());
        };
        if self.reauth.is_some() {
            let _ = reply.send(Err(ClientError::invalid_argument(
                "a re-authentication is already running",
            )));
            return Ok(());
        }
        let s = match ScramClient::new(&user, &password) {
            Ok(s) => s,
            Err(e) => {
                let _ = reply.send(Err(e));
                return Ok(());
            }
        };
        self.queue_packet(&scram::auth_packet(ReasonCode::ReAuthenticate, s.client_first()))?;
        self.reauth = Some((s, reply));
        Ok(())
    }

    /// AUTH from the server: the next step of our re-authentication, or a protocol error.
    fn on_auth(&mut self, auth: Auth) -> Result<(), ClientError> {
        let Some((s, _)) = self.reauth.as_mut() else {
            return Err(ClientError::protocol(
                "AUTH received without a re-authentication in progress",
            ));
        };
        if auth.properties.authentication_method.as_deref() != Some(scram::METHOD) {
            return Err(ClientError::protocol(
                "[MQTT-4.12.0-5] AUTH with another method than SCRAM-SHA-256",
            ));
        }
        let data = auth.properties.authentication_data.unwrap_or_default();
        match auth.reason_code {
            ReasonCode::ContinueAuthentication => {
                let answer = s.client_final(&data)?;
                self.queue_packet(&scram::auth_packet(ReasonCode::ContinueAuthentication, answer))
            }
            ReasonCode::Success => {
                let Some((s, reply)) = self.reauth.take() else {
                    return Ok(());
                };
                let verified = s.verify_server_final(Some(&data));
                let _ = reply.send(verified.clone());
                verified
            }
            other => Err(ClientError::protocol(format!(
                "AUTH with reason code {other} during re-authentication"
            ))),
        }
    }

    fn start_close(&mut self, disconnect: Disconnect, reply: Option<Reply<()>>) -> Result<(), ClientError> {
        self.queue_packet(&Packet::Disconnect(disconnect))?;
        self.closing = Some(reply);
        Ok(())
    }

    /// Encodes `packet` onto the write buffer; on failure nothing of it stays there.
    fn queue_packet(&mut self, packet: &Packet) -> Result<(), ClientError> {
        let mark = self.wbuf.len();
        let result = self.framing.encode(packet, &mut self.wbuf);
        if result.is_err() {
            self.wbuf.truncate(mark);
        }
        result
    }

    fn alloc_id(&mut self) -> Option<PacketId> {
        for _ in 0..u16::MAX {
            self.last_id = self.last_id.checked_add(1).unwrap_or(1);
            if !self.pending.contains_key(&self.last_id) {
                return NonZeroU16::new(self.last_id);
            }
        }
        None
    }

    fn on_packet(&mut self, packet: Packet) -> Result<(), ClientError> {
        match packet {
            Packet::Publish(p) => self.on_publish(p),
            Packet::PubAck(ack) => self.on_publish_ack(ack, QoS::AtLeastOnce, false),
            Packet::PubRec(ack) => self.on_pubrec(ack),
            Packet::PubComp(ack) => self.on_publish_ack(ack, QoS::ExactlyOnce, true),
            Packet::PubRel(ack) => {
                let known = self.inbound_qos2.remove(&ack.packet_id.get());
                let mut comp = PubAck::new(ack.packet_id);
                if !known && self.shared.protocol.is_v5() {
                    comp.reason_code = ReasonCode::PacketIdentifierNotFound;
                }
                self.queue_packet(&Packet::PubComp(comp))
            }
            Packet::SubAck(ack) => match self.pending.remove(&ack.packet_id.get()) {
                Some(Pending::Subscribe(reply)) => {
                    let _ = reply.send(Ok(ack));
                    Ok(())
                }
                other => self.unexpected_ack(ack.packet_id, other, "SUBACK"),
            },
            Packet::UnsubAck(ack) => match self.pending.remove(&ack.packet_id.get()) {
                Some(Pending::Unsubscribe(reply)) => {
                    let _ = reply.send(Ok(ack));
                    Ok(())
                }
                other => self.unexpected_ack(ack.packet_id, other, "UNSUBACK"),
            },
            Packet::PingResp => {
                self.ping_sent = None;
                let next = self.last_write + self.keep_alive;
                self.timer.as_mut().reset(next);
                Ok(())
            }
            Packet::Disconnect(d) => Err(ClientError::new(Repr::ServerDisconnected {
                reason: d.reason_code,
                reason_string: d.properties.reason_string.map(|s| s.to_string()),
            })),
            Packet::Auth(auth) => self.on_auth(auth),
            other => Err(ClientError::protocol(format!(
                "a server does not send {:?}",
                other.packet_type()
            ))),
        }
    }

    /// An ack whose identifier we do not hold is ignored (it may answer a request from before a
    /// reconnect); one that names an identifier of another kind breaks the protocol.
    fn unexpected_ack(
        &mut self,
        id: PacketId,
        entry: Option<Pending>,
        what: &str,
    ) -> Result<(), ClientError> {
        match entry {
            None => {
                tracing::debug!(
                    packet_id = id.get(),
                    "{what} for an unknown packet identifier, ignored"
                );
                Ok(())
            }
            Some(entry) => {
                self.pending.insert(id.get(), entry);
                Err(ClientError::protocol(format!(
                    "{what} for packet identifier {id}, which awaits another ack"
                )))
            }
        }
    }

    /// PUBACK (QoS 1) or PUBCOMP (QoS 2 after PUBREL) completes a publish.
    fn on_publish_ack(&mut self, ack: PubAck, want_qos: QoS, want_released: bool) -> Result<(), ClientError> {
        let id = ack.packet_id;
        match self.pending.remove(&id.get()) {
            Some(Pending::Publish { qos, released, reply })
                if qos == want_qos && released == want_released =>
            {
                self.inflight -= 1;
                let _ = reply.send(Ok(PublishOutcome {
                    reason_code: ack.reason_code,
                    properties: ack.properties,
                }));
                Ok(())
            }
            other => {
                let what = if want_qos == QoS::AtLeastOnce {
                    "PUBACK"
                } else {
                    "PUBCOMP"
                };
                self.unexpected_ack(id, other, what)
            }
        }
    }

    fn on_pubrec(&mut self, rec: PubAck) -> Result<(), ClientError> {
        let id = rec.packet_id;
        match self.pending.remove(&id.get()) {
            Some(Pending::Publish {
                qos: QoS::ExactlyOnce,
                released: false,
                reply,
            }) => {
                if rec.reason_code.is_success() {
                    self.pending.insert(
                        id.get(),
                        Pending::Publish {
                            qos: QoS::ExactlyOnce,
                            released: true,
                            reply,
                        },
                    );
                    self.queue_packet(&Packet::PubRel(PubAck::new(id)))
                } else {
                    // A failed PUBREC ends the flow ([MQTT-4.3.3]); the identifier is free again.
                    self.inflight -= 1;
                    let _ = reply.send(Ok(PublishOutcome {
                        reason_code: rec.reason_code,
                        properties: rec.properties,
                    }));
                    Ok(())
                }
            }
            Some(
                entry @ Pending::Publish {
                    qos: QoS::ExactlyOnce,
                    released: true,
                    ..
                },
            ) => {
                // A re-sent PUBREC: answer with PUBREL again.
                self.pending.insert(id.get(), entry);
                self.queue_packet(&Packet::PubRel(PubAck::new(id)))
            }
            None => {
                let mut rel = PubAck::new(id);
                if self.shared.protocol.is_v5() {
                    rel.reason_code = ReasonCode::PacketIdentifierNotFound;
                }
                self.queue_packet(&Packet::PubRel(rel))
            }
            other => self.unexpected_ack(id, other, "PUBREC"),
        }
    }

    fn on_publish(&mut self, mut publish: Publish) -> Result<(), ClientError> {
        if let Some(alias) = publish.properties.topic_alias {
            if publish.topic.is_empty() {
                publish.topic = self.aliases.get(&alias.get()).cloned().ok_or_else(|| {
                    ClientError::protocol(format!(
                        "[MQTT-3.3.2-8] unknown topic alias {alias} with an empty topic"
                    ))
                })?;
            } else {
                self.aliases.insert(alias.get(), publish.topic.clone());
            }
        }
        let deliver = match (publish.qos, publish.packet_id) {
            (QoS::AtMostOnce, _) => true,
            (QoS::AtLeastOnce, Some(id)) => {
                self.queue_packet(&Packet::PubAck(PubAck::new(id)))?;
                true
            }
            (QoS::ExactlyOnce, Some(id)) => {
                self.queue_packet(&Packet::PubRec(PubAck::new(id)))?;
                // Delivered on first receipt; a re-send before PUBREL only gets PUBREC again.
                self.inbound_qos2.insert(id.get())
            }
            (_, None) => {
                return Err(ClientError::protocol(
                    "[MQTT-2.2.1-2] QoS > 0 PUBLISH without a packet identifier",
                ));
            }
        };
        if deliver && self.incoming_open {
            if self.incoming_queue.is_empty() {
                match self.incoming_tx.try_send(publish) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(p)) => self.incoming_queue.push_back(p),
                    Err(mpsc::error::TrySendError::Closed(_)) => self.incoming_open = false,
                }
            } else {
                self.incoming_queue.push_back(publish);
            }
        }
        Ok(())
    }

    /// Keep alive: ping when nothing was sent for the keep-alive interval, fail when a ping goes unanswered.
    fn on_timer(&mut self) -> Result<(), ClientError> {
        let now = Instant::now();
        if let Some(sent) = self.ping_sent {
            let deadline = sent + self.shared.timeout;
            if now >= deadline {
                return Err(ClientError::timeout("PINGRESP", self.shared.timeout));
            }
            self.timer.as_mut().reset(deadline);
            return Ok(());
        }
        let due = self.last_write + self.keep_alive;
        if now < due {
            self.timer.as_mut().reset(due);
            return Ok(());
        }
        self.queue_packet(&Packet::PingReq)?;
        self.ping_sent = Some(now);
        self.timer.as_mut().reset(now + self.shared.timeout);
        Ok(())
    }

    /// Tells a 5.0 server why we are closing, if the socket still takes it within a short while.
    async fn disconnect_best_effort(&mut self, reason: ReasonCode) {
        // Appended to what is queued, so a partly written packet is completed before it.
        if self
            .queue_packet(&Packet::Disconnect(Disconnect::new(reason)))
            .is_ok()
        {
            let send = async {
                let _ = self.writer.write_all(&self.wbuf).await;
                let _ = self.writer.shutdown().await;
            };
            let _ = tokio::time::timeout(Duration::from_secs(1), send).await;
        }
    }
}

/// Moves the oldest queued publish into the receiver's channel once it has room; false if the receiver is
/// gone. Cancel-safe: nothing leaves the queue until the channel has taken it.
async fn deliver_one(tx: &mpsc::Sender<Publish>, queue: &mut VecDeque<Publish>) -> bool {
    match tx.reserve().await {
        Ok(permit) => {
            if let Some(p) = queue.pop_front() {
                permit.send(p);
            }
            true
        }
        Err(_) => false,
    }
}
