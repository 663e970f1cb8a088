//! [`Ctx`]: what one test knows — the run's configuration, its protocol, names unique to the test — and what
//! it leaves to clean up (retained messages, stored sessions), removed by the runner when the test ends.

use crate::config::{Config, Protocol};
use crate::peer::Peer;
use crate::registry::Stop;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tern_mqtt_codec::{ConnAck, Connect, Packet, ProtocolVersion, QoS};

/// The context of one running test.
#[derive(Debug)]
pub struct Ctx {
    /// The run's configuration.
    pub cfg: Arc<Config>,
    /// The protocol under test.
    pub protocol: Protocol,
    /// Index of the test in the run, part of its names.
    index: usize,
    /// Counter for client identifiers.
    counter: AtomicU32,
    /// Retained topics and sessions to remove afterwards. Locked only to push or take the lists.
    cleanup: Mutex<Cleanup>,
}

#[derive(Debug, Default)]
struct Cleanup {
    retained: Vec<String>,
    sessions: Vec<String>,
}

impl Ctx {
    /// A context for the test numbered `index` in the run.
    pub fn new(cfg: Arc<Config>, protocol: Protocol, index: usize) -> Ctx {
        Ctx {
            cfg,
            protocol,
            index,
            counter: AtomicU32::new(0),
            cleanup: Mutex::new(Cleanup::default()),
        }
    }

    /// The MQTT protocol version of the test (5.0 for MQTT-SN, whose cross-checks use MQTT 5).
    pub fn version(&self) -> ProtocolVersion {
        self.protocol.mqtt_version().unwrap_or(ProtocolVersion::V5)
    }

    /// True when testing MQTT 5.0.
    pub fn is_v5(&self) -> bool {
        self.version().is_v5()
    }

    /// The step timeout.
    pub fn step(&self) -> Duration {
        self.cfg.step_timeout
    }

    /// How long an absence is observed.
    pub fn quiet(&self) -> Duration {
        self.cfg.quiet
    }

    /// A client identifier unique to this run and test: at most 23 characters of `[0-9a-z]`, so every broker
    /// must accept it ([MQTT-3.1.3-5]).
    pub fn client_id(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("tc{}{:04}{:03}", self.cfg.run_id, self.index % 10_000, n % 1000)
    }

    /// The topic prefix of this test: `tern-conformance/{run}/{index}`.
    pub fn base(&self) -> String {
        format!("{}/{}/{}", self.cfg.topic_root, self.cfg.run_id, self.index)
    }

    /// A topic of this test: `{base}/{leaf}`.
    pub fn topic(&self, leaf: &str) -> String {
        format!("{}/{leaf}", self.base())
    }

    /// A CONNECT for `client_id` at the test's protocol with the run's credentials: Clean Start, keep alive 60 s.
    pub fn connect_packet(&self, client_id: &str) -> Connect {
        let mut c = Connect::new(self.version(), client_id.to_owned());
        c.keep_alive = 60;
        c.username = self.cfg.username.clone().map(Into::into);
        c.password = self.cfg.password.clone();
        c
    }

    /// The MQTT URL: the target, or for MQTT-SN tests the MQTT side given with `--mqtt-url`.
    pub fn mqtt_url(&self) -> Result<&str, Stop> {
        if self.protocol != Protocol::Sn {
            return Ok(&self.cfg.url);
        }
        self.cfg.mqtt_url.as_deref().ok_or_else(|| {
            Stop::NotApplicable("this check needs the broker's MQTT side: give --mqtt-url".to_owned())
        })
    }

    /// Opens an MQTT connection without sending anything.
    pub async fn open(&self) -> Result<Peer, Stop> {
        Peer::open(self.mqtt_url()?, &self.cfg.tls, self.version(), self.step()).await
    }

    /// Sends `connect` on a new connection and returns the CONNACK, whatever its code.
    pub async fn try_connect(&self, connect: Connect) -> Result<(Peer, ConnAck), Stop> {
        let mut peer = self.open().await?;
        peer.client_id = connect.client_id.as_str().to_owned();
        peer.send(Packet::Connect(Box::new(connect))).await?;
        let ack = peer.connack().await?;
        let mut limits = crate::peer::Limits {
            max_qos: self.cfg.max_qos,
            retain: self.cfg.retain_available,
        };
        if let Some(q) = ack.properties.maximum_qos {
            limits.max_qos = limits.max_qos.min(q);
        }
        if ack.properties.retain_available == Some(false) {
            limits.retain = false;
        }
        peer.limits = limits;
        Ok((peer, ack))
    }

    /// Sends `connect` and fails unless the broker accepts it.
    pub async fn connect_with(&self, connect: Connect) -> Result<(Peer, ConnAck), Stop> {
        let (peer, ack) = self.try_connect(connect).await?;
        if !ack.reason_code.is_success() {
            return Err(Stop::Fail(format!(
                "the broker refused CONNECT: {:?}",
                ack.reason_code
            )));
        }
        Ok((peer, ack))
    }

    /// Connects a new client with a fresh identifier and Clean Start.
    pub async fn connect(&self) -> Result<(Peer, ConnAck), Stop> {
        let id = self.client_id();
        self.connect_with(self.connect_packet(&id)).await
    }

    /// Connects a new client and subscribes it to `filter`.
    pub async fn subscriber(&self, filter: &str, qos: QoS) -> Result<Peer, Stop> {
        let (mut p, _) = self.connect().await?;
        p.sub(filter, qos).await?;
        Ok(p)
    }

    /// Sends `bytes` on a new connection and collects the reply until the broker closes (see [`crate::wire::probe`]).
    pub async fn probe(&self, bytes: &[u8]) -> Result<crate::wire::Probe, Stop> {
        crate::wire::probe(self.mqtt_url()?, &self.cfg.tls, bytes, self.step()).await
    }

    /// Records a topic that may hold a retained message, to clear after the test.
    pub fn retained(&self, topic: &str) {
        if let Ok(mut c) = self.cleanup.lock() {
            c.retained.push(topic.to_owned());
        }
    }

    /// Records a client identifier whose session may outlive the test, to remove after it.
    pub fn session(&self, client_id: &str) {
        if let Ok(mut c) = self.cleanup.lock() {
            c.sessions.push(client_id.to_owned());
        }
    }

    /// Removes what the test left: clears its retained topics and ends its stored sessions. Best effort, each
    /// connection bounded by the step timeout.
    pub async fn cleanup(&self) {
        let (retained, sessions) = match self.cleanup.lock() {
            Ok(mut c) => (std::mem::take(&mut c.retained), std::mem::take(&mut c.sessions)),
            Err(_) => return,
        };
        for id in sessions {
            let mut c = self.connect_packet(&id);
            c.clean_start = true;
            if c.protocol.is_v5() {
                c.properties.session_expiry_interval = Some(0);
            }
            if let Ok((p, _)) = self.try_connect(c).await {
                p.disconnect().await;
            }
        }
        if retained.is_empty() {
            return;
        }
        if let Ok((mut p, _)) = self.connect().await {
            for t in retained {
                let _ = p.pub_msg(&t, b"", QoS::AtLeastOnce, true).await;
            }
            p.disconnect().await;
        }
    }
}
