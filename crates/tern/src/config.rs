//! The TOML configuration: parsed strictly (unknown keys are errors that point at their line), with every
//! setting optional so the core's own defaults stay the single source of truth.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

mod mqttsn;
pub use mqttsn::MqttSnListenerConfig;

/// The configuration compiled into the binary, used when no `--config` is given.
pub const EMBEDDED_DEFAULT: &str = include_str!("../tern.default.toml");

/// A whole configuration file.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Logging.
    #[serde(default)]
    pub log: LogConfig,
    /// Limits applied to every client on every listener.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Subscription fences.
    #[serde(default)]
    pub subscribe: SubscribeConfig,
    /// `$SYS` topics.
    #[serde(default)]
    pub sys: SysConfig,
    /// Authentication and authorization: password file, JWT, ACL, MQTT-SN admission.
    #[serde(default)]
    pub auth: tern_auth::AuthConfig,
    /// Listeners; at least one.
    #[serde(default, rename = "listener")]
    pub listeners: Vec<ListenerConfig>,
    /// The durable store.
    #[serde(default)]
    pub store: crate::store::StoreConfig,
    /// Where Tern keeps its files (the generated development certificate); `tern-data` in the working
    /// directory when unset.
    pub data_dir: Option<PathBuf>,
}

/// `[log]`
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// A `tracing` filter such as `info` or `info,tern_broker_core::connection=debug`; `RUST_LOG` overrides it.
    pub level: Option<String>,
}

/// `[limits]`: each unset key keeps the broker's default (see tern.example.toml).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Connections across all listeners.
    pub max_connections: Option<usize>,
    /// Largest packet accepted from a client, in bytes.
    pub max_packet_size: Option<u32>,
    /// Receive Maximum announced to clients and cap on unacknowledged outbound QoS 1/2 messages.
    pub max_inflight: Option<u16>,
    /// Messages queued per session (online backlog or offline).
    pub max_queued_messages: Option<usize>,
    /// Bytes queued per session.
    pub max_queued_bytes: Option<usize>,
    /// QoS 1/2 messages a durable session keeps on disk beyond its in-memory queue.
    pub max_stored_messages: Option<usize>,
    /// Which message a full queue drops: "oldest" or "new".
    pub queue_drop: Option<QueueDrop>,
    /// Largest keep alive accepted, in seconds (0: no cap); a larger one is replaced by Server Keep Alive.
    pub max_keepalive: Option<u16>,
    /// Largest session expiry interval granted, in seconds.
    pub max_session_expiry: Option<u32>,
    /// Levels a topic name or filter may have.
    pub max_topic_levels: Option<usize>,
    /// Bytes a topic name or filter may have.
    pub max_topic_length: Option<usize>,
    /// Subscriptions one client may hold (0: unlimited).
    pub max_subscriptions_per_client: Option<usize>,
    /// Topic Alias Maximum announced to MQTT 5 clients.
    pub topic_alias_maximum: Option<u16>,
    /// Retained messages kept in total.
    pub max_retained_messages: Option<usize>,
    /// Bytes of retained messages kept in total.
    pub max_retained_bytes: Option<usize>,
    /// Whether clients may publish retained messages.
    pub retain_available: Option<bool>,
    /// Highest QoS the broker grants (0, 1 or 2).
    pub maximum_qos: Option<u8>,
    /// Seconds a new connection has to send CONNECT.
    pub connect_timeout: Option<u64>,
    /// Seconds a write may make no progress (the peer stopped reading) before the connection is closed.
    pub write_timeout: Option<u64>,
    /// Connected clients per IP address, across listeners (0: unlimited).
    pub max_connections_per_ip: Option<usize>,
    /// PUBLISH packets per second per connection (token bucket).
    pub publish_rate: Option<u64>,
    /// Burst of `publish_rate` (default: one second's worth).
    pub publish_burst: Option<u64>,
    /// Bytes (topic + payload) per second per connection.
    pub publish_bytes_rate: Option<u64>,
    /// Burst of `publish_bytes_rate` (default: one second's worth).
    pub publish_bytes_burst: Option<u64>,
    /// Flapping: more than this many connects of one client id within `flap_window` bans it (0: off).
    pub flap_max: Option<u32>,
    /// Seconds over which connects are counted for flapping.
    pub flap_window: Option<u64>,
    /// Seconds a flapping client id stays banned.
    pub flap_ban: Option<u64>,
    /// Longest pause, in milliseconds, of a publisher whose messages filled a subscriber's queue (0: never
    /// pause publishers).
    pub publisher_pause_ms: Option<u64>,
}

/// `limits.queue_drop`
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum QueueDrop {
    /// Drop the oldest queued message to make room.
    Oldest,
    /// Refuse the new message.
    New,
}

