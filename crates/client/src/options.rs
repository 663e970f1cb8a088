//! What a connection asks of the server (the CONNECT packet) and how the client itself behaves
//! (timeouts, in-flight window, buffering).

use crate::error::ClientError;
use crate::tls::TlsOptions;
use crate::transport::ServerUrl;
use bytes::Bytes;
use std::fmt;
use std::time::Duration;
use tern_mqtt_codec::{ByteStr, Connect, ConnectProperties, ProtocolVersion, Will};

/// Options for [`Client::connect`](crate::Client::connect), built with chained setters:
///
/// ```
/// use std::time::Duration;
/// use tern_client::{ConnectOptions, ProtocolVersion};
/// let opts = ConnectOptions::new("mqtt://localhost:1883")
///     .client_id("sensor-7")
///     .protocol(ProtocolVersion::V5)
///     .keep_alive(Duration::from_secs(30))
///     .timeout(Duration::from_secs(5));
/// assert_eq!(opts.url(), "mqtt://localhost:1883");
/// ```
#[derive(Clone)]
pub struct ConnectOptions {
    url: String,
    pub(crate) protocol: ProtocolVersion,
    pub(crate) client_id: ByteStr,
    pub(crate) clean_start: bool,
    pub(crate) keep_alive: Duration,
    pub(crate) username: Option<ByteStr>,
    pub(crate) password: Option<Bytes>,
    pub(crate) will: Option<Will>,
    pub(crate) properties: ConnectProperties,
    pub(crate) timeout: Duration,
    pub(crate) max_inflight: u16,
    pub(crate) incoming_capacity: usize,
    pub(crate) tls: TlsOptions,
    /// User name and password for SCRAM-SHA-256 enhanced authentication (MQTT 5).
    pub(crate) scram: Option<(String, Bytes)>,
}

impl ConnectOptions {
    /// Options for the server at `url` (see [`ServerUrl`]), MQTT 3.1.1, clean start, keep alive 60 s,
    /// empty client id (the server assigns one), 10 s timeout.
    pub fn new(url: impl Into<String>) -> ConnectOptions {
        ConnectOptions {
            url: url.into(),
            protocol: ProtocolVersion::V3_1_1,
            client_id: ByteStr::new(),
            clean_start: true,
            keep_alive: Duration::from_secs(60),
            username: None,
            password: None,
            will: None,
            properties: ConnectProperties::default(),
            timeout: Duration::from_secs(10),
            max_inflight: 1024,
            incoming_capacity: 1024,
            tls: TlsOptions::default(),
            scram: None,
        }
    }

    /// Which server certificates `mqtts://` and `wss://` trust, and the client certificate to present.
    pub fn tls(mut self, tls: TlsOptions) -> Self {
        self.tls = tls;
        self
    }

