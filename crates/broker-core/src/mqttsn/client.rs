//! One MQTT-SN client as the gateway tracks it: its place in the spec's state machine, its session, topic
//! ids, the will it gave, and the gateway → client messages waiting or awaiting an acknowledgement.

use super::topics::TopicTable;
use crate::persistence::CommitTicket;
use crate::policy::Identity;
use crate::session::{Outbound, SessionHandle};
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tern_mqttsn_codec::{Message as SnMessage, QoS as SnQoS};

/// Where a client is in the MQTT-SN 1.2 client state machine (spec §6.14). The spec's *lost* and
/// *disconnected* states have no entry: the gateway forgets the peer (its session may live on in the
/// broker), so [`SnGateway::client_state`](super::SnGateway::client_state) answers `None` for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnClientState {
    /// CONNECT received with the Will flag; the will handshake is in progress.
    Connecting,
    /// Connected: messages flow both ways, keep alive supervised.
    Active,
    /// Sleeping (DISCONNECT with a duration): messages for it are buffered.
    Asleep,
    /// Woken by PINGREQ with its client id: buffered messages are being delivered, then PINGRESP.
    Awake,
}

/// Step of the will handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WillStep {
    /// WILLTOPICREQ sent.
    Topic,
    /// WILLMSGREQ sent.
    Message,
}

/// What CONNECT asked for, kept while the will handshake runs.
#[derive(Debug, Clone)]
pub(crate) struct PendingConnect {
    pub(crate) step: WillStep,
    pub(crate) clean_session: bool,
    pub(crate) duration: u16,
}

/// The will a client gave: published by the gateway when the client is lost.
#[derive(Debug, Clone, Default)]
pub(crate) struct SnWill {
    /// Sensor-side topic name; no will without one.
    pub(crate) topic: Option<Arc<str>>,
    pub(crate) qos: SnQoS,
    pub(crate) retain: bool,
    pub(crate) payload: Bytes,
}

/// A gateway → client message awaiting its acknowledgement, retransmitted every Tretry.
#[derive(Debug)]
pub(crate) struct Outstanding {
    /// What to send again (PUBLISH with DUP set, REGISTER, PUBREL).
    pub(crate) message: SnMessage,
    /// What answers it.
    pub(crate) awaiting: Awaiting,
    /// The delivery behind a PUBLISH, put back if the client must first learn the topic id.
    pub(crate) delivery: Option<Outbound>,
    pub(crate) deadline: Instant,
    pub(crate) retries: u32,
}

/// The acknowledgement an [`Outstanding`] message waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Awaiting {
    /// REGACK for a gateway REGISTER of `topic_id`.
    RegAck { msg_id: u16, topic_id: u16 },
    /// PUBACK for a QoS 1 PUBLISH.
    PubAck(u16),
    /// PUBREC for a QoS 2 PUBLISH.
    PubRec(u16),
    /// PUBCOMP after our PUBREL.
    PubComp(u16),
}

/// An acknowledgement to one of the client's messages, held until the state it confirms is durable.
#[derive(Debug)]
pub(crate) struct ParkedAck {
    /// The commit it waits for; `None` = send once the acks before it are out.
    pub(crate) ticket: Option<CommitTicket>,
    pub(crate) ack: SnMessage,
    /// The publish's topic id, for the PUBACK that refuses it when the commit fails (store full).
    pub(crate) topic_id: u16,
}

/// One tracked client.
pub(crate) struct SnClient {
    /// Stable key of this client for its notifier (the address may change when a sleeper wakes elsewhere).
    pub(crate) token: u64,
    /// Client id as the sensor sent it.
    pub(crate) client_id: Arc<str>,
    pub(crate) state: SnClientState,
    pub(crate) connect: Option<PendingConnect>,
    pub(crate) session: Option<SessionHandle>,
    /// Who the policy admitted this client as (`AuthPolicy::authenticate_sn`), for publish/subscribe checks.
    pub(crate) identity: Identity,
    /// Keep alive in force; `None` = off.
    pub(crate) keep_alive: Option<Duration>,
    /// Sleep duration given by the last DISCONNECT.
    pub(crate) sleep: Duration,
    /// Last datagram from the client (keep alive and sleep supervision start from here).
    pub(crate) last_received: Instant,
    /// CONNECT must complete by then.
    pub(crate) connect_deadline: Instant,
    pub(crate) topics: TopicTable,
    pub(crate) will: SnWill,
    /// Deliveries pulled from the session and not yet sent (the sleeping buffer, or waiting on REGACK or
    /// on the one outstanding QoS 1/2 message).
    pub(crate) pending: VecDeque<Outbound>,
    pub(crate) outstanding: Option<Outstanding>,
    /// Acks to the client's publishes, each possibly waiting on a durability commit.
    pub(crate) acks: VecDeque<ParkedAck>,
    /// Message id of the last gateway REGISTER.
    pub(crate) last_msg_id: u16,
    /// Earliest timer entry armed for this client.
    pub(crate) armed: Option<Instant>,
    /// Counted in the broker's connection gauge.
    pub(crate) counted: bool,
}

impl std::fmt::Debug for SnClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnClient")
            .field("client_id", &self.client_id)
            .field("state", &self.state)
            .field("pending", &self.pending.len())
            .field("topics", &self.topics.len())
            .finish_non_exhaustive()
    }
}

impl SnClient {
    pub(crate) fn new(token: u64, client_id: Arc<str>, now: Instant, connect_timeout: Duration) -> SnClient {
        SnClient {
            token,
            client_id,
            state: SnClientState::Connecting,
            connect: None,
            session: None,
            identity: Identity::default(),
            keep_alive: None,
            sleep: Duration::ZERO,
            last_received: now,
            connect_deadline: now + connect_timeout,
            topics: TopicTable::default(),
            will: SnWill::default(),
            pending: VecDeque::new(),
            outstanding: None,
            acks: VecDeque::new(),
            last_msg_id: 0,
            armed: None,
            counted: false,
        }
    }

    /// A fresh message id for a gateway-initiated REGISTER (never 0).
    pub(crate) fn next_msg_id(&mut self) -> u16 {
        self.last_msg_id = self.last_msg_id.wrapping_add(1);
        if self.last_msg_id == 0 {
            self.last_msg_id = 1;
        }
        self.last_msg_id
    }

    /// When the client is lost if nothing is heard from it: 1.5 × keep alive when active, 1.5 × the sleep
    /// duration when asleep or awake, the CONNECT deadline while connecting.
    pub(crate) fn silence_deadline(&self) -> Option<Instant> {
        match self.state {
            SnClientState::Connecting => Some(self.connect_deadline),
            SnClientState::Active => self.keep_alive.map(|ka| self.last_received + ka + ka / 2),
            SnClientState::Asleep | SnClientState::Awake => {
                Some(self.last_received + self.sleep + self.sleep / 2)
            }
        }
    }

    /// The earliest instant this client has timer work.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let retry = match self.state {
            SnClientState::Active | SnClientState::Awake => self.outstanding.as_ref().map(|o| o.deadline),
            _ => None,
        };
        [self.silence_deadline(), retry].into_iter().flatten().min()
    }
}
