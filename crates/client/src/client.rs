//! The user-facing handles: [`Client`] (receives publishes) and [`ClientHandle`] (cloneable; publishes,
//! subscribes, disconnects). Both talk over channels to the one background task that owns the socket.

use crate::driver::{Command, Driver};
use crate::error::{ClientError, Repr};
use crate::framing::{Framing, MAX_PACKET_SIZE};
use crate::options::ConnectOptions;
use crate::scram::{self, ScramClient};
use crate::transport::{self, BoxStream, ByteStream};
use bytes::{Bytes, BytesMut};
use std::num::NonZeroU16;
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tern_mqtt_codec::topic::{validate_topic_filter, validate_topic_name};
use tern_mqtt_codec::{
    AckProperties, ByteStr, ConnAck, Disconnect, Packet, ProtocolVersion, Publish, PublishProperties, QoS,
    ReasonCode, SubAck, Subscribe, SubscribeFilter, SubscribeProperties, SubscriptionOptions, UnsubAck,
    Unsubscribe, UserProperty,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

/// How many commands may queue towards the background task before callers wait.
const COMMAND_QUEUE: usize = 256;

/// The result of a publish: the server's verdict once the QoS flow completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishOutcome {
    /// PUBACK (QoS 1) or PUBREC/PUBCOMP (QoS 2) reason code; `Success` for QoS 0 once the packet is queued
    /// for the socket, and always on 3.x (which has no reason codes on acks).
    pub reason_code: ReasonCode,
    /// Reason string and user properties of the acknowledgement (5.0).
    pub properties: AckProperties,
}

impl PublishOutcome {
    pub(crate) fn success() -> PublishOutcome {
        PublishOutcome {
            reason_code: ReasonCode::Success,
            properties: AckProperties::default(),
        }
    }

    /// True when the server accepted the message (reason code below 0x80).
    pub fn is_success(&self) -> bool {
        self.reason_code.is_success()
    }
}

/// A publish handed to the connection whose acknowledgement has not been awaited yet; returned by
/// [`ClientHandle::publish_nowait`] so many publishes can be outstanding at once.
#[derive(Debug)]
#[must_use = "a pending publish does nothing unless waited on; drop it only if the outcome does not matter"]
pub struct PendingPublish {
    rx: oneshot::Receiver<Result<PublishOutcome, ClientError>>,
    shared: Arc<Shared>,
}

impl PendingPublish {
    /// Waits for the acknowledgement (bounded by the connection's timeout).
    pub async fn wait(self) -> Result<PublishOutcome, ClientError> {
        await_reply(&self.shared, self.rx, "the publish acknowledgement").await
    }
}

/// State shared by the handles and the background task.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Protocol level of the connection.
    pub(crate) protocol: ProtocolVersion,
    /// Bound on every wait.
    pub(crate) timeout: Duration,
    /// Maximum QoS the server accepts (CONNACK, 5.0).
    pub(crate) max_qos: QoS,
    /// Whether the server accepts retained messages (CONNACK, 5.0).
    pub(crate) retain_available: bool,
    /// SCRAM-SHA-256 credentials the connection logged in with, for re-authentication.
    pub(crate) scram: Option<(String, Bytes)>,
    /// Why the connection ended; set once by the background task before it drops its channels, read by
    /// handles whose channel send failed. Locked only to clone or store the value.
    pub(crate) close_error: Mutex<Option<ClientError>>,
}

impl Shared {
    fn closed_error(&self) -> ClientError {
        let stored = self.close_error.lock().ok().and_then(|g| g.clone());
        stored.unwrap_or_else(|| ClientError::closed("the connection task has ended"))
    }
}

async fn await_reply<T>(
    shared: &Shared,
    rx: oneshot::Receiver<Result<T, ClientError>>,
    what: &'static str,
) -> Result<T, ClientError> {
    match tokio::time::timeout(shared.timeout, rx).await {
        Err(_) => Err(ClientError::timeout(what, shared.timeout)),
        Ok(Err(_)) => Err(shared.closed_error()),
        Ok(Ok(result)) => result,
    }
}

