//! What the suite knows about the broker under test and how it runs: the target, credentials, the protocols
//! to test, the fences the broker sets (a refused topic filter), timeouts and parallelism.

use bytes::Bytes;
use std::fmt;
use std::time::Duration;

/// A protocol the suite has tests for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// MQTT 3.1.1 (protocol level 4).
    V311,
    /// MQTT 5.0 (protocol level 5).
    V5,
    /// MQTT-SN 1.2 over UDP.
    Sn,
}

impl Protocol {
    /// The name used on the command line and in reports: `3.1.1`, `5.0`, `sn-1.2`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::V311 => "3.1.1",
            Protocol::V5 => "5.0",
            Protocol::Sn => "sn-1.2",
        }
    }

    /// Parses a command-line name (`3.1.1`, `311`, `5`, `5.0`, `sn`, `sn-1.2`, `mqttsn`).
    pub fn parse(s: &str) -> Option<Protocol> {
        match s.to_ascii_lowercase().as_str() {
            "3.1.1" | "311" | "3" | "v3.1.1" => Some(Protocol::V311),
            "5" | "5.0" | "v5" | "v5.0" => Some(Protocol::V5),
            "sn" | "sn-1.2" | "mqttsn" | "mqtt-sn" | "1.2" => Some(Protocol::Sn),
            _ => None,
        }
    }

    /// The codec's protocol version for the MQTT protocols (MQTT-SN has none).
    pub fn mqtt_version(self) -> Option<tern_client::ProtocolVersion> {
        match self {
            Protocol::V311 => Some(tern_client::ProtocolVersion::V3_1_1),
            Protocol::V5 => Some(tern_client::ProtocolVersion::V5),
            Protocol::Sn => None,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything a test may need to know about the run.
#[derive(Clone)]
pub struct Config {
    /// URL of the MQTT side of the broker (`mqtt://host:port`, or any scheme `tern-client` opens).
    pub url: String,
    /// The broker's MQTT URL when `url` is an MQTT-SN gateway (`mqttsn://`): the MQTT side of cross-checks.
    pub mqtt_url: Option<String>,
    /// User name sent in every CONNECT, if the broker requires one.
    pub username: Option<String>,
    /// Password sent with the user name.
    pub password: Option<Bytes>,
    /// How `mqtts://`, `wss://` and `quic://` check the broker's certificate (CA file, insecure) and which
    /// client certificate they present.
    pub tls: tern_client::TlsOptions,
    /// The highest QoS the broker accepts in PUBLISH when known (`--max-qos`; 5.0 brokers announce it too).
    pub max_qos: tern_client::QoS,
    /// Whether the broker accepts retained messages (`--no-retain` says it does not; 5.0 brokers announce it).
    pub retain_available: bool,
    /// A topic filter the broker refuses to subscribe to; the SUBACK failure statements need one and are
    /// "not applicable" without it.
    pub denied_filter: Option<String>,
    /// Bound on each wait for a packet (CONNACK, SUBACK, a delivery, a close).
    pub step_timeout: Duration,
    /// Bound on a whole test, cleanup excluded.
    pub test_timeout: Duration,
    /// How long "nothing arrives" is observed before it is believed (a delivery that must not happen).
    pub quiet: Duration,
    /// Tests run at once.
    pub jobs: usize,
    /// Unique per run: part of every client identifier and topic, so parallel and repeated runs never meet.
    pub run_id: String,
    /// Root of every topic the suite uses.
    pub topic_root: String,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("tls", &self.tls)
            .field("denied_filter", &self.denied_filter)
            .field("step_timeout", &self.step_timeout)
            .field("test_timeout", &self.test_timeout)
            .field("jobs", &self.jobs)
            .field("run_id", &self.run_id)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// A configuration for `url` with the defaults: 5 s per step, 20 s per test, 8 tests at once.
    pub fn new(url: impl Into<String>) -> Config {
        Config {
            url: url.into(),
            mqtt_url: None,
            username: None,
            password: None,
            tls: tern_client::TlsOptions::default(),
            max_qos: tern_client::QoS::ExactlyOnce,
            retain_available: true,
            denied_filter: None,
            step_timeout: Duration::from_secs(5),
            test_timeout: Duration::from_secs(20),
            quiet: Duration::from_millis(500),
            jobs: 8,
            run_id: new_run_id(),
            topic_root: "tern-conformance".to_owned(),
        }
    }
}

/// Six base-36 characters from the clock and the process id: different for runs started in parallel.
fn new_run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut n = (nanos ^ (u128::from(std::process::id()) << 40)) % 36u128.pow(6);
    let mut s = String::new();
    for _ in 0..6 {
        let d = (n % 36) as u32;
        s.push(std::char::from_digit(d, 36).unwrap_or('0'));
        n /= 36;
    }
    s
}