/// `[subscribe]`
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SubscribeConfig {
    /// Topic filters no client may subscribe to (matched against the requested filter, wildcards allowed).
    #[serde(default)]
    pub denied_filters: Vec<String>,
    /// The SUBACK code for a denied filter: "unspecified" (0x80) or "not-authorized" (0x87).
    pub denied_reason: Option<DeniedReason>,
}

/// `subscribe.denied_reason`
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum DeniedReason {
    /// 0x80 Unspecified error.
    Unspecified,
    /// 0x87 Not authorized.
    NotAuthorized,
}

/// `[sys]`
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SysConfig {
    /// Seconds between `$SYS` updates (0 turns them off).
    pub interval: Option<u64>,
}

/// One `[[listener]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    /// Transport: "tcp".
    #[serde(rename = "type")]
    pub kind: ListenerKind,
    /// Address and port to bind.
    pub bind: SocketAddr,
    /// Connections this listener serves at once.
    pub max_connections: Option<usize>,
    /// New connections accepted per second: tcp, tls, ws, wss close more at accept, quic refuses them
    /// before the handshake, mqttsn answers CONNACK "rejected: congestion".
    pub connection_rate: Option<u32>,
    /// Expect a PROXY protocol v1/v2 header first (tcp, tls, ws, wss behind a load balancer).
    pub proxy_protocol: Option<bool>,
    /// Seconds from accept to the end of the PROXY/TLS/WebSocket handshakes.
    pub handshake_timeout: Option<u64>,
    /// tls, wss: PEM certificate chain; unset with `key` unset uses the generated development certificate.
    pub cert: Option<PathBuf>,
    /// tls, wss: PEM private key of `cert`.
    pub key: Option<PathBuf>,
    /// tls, wss: PEM bundle of the CAs client certificates must chain to; enables client certificates.
    pub client_ca: Option<PathBuf>,
    /// tls, wss: with `client_ca`, refuse clients without a valid certificate (default true).
    pub require_client_cert: Option<bool>,
    /// ws, wss: the HTTP path upgraded (default "/mqtt").
    pub path: Option<String>,
    /// ws, wss: subprotocols accepted (default ["mqtt", "mqttv3.1"]).
    pub subprotocols: Option<Vec<String>>,
    /// ws, wss: refuse upgrades that offer no subprotocol (default false).
    pub require_subprotocol: Option<bool>,
    /// ws, wss: browser origins allowed (default: any).
    pub allowed_origins: Option<Vec<String>>,
    /// ws, wss: take the client address from X-Forwarded-For (default false).
    pub trust_proxy_headers: Option<bool>,
    /// quic: seconds of silence before a QUIC connection is dropped (default 300, or 1.5x
    /// `limits.max_keepalive` + 10 when that is set; 0 leaves it to MQTT keep alive).
    pub idle_timeout: Option<u64>,
    /// quic: seconds between QUIC PINGs on a quiet connection, keeping NAT bindings open (default 25; 0 off).
    pub keep_alive_interval: Option<u64>,
    /// quic: bidirectional streams a client may open at once; only the first carries MQTT (default 4).
    pub max_streams: Option<u32>,
    /// quic: accept 0-RTT data from resuming clients, read only after the handshake (default true).
    pub zero_rtt: Option<bool>,
    /// mqttsn: the gateway's settings (`[listener.mqttsn]`).
    pub mqttsn: Option<MqttSnListenerConfig>,
    /// Which anonymous clients to admit: `true` (from anywhere), `false` (nobody) or `"loopback"` (the
    /// default: from loopback addresses only).
    pub allow_anonymous: Option<AllowAnonymous>,
}

/// `listener.allow_anonymous`: a boolean, or `"loopback"` for the default made explicit.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(untagged)]
pub enum AllowAnonymous {
    /// `true`: from anywhere; `false`: from nowhere.
    Bool(bool),
    /// `"loopback"`.
    Word(AnonymousWord),
}

/// The word form of `allow_anonymous`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum AnonymousWord {
    /// From loopback addresses only.
    Loopback,
}

impl AllowAnonymous {
    /// The policy's setting; unset is loopback only.
    pub fn resolve(setting: Option<AllowAnonymous>) -> tern_auth::Anonymous {
        match setting {
            Some(AllowAnonymous::Bool(true)) => tern_auth::Anonymous::Allow,
            Some(AllowAnonymous::Bool(false)) => tern_auth::Anonymous::Deny,
            Some(AllowAnonymous::Word(AnonymousWord::Loopback)) | None => tern_auth::Anonymous::Loopback,
        }
    }
}