/// A subscription request for `filter` at maximum QoS `qos`, with default options.
pub fn filter(filter: impl Into<ByteStr>, qos: QoS) -> SubscribeFilter {
    SubscribeFilter {
        filter: filter.into(),
        options: SubscriptionOptions {
            qos,
            ..SubscriptionOptions::default()
        },
    }
}

/// An MQTT connection: receives publishes with [`recv`](Client::recv), and through `Deref` to
/// [`ClientHandle`] publishes, subscribes and disconnects. Dropping the client and every handle closes the
/// connection with a normal DISCONNECT.
#[derive(Debug)]
pub struct Client {
    handle: ClientHandle,
    incoming: mpsc::Receiver<Publish>,
}

/// A cloneable sender side of a [`Client`], for publishing from several tasks.
#[derive(Debug, Clone)]
pub struct ClientHandle {
    cmd_tx: mpsc::Sender<Command>,
    shared: Arc<Shared>,
}

impl Client {
    /// Opens the transport the URL names, sends CONNECT and waits for CONNACK (all within the options'
    /// timeout). A CONNACK with a failure code is an error of kind
    /// [`ConnectRefused`](crate::ErrorKind::ConnectRefused) carrying that code.
    pub async fn connect(opts: ConnectOptions) -> Result<(Client, ConnAck), ClientError> {
        let url = opts.server_url()?;
        let stream = transport::open_with(&url, opts.timeout, &opts.tls).await?;
        Client::handshake(stream, opts, url.transport().scheme()).await
    }

    /// Like [`connect`](Client::connect) over a stream the caller opened (the URL in `opts` is ignored).
    pub async fn connect_stream(
        stream: impl ByteStream,
        opts: ConnectOptions,
    ) -> Result<(Client, ConnAck), ClientError> {
        Client::handshake(Box::new(stream), opts, "stream").await
    }