    /// The server URL as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Changes the server URL.
    pub fn set_url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }

    /// Protocol level: 3.1.1 (default), 5.0, or 3.1.
    pub fn protocol(mut self, version: ProtocolVersion) -> Self {
        self.protocol = version;
        self
    }

    /// Client identifier; empty asks the server to assign one (5.0 returns it in CONNACK).
    pub fn client_id(mut self, id: impl Into<ByteStr>) -> Self {
        self.client_id = id.into();
        self
    }

    /// Clean Start (5.0) / Clean Session (3.1.1); `false` resumes a stored session.
    pub fn clean_start(mut self, clean: bool) -> Self {
        self.clean_start = clean;
        self
    }

    /// Keep alive; the client pings when it has sent nothing for this long. Zero turns it off.
    /// Whole seconds, capped at 65,535 s.
    pub fn keep_alive(mut self, keep_alive: Duration) -> Self {
        self.keep_alive = keep_alive;
        self
    }

    /// Session Expiry Interval in seconds (5.0); how long the server keeps the session after disconnect.
    pub fn session_expiry(mut self, seconds: u32) -> Self {
        self.properties.session_expiry_interval = Some(seconds);
        self
    }

    /// User name and optional password.
    pub fn credentials(mut self, username: impl Into<ByteStr>, password: Option<Bytes>) -> Self {
        self.username = Some(username.into());
        self.password = password;
        self
    }

    /// The will message the server publishes if this connection ends abnormally.
    pub fn will(mut self, will: Will) -> Self {
        self.will = Some(will);
        self
    }

    /// Receive Maximum (5.0): how many QoS 1/2 publishes the server may have unacknowledged towards us.
    pub fn receive_maximum(mut self, max: u16) -> Self {
        self.properties.receive_maximum = Some(max);
        self
    }

    /// Replaces all CONNECT properties (5.0), for full control (user properties, maximum packet size, ...).
    /// Call before [`session_expiry`](Self::session_expiry) / [`receive_maximum`](Self::receive_maximum),
    /// which set fields of these properties.
    pub fn properties(mut self, properties: ConnectProperties) -> Self {
        self.properties = properties;
        self
    }

    /// Bound on every wait: TCP connect, CONNACK, each acknowledgement, each PINGRESP. Default 10 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many QoS 1/2 publishes may await acknowledgement at once (further ones wait for a slot);
    /// the effective window is also capped by the server's Receive Maximum. Default 1024, minimum 1.
    pub fn max_inflight(mut self, max: u16) -> Self {
        self.max_inflight = max.max(1);
        self
    }

    /// How many received publishes are buffered for [`Client::recv`](crate::Client::recv) before the
    /// client stops reading the socket (back-pressure towards the server). Default 1024, minimum 1.
    pub fn incoming_capacity(mut self, capacity: usize) -> Self {
        self.incoming_capacity = capacity.max(1);
        self
    }

    /// Logs in with SCRAM-SHA-256 (MQTT 5 enhanced authentication) instead of sending the password: the
    /// password never leaves the client, and the connection fails unless the server proves it holds this
    /// user's credential. Needs MQTT 5 ([`protocol`](ConnectOptions::protocol)); replaces
    /// [`credentials`](ConnectOptions::credentials).
    pub fn scram(mut self, username: impl Into<String>, password: impl Into<Bytes>) -> Self {
        self.scram = Some((username.into(), password.into()));
        self.username = None;
        self.password = None;
        self
    }

    /// The parsed URL.
    pub(crate) fn server_url(&self) -> Result<ServerUrl, ClientError> {
        ServerUrl::parse(&self.url)
    }

    /// The CONNECT packet these options describe.
    pub(crate) fn to_connect(&self) -> Connect {
        let keep_alive = u16::try_from(self.keep_alive.as_secs()).unwrap_or(u16::MAX);
        Connect {
            protocol: self.protocol,
            clean_start: self.clean_start,
            keep_alive,
            client_id: self.client_id.clone(),
            will: self.will.clone(),
            username: self.username.clone(),
            password: self.password.clone(),
            properties: if self.protocol.is_v5() {
                self.properties.clone()
            } else {
                ConnectProperties::default()
            },
        }
    }
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("url", &self.url)
            .field("protocol", &self.protocol)
            .field("client_id", &self.client_id)
            .field("clean_start", &self.clean_start)
            .field("keep_alive", &self.keep_alive)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("scram_user", &self.scram.as_ref().map(|(u, _)| u))
            .field("will_topic", &self.will.as_ref().map(|w| &w.topic))
            .field("timeout", &self.timeout)
            .field("max_inflight", &self.max_inflight)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_password() {
        let o = ConnectOptions::new("mqtt://h").credentials("u", Some(Bytes::from_static(b"hunter2")));
        let s = format!("{o:?}");
        assert!(!s.contains("hunter2") && s.contains("redacted"), "{s}");
    }

    #[test]
    fn v3_connect_drops_properties() {
        let c = ConnectOptions::new("mqtt://h").session_expiry(30).to_connect();
        assert_eq!(c.properties, ConnectProperties::default());
        let c = ConnectOptions::new("mqtt://h")
            .protocol(ProtocolVersion::V5)
            .session_expiry(30)
            .to_connect();
        assert_eq!(c.properties.session_expiry_interval, Some(30));
    }
}