/// `listener.type`
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ListenerKind {
    /// MQTT over TCP.
    Tcp,
    /// MQTT over TLS.
    Tls,
    /// MQTT over WebSocket.
    Ws,
    /// MQTT over WebSocket over TLS.
    Wss,
    /// MQTT-SN 1.2 over UDP: the built-in gateway.
    Mqttsn,
    /// MQTT over QUIC (UDP), compatible with EMQX's QUIC listener (ALPN "mqtt", one stream).
    Quic,
}

impl ListenerConfig {
    /// The listener's name in logs and in per-listener policy (`tcp:0.0.0.0:1883`): its type and address.
    pub fn name(&self) -> String {
        format!("{:?}:{}", self.kind, self.bind).to_lowercase()
    }

    /// Refuses settings that do not apply to this listener's type, so a typo'd type is not silently ignored.
    fn validate(&self) -> Result<()> {
        let kind = self.kind;
        let tls = matches!(kind, ListenerKind::Tls | ListenerKind::Wss | ListenerKind::Quic);
        let quic = kind == ListenerKind::Quic;
        let ws = matches!(kind, ListenerKind::Ws | ListenerKind::Wss);
        let tls_keys = [
            ("cert", self.cert.is_some()),
            ("key", self.key.is_some()),
            ("client_ca", self.client_ca.is_some()),
            ("require_client_cert", self.require_client_cert.is_some()),
        ];
        let ws_keys = [
            ("path", self.path.is_some()),
            ("subprotocols", self.subprotocols.is_some()),
            ("require_subprotocol", self.require_subprotocol.is_some()),
            ("allowed_origins", self.allowed_origins.is_some()),
            ("trust_proxy_headers", self.trust_proxy_headers.is_some()),
        ];
        for (key, set) in tls_keys {
            if set && !tls {
                bail!(
                    "listener {}: `{key}` applies to tls, wss and quic listeners only",
                    self.bind
                );
            }
        }
        for (key, set) in ws_keys {
            if set && !ws {
                bail!(
                    "listener {}: `{key}` applies to ws and wss listeners only",
                    self.bind
                );
            }
        }
        let quic_keys = [
            ("idle_timeout", self.idle_timeout.is_some()),
            ("keep_alive_interval", self.keep_alive_interval.is_some()),
            ("max_streams", self.max_streams.is_some()),
            ("zero_rtt", self.zero_rtt.is_some()),
        ];
        for (key, set) in quic_keys {
            if set && !quic {
                bail!("listener {}: `{key}` applies to quic listeners only", self.bind);
            }
        }
        if quic && self.proxy_protocol.is_some() {
            bail!(
                "listener {}: `proxy_protocol` does not apply to quic (UDP) listeners",
                self.bind
            );
        }
        if self.max_streams == Some(0) {
            bail!(
                "listener {}: `max_streams` must be at least 1 (the MQTT stream)",
                self.bind
            );
        }
        if self.cert.is_some() != self.key.is_some() {
            bail!(
                "listener {}: set both `cert` and `key`, or neither to use the development certificate",
                self.bind
            );
        }
        if self.require_client_cert.is_some() && self.client_ca.is_none() {
            bail!("listener {}: `require_client_cert` needs `client_ca`", self.bind);
        }
        if let Some(p) = &self.path
            && !p.starts_with('/')
        {
            bail!("listener {}: `path` must start with '/'", self.bind);
        }
        if self.subprotocols.as_ref().is_some_and(Vec::is_empty) {
            bail!(
                "listener {}: `subprotocols` must name at least one (e.g. \"mqtt\")",
                self.bind
            );
        }
        if kind == ListenerKind::Mqttsn {
            if self.proxy_protocol.is_some() || self.handshake_timeout.is_some() {
                bail!(
                    "listener {}: `proxy_protocol` and `handshake_timeout` do not apply to mqttsn (UDP)",
                    self.bind
                );
            }
            if let Some(m) = &self.mqttsn {
                m.validate(self.bind)?;
            }
        } else if self.mqttsn.is_some() {
            bail!(
                "listener {}: `[listener.mqttsn]` applies to mqttsn listeners only",
                self.bind
            );
        }
        if self.handshake_timeout == Some(0) {
            bail!("listener {}: `handshake_timeout` must be above 0", self.bind);
        }
        Ok(())
    }
}