    async fn handshake(
        mut stream: BoxStream,
        opts: ConnectOptions,
        transport: &'static str,
    ) -> Result<(Client, ConnAck), ClientError> {
        let max_in = opts
            .properties
            .maximum_packet_size
            .filter(|_| opts.protocol.is_v5())
            .unwrap_or(MAX_PACKET_SIZE);
        let mut framing = Framing::new(opts.protocol, max_in);
        let mut wbuf = BytesMut::new();
        let mut connect = opts.to_connect();
        let mut scram = match &opts.scram {
            Some(_) if !opts.protocol.is_v5() => {
                return Err(ClientError::invalid_argument(
                    "SCRAM-SHA-256 is MQTT 5 enhanced authentication: set protocol 5",
                ));
            }
            Some((user, password)) => {
                let s = ScramClient::new(user, password)?;
                connect.properties.authentication_method = Some(ByteStr::from(scram::METHOD));
                connect.properties.authentication_data = Some(Bytes::from(s.client_first()));
                Some(s)
            }
            None => None,
        };
        framing.encode(&Packet::Connect(Box::new(connect)), &mut wbuf)?;
        let exchange = async {
            loop {
                stream
                    .write_all(&wbuf)
                    .await
                    .map_err(|e| ClientError::io("cannot send CONNECT", e))?;
                stream
                    .flush()
                    .await
                    .map_err(|e| ClientError::io("cannot send CONNECT", e))?;
                wbuf.clear();
                let packet = loop {
                    if let Some(packet) = framing.decode()? {
                        break packet;
                    }
                    framing.reserve();
                    let n = stream
                        .read_buf(&mut framing.rbuf)
                        .await
                        .map_err(|e| ClientError::io("waiting for CONNACK", e))?;
                    if n == 0 {
                        return Err(ClientError::closed(
                            "the server closed the connection before CONNACK",
                        ));
                    }
                };
                let Packet::Auth(auth) = packet else {
                    return Ok(packet);
                };
                // Enhanced authentication: answer the server's challenge and read on.
                let Some(s) = scram.as_mut() else {
                    return Err(ClientError::protocol(
                        "[MQTT-4.12.0-6] AUTH received although CONNECT had no Authentication Method",
                    ));
                };
                if auth.reason_code != ReasonCode::ContinueAuthentication
                    || auth.properties.authentication_method.as_deref() != Some(scram::METHOD)
                {
                    return Err(ClientError::protocol(
                        "[MQTT-4.12.0-5] AUTH before CONNACK must continue SCRAM-SHA-256",
                    ));
                }
                let data = auth.properties.authentication_data.unwrap_or_default();
                let answer = s.client_final(&data)?;
                framing.encode(
                    &scram::auth_packet(ReasonCode::ContinueAuthentication, answer),
                    &mut wbuf,
                )?;
            }
        };
        let packet = tokio::time::timeout(opts.timeout, exchange)
            .await
            .map_err(|_| ClientError::timeout("CONNACK", opts.timeout))??;
        let connack = match packet {
            Packet::ConnAck(ack) => *ack,
            Packet::Disconnect(d) => {
                return Err(ClientError::new(Repr::ServerDisconnected {
                    reason: d.reason_code,
                    reason_string: d.properties.reason_string.map(|s| s.to_string()),
                }));
            }
            other => {
                return Err(ClientError::protocol(format!(
                    "[MQTT-3.2.0-1] expected CONNACK as the first packet, got {:?}",
                    other.packet_type()
                )));
            }
        };
        if !connack.reason_code.is_success() {
            return Err(ClientError::new(Repr::ConnectRefused(connack.reason_code)));
        }
        if let Some(s) = &scram {
            if connack.properties.authentication_method.as_deref() != Some(scram::METHOD) {
                return Err(ClientError::protocol(
                    "[MQTT-4.12.0-5] CONNACK does not repeat the SCRAM-SHA-256 Authentication Method",
                ));
            }
            s.verify_server_final(connack.properties.authentication_data.as_deref())?;
        }

        let props = &connack.properties;
        let shared = Arc::new(Shared {
            protocol: opts.protocol,
            timeout: opts.timeout,
            max_qos: props.maximum_qos.unwrap_or(QoS::ExactlyOnce),
            retain_available: props.retain_available.unwrap_or(true),
            scram: opts.scram.clone(),
            close_error: Mutex::new(None),
        });
        let keep_alive = match props.server_keep_alive {
            Some(secs) => Duration::from_secs(u64::from(secs)),
            None => Duration::from_secs(opts.keep_alive.as_secs().min(u64::from(u16::MAX))),
        };
        let window = usize::from(
            opts.max_inflight
                .min(props.receive_maximum.unwrap_or(u16::MAX))
                .max(1),
        );
        let client_id = props
            .assigned_client_identifier
            .clone()
            .unwrap_or_else(|| opts.client_id.clone());

        let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_QUEUE);
        let (in_tx, in_rx) = mpsc::channel(opts.incoming_capacity);
        let driver = Driver::new(stream, framing, cmd_rx, in_tx, shared.clone(), keep_alive, window);
        let span = tracing::debug_span!("mqtt_client", client_id = %client_id, transport);
        tokio::spawn(driver.run().instrument(span));

        let client = Client {
            handle: ClientHandle { cmd_tx, shared },
            incoming: in_rx,
        };
        Ok((client, connack))
    }

    /// The next publish from the server, already acknowledged (QoS 1) or recorded (QoS 2, delivered once
    /// even if the server re-sends it). `None` once the connection has closed and every received publish
    /// was returned; [`close_reason`](ClientHandle::close_reason) then says why.
    pub async fn recv(&mut self) -> Option<Publish> {
        self.incoming.recv().await
    }

    /// A cloneable handle for publishing from other tasks.
    pub fn handle(&self) -> ClientHandle {
        self.handle.clone()
    }
}

