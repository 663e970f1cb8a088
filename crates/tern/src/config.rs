//! The TOML configuration: parsed strictly (unknown keys are errors that point at their line), with every
//! setting optional so the core's own defaults stay the single source of truth.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::Path;

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
    /// Listeners; at least one.
    #[serde(default, rename = "listener")]
    pub listeners: Vec<ListenerConfig>,
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
}

/// `listener.type`
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ListenerKind {
    /// MQTT over TCP.
    Tcp,
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
        if self.limits.max_packet_size == Some(0) {
            bail!("limits.max_packet_size must be above 0");
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
        assert_eq!(c.listeners.len(), 1);
        assert_eq!(c.listeners[0].bind.port(), 1883);
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
}