impl Config {
    /// Parses a configuration; errors name the line and column of the offending key.
    pub fn parse(text: &str, origin: &str) -> Result<Config> {
        let config: Config =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("{origin}: {}", describe(text, &e)))?;
        config
            .validate()
            .with_context(|| format!("{origin}: invalid configuration"))?;
        Ok(config)
    }

    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read configuration file {}", path.display()))?;
        Config::parse(&text, &path.display().to_string())
    }

    fn validate(&self) -> Result<()> {
        if self.listeners.is_empty() {
            bail!(
                "no [[listener]] is configured: add one, e.g. [[listener]] type = \"tcp\" bind = \"0.0.0.0:1883\""
            );
        }
        if let Some(q) = self.limits.maximum_qos
            && q > 2
        {
            bail!("limits.maximum_qos is {q}: it must be 0, 1 or 2");
        }
        crate::store::validate(&self.store)?;
        if let Some(http) = &self.auth.http {
            http.validate().map_err(|e| anyhow::anyhow!(e))?;
        }
        if self.limits.max_packet_size == Some(0) {
            bail!("limits.max_packet_size must be above 0");
        }
        for l in &self.listeners {
            l.validate()?;
        }
        if self.limits.max_inflight == Some(0) {
            bail!("limits.max_inflight must be above 0 (MQTT forbids a Receive Maximum of 0)");
        }
        Ok(())
    }
}

/// Formats a TOML error as `line L, column C: message`.
fn describe(text: &str, err: &toml::de::Error) -> String {
    let msg = err.message().trim().to_string();
    match err.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or("");
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {col}: {msg}")
        }
        None => msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_parses() {
        let c = Config::parse(EMBEDDED_DEFAULT, "embedded").unwrap();
        let ports: Vec<u16> = c.listeners.iter().map(|l| l.bind.port()).collect();
        assert_eq!(ports, [1883, 8883, 8083, 8084, 14567, 1884]);
    }

    #[test]
    fn example_file_parses() {
        let text = include_str!("../../../tern.example.toml");
        Config::parse(text, "tern.example.toml").unwrap();
    }

    #[test]
    fn unknown_key_points_at_its_line() {
        let text = "[log]\nlevel = \"info\"\n\n[limits]\nmax_pakcet_size = 10\n";
        let err = Config::parse(text, "t.toml").unwrap_err().to_string();
        assert!(err.contains("line 5"), "{err}");
        assert!(err.contains("max_pakcet_size"), "{err}");
    }

    #[test]
    fn bad_values_are_refused() {
        let base = "[[listener]]\ntype = \"tcp\"\nbind = \"127.0.0.1:0\"\n";
        assert!(Config::parse(&format!("{base}[limits]\nmaximum_qos = 3\n"), "t").is_err());
        assert!(Config::parse(&format!("{base}[limits]\nmax_inflight = 0\n"), "t").is_err());
        assert!(Config::parse("[log]\nlevel = \"info\"\n", "t").is_err());
    }

    #[test]
    fn allow_anonymous_is_a_boolean_or_loopback() {
        let tcp = "[[listener]]\ntype = \"tcp\"\nbind = \"127.0.0.1:0\"\n";
        let setting = |line: &str| {
            let c = Config::parse(&format!("{tcp}{line}"), "t")?;
            Ok::<_, anyhow::Error>(AllowAnonymous::resolve(c.listeners[0].allow_anonymous))
        };
        assert_eq!(setting("").unwrap(), tern_auth::Anonymous::Loopback);
        assert_eq!(
            setting("allow_anonymous = \"loopback\"\n").unwrap(),
            tern_auth::Anonymous::Loopback
        );
        assert_eq!(
            setting("allow_anonymous = true\n").unwrap(),
            tern_auth::Anonymous::Allow
        );
        assert_eq!(
            setting("allow_anonymous = false\n").unwrap(),
            tern_auth::Anonymous::Deny
        );
        assert!(setting("allow_anonymous = \"sometimes\"\n").is_err());
    }

    #[test]
    fn listener_keys_must_fit_the_type() {
        let tcp = "[[listener]]\ntype = \"tcp\"\nbind = \"127.0.0.1:0\"\n";
        let e = Config::parse(&format!("{tcp}cert = \"c.pem\"\n"), "t").unwrap_err();
        assert!(format!("{e:#}").contains("tls, wss and quic"), "{e:#}");
        let ws = "[[listener]]\ntype = \"ws\"\nbind = \"127.0.0.1:0\"\n";
        assert!(
            Config::parse(
                &format!("{ws}path = \"/mqtt\"\nallowed_origins = [\"https://a\"]\n"),
                "t"
            )
            .is_ok()
        );
        assert!(Config::parse(&format!("{ws}path = \"mqtt\"\n"), "t").is_err());
        let tls = "[[listener]]\ntype = \"tls\"\nbind = \"127.0.0.1:0\"\n";
        assert!(Config::parse(&format!("{tls}cert = \"c.pem\"\n"), "t").is_err());
        assert!(Config::parse(&format!("{tls}require_client_cert = true\n"), "t").is_err());
        assert!(
            Config::parse(
                &format!("{tls}proxy_protocol = true\nhandshake_timeout = 5\n"),
                "t"
            )
            .is_ok()
        );
    }
}