impl Deref for Client {
    type Target = ClientHandle;
    fn deref(&self) -> &ClientHandle {
        &self.handle
    }
}

impl ClientHandle {
    /// The protocol level of the connection.
    pub fn protocol(&self) -> ProtocolVersion {
        self.shared.protocol
    }

    /// True once the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.cmd_tx.is_closed()
    }

    /// Why the connection ended (`None` while it is open). A client-requested disconnect is reported as
    /// [`ConnectionClosed`](crate::ErrorKind::ConnectionClosed).
    pub fn close_reason(&self) -> Option<ClientError> {
        self.shared.close_error.lock().ok().and_then(|g| g.clone())
    }

    /// Publishes `payload` on `topic` and waits for the QoS flow to finish (PUBACK for QoS 1, PUBCOMP for
    /// QoS 2). The outcome holds the server's reason code; a refusal (e.g. NotAuthorized) is `Ok` with a
    /// failure code, while a broken or timed-out connection is `Err`.
    pub async fn publish(
        &self,
        topic: impl Into<ByteStr>,
        payload: impl Into<Bytes>,
        qos: QoS,
        retain: bool,
    ) -> Result<PublishOutcome, ClientError> {
        self.publish_with(Publish {
            dup: false,
            qos,
            retain,
            topic: topic.into(),
            packet_id: None,
            properties: PublishProperties::default(),
            payload: payload.into(),
        })
        .await
    }

    /// Publishes a packet built by the caller (properties, topic alias, ...) and waits for its flow to
    /// finish. The packet identifier is assigned by the connection; any given one is replaced.
    pub async fn publish_with(&self, publish: Publish) -> Result<PublishOutcome, ClientError> {
        self.publish_nowait(publish).await?.wait().await
    }

    /// Hands a publish to the connection without waiting for its acknowledgement, so many can be in flight
    /// (up to the window of [`ConnectOptions::max_inflight`] and the server's Receive Maximum; beyond it,
    /// this waits for a slot). Await the returned [`PendingPublish`] for the outcome.
    pub async fn publish_nowait(&self, publish: Publish) -> Result<PendingPublish, ClientError> {
        if publish.qos > self.shared.max_qos {
            return Err(ClientError::invalid_argument(format!(
                "[MQTT-3.2.2-11] QoS {} exceeds the server's maximum QoS {}",
                publish.qos as u8, self.shared.max_qos as u8
            )));
        }
        let alias_only = publish.topic.is_empty()
            && publish.properties.topic_alias.is_some()
            && self.shared.protocol.is_v5();
        if !alias_only {
            validate_topic_name(&publish.topic).map_err(|e| {
                ClientError::invalid_argument(format!("invalid topic name {:?}: {e}", publish.topic.as_str()))
            })?;
        }
        if publish.retain && !self.shared.retain_available {
            return Err(ClientError::invalid_argument(
                "[MQTT-3.2.2-14] the server does not support retained messages",
            ));
        }
        let (tx, rx) = oneshot::channel();
        self.send(Command::Publish { publish, reply: tx }).await?;
        Ok(PendingPublish {
            rx,
            shared: self.shared.clone(),
        })
    }

    /// Subscribes to `filters` (see [`filter`](crate::filter)) and returns the SUBACK, one reason code per
    /// filter: granted QoS or a failure the caller should check.
    pub async fn subscribe(
        &self,
        filters: impl IntoIterator<Item = SubscribeFilter>,
    ) -> Result<SubAck, ClientError> {
        self.subscribe_with(filters, SubscribeProperties::default()).await
    }

    /// Like [`subscribe`](Self::subscribe) with SUBSCRIBE properties (subscription identifier, user
    /// properties; 5.0).
    pub async fn subscribe_with(
        &self,
        filters: impl IntoIterator<Item = SubscribeFilter>,
        properties: SubscribeProperties,
    ) -> Result<SubAck, ClientError> {
        let filters: Vec<_> = filters.into_iter().collect();
        if filters.is_empty() {
            return Err(ClientError::invalid_argument(
                "[MQTT-3.8.3-2] SUBSCRIBE needs at least one topic filter",
            ));
        }
        for f in &filters {
            validate_topic_filter(&f.filter).map_err(|e| {
                ClientError::invalid_argument(format!("invalid topic filter {:?}: {e}", f.filter.as_str()))
            })?;
        }
        let subscribe = Subscribe {
            packet_id: NonZeroU16::MIN,
            properties,
            filters,
        };
        let (tx, rx) = oneshot::channel();
        self.send(Command::Subscribe { subscribe, reply: tx }).await?;
        await_reply(&self.shared, rx, "SUBACK").await
    }

    /// Removes subscriptions; returns the UNSUBACK (reason codes per filter on 5.0, none on 3.x).
    pub async fn unsubscribe(
        &self,
        filters: impl IntoIterator<Item = impl Into<ByteStr>>,
    ) -> Result<UnsubAck, ClientError> {
        self.unsubscribe_with(filters, Vec::new()).await
    }

    /// Like [`unsubscribe`](Self::unsubscribe) with user properties (5.0).
    pub async fn unsubscribe_with(
        &self,
        filters: impl IntoIterator<Item = impl Into<ByteStr>>,
        user_properties: Vec<UserProperty>,
    ) -> Result<UnsubAck, ClientError> {
        let filters: Vec<ByteStr> = filters.into_iter().map(Into::into).collect();
        if filters.is_empty() {
            return Err(ClientError::invalid_argument(
                "[MQTT-3.10.3-2] UNSUBSCRIBE needs at least one topic filter",
            ));
        }
        for f in &filters {
            validate_topic_filter(f).map_err(|e| {
                ClientError::invalid_argument(format!("invalid topic filter {:?}: {e}", f.as_str()))
            })?;
        }
        let unsubscribe = Unsubscribe {
            packet_id: NonZeroU16::MIN,
            user_properties,
            filters,
        };
        let (tx, rx) = oneshot::channel();
        self.send(Command::Unsubscribe {
            unsubscribe,
            reply: tx,
        })
        .await?;
        await_reply(&self.shared, rx, "UNSUBACK").await
    }

    /// Sends DISCONNECT with `reason` (5.0; 3.x has none), flushes everything queued before it and closes
    /// the socket. Use `DisconnectWithWillMessage` to have the server publish the will.
    pub async fn disconnect(&self, reason: ReasonCode) -> Result<(), ClientError> {
        self.disconnect_with(Disconnect::new(reason)).await
    }

    /// Like [`disconnect`](Self::disconnect) with DISCONNECT properties (session expiry, reason string).
    pub async fn disconnect_with(&self, disconnect: Disconnect) -> Result<(), ClientError> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Disconnect {
            disconnect,
            reply: tx,
        })
        .await?;
        await_reply(&self.shared, rx, "the connection to close").await
    }

    /// Re-authenticates a connection that logged in with [`ConnectOptions::scram`]: runs the SCRAM-SHA-256
    /// exchange again over AUTH 0x19 (MQTT 5 section 4.12.1) while traffic goes on, and checks the server's
    /// signature. A refusal closes the connection (the server sends DISCONNECT, MQTT-4.12.1-2).
    pub async fn reauthenticate(&self) -> Result<(), ClientError> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Reauthenticate { reply: tx }).await?;
        await_reply(&self.shared, rx, "re-authentication").await
    }

    async fn send(&self, cmd: Command) -> Result<(), ClientError> {
        match tokio::time::timeout(self.shared.timeout, self.cmd_tx.send(cmd)).await {
            Err(_) => Err(ClientError::timeout(
                "room in the in-flight window",
                self.shared.timeout,
            )),
            Ok(Err(_)) => Err(self.shared.closed_error()),
            Ok(Ok(())) => Ok(()),
        }
    }
}
