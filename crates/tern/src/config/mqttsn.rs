//! `[listener.mqttsn]`: the MQTT-SN gateway settings of a `type = "mqttsn"` listener, and their mapping onto
//! the gateway's and the UDP frontend's own defaults (which stay the single source of truth).

use anyhow::{Result, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use tern_transport_mqttsn::{FloodLimits, SnConfig, SnListenerConfig};

/// Spec-suggested ADVERTISE period when discovery is on and no interval is given (15 minutes).
const DEFAULT_ADVERTISE_SECS: u64 = 900;

/// `[listener.mqttsn]`; every key optional (see tern.example.toml).
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct MqttSnListenerConfig {
    /// GwId in ADVERTISE and GWINFO.
    pub gateway_id: Option<u8>,
    /// Seconds between ADVERTISE broadcasts; 0 turns them off. Default: 900, or off on a loopback bind.
    pub advertise_interval: Option<u64>,
    /// Where ADVERTISE goes; default 255.255.255.255 on the listener's port.
    pub advertise_address: Option<SocketAddr>,
    /// Predefined topic ids shared by every sensor: `"1" = "sensors/temperature"`.
    #[serde(default)]
    pub predefined_topics: BTreeMap<String, String>,
    /// Prepended to sensor client ids to form broker client ids.
    pub client_id_prefix: Option<String>,
    /// Prepended to sensor topics and filters; stripped from what sensors receive.
    pub mountpoint: Option<String>,
    /// Sensors tracked at once.
    pub max_clients: Option<usize>,
    /// Sensors tracked behind one forwarder (distinct wireless node ids).
    pub max_nodes_per_forwarder: Option<usize>,
    /// Messages buffered per sleeping sensor.
    pub sleep_buffer: Option<usize>,
    /// Tretry in seconds (fractions allowed).
    pub retry_interval: Option<f64>,
    /// Nretry.
    pub max_retries: Option<u32>,
    /// Topic ids per sensor.
    pub max_topics_per_client: Option<usize>,
    /// Seconds a sensor has to finish CONNECT (will handshake included).
    pub connect_timeout: Option<u64>,
    /// Datagrams per second accepted from one sensor.
    pub rate_per_client: Option<u32>,
    /// Datagrams per second accepted from all unknown addresses together.
    pub rate_unknown: Option<u32>,
}

impl MqttSnListenerConfig {
    /// Refuses values the gateway cannot use.
    pub fn validate(&self, bind: SocketAddr) -> Result<()> {
        for (id, topic) in &self.predefined_topics {
            match id.parse::<u16>() {
                Ok(n) if n != 0 && n != 0xFFFF => {}
                _ => bail!("listener {bind}: predefined topic id {id:?} must be a number from 1 to 65534"),
            }
            if topic.is_empty() || topic.contains(['+', '#']) {
                bail!(
                    "listener {bind}: predefined topic {id} = {topic:?} must be a topic name without wildcards"
                );
            }
        }
        if self.retry_interval.is_some_and(|s| !(s > 0.0 && s.is_finite())) {
            bail!("listener {bind}: mqttsn.retry_interval must be above 0");
        }
        for (key, v) in [
            ("max_clients", self.max_clients),
            ("max_nodes_per_forwarder", self.max_nodes_per_forwarder),
            ("sleep_buffer", self.sleep_buffer),
        ] {
            if v == Some(0) {
                bail!("listener {bind}: mqttsn.{key} must be above 0");
            }
        }
        Ok(())
    }

    /// The UDP listener's settings for `bind`.
    pub fn to_listener(&self, bind: SocketAddr) -> SnListenerConfig {
        let mut g = SnConfig::default();
        if let Some(v) = self.gateway_id {
            g.gateway_id = v;
        }
        let interval = match self.advertise_interval {
            Some(0) => None,
            Some(s) => Some(s),
            None if bind.ip().is_loopback() => None,
            None => Some(DEFAULT_ADVERTISE_SECS),
        };
        if let Some(s) = interval {
            g.advertise_interval = Some(Duration::from_secs(s));
            g.advertise_address = Some(
                self.advertise_address
                    .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::BROADCAST, bind.port()))),
            );
        }
        g.predefined_topics = self
            .predefined_topics
            .iter()
            .filter_map(|(id, t)| Some((id.parse().ok()?, t.clone())))
            .collect();
        if let Some(v) = &self.client_id_prefix {
            g.client_id_prefix = v.clone();
        }
        if let Some(v) = &self.mountpoint {
            g.mountpoint = v.clone();
        }
        if let Some(v) = self.max_clients {
            g.max_clients = v;
        }
        if let Some(v) = self.max_nodes_per_forwarder {
            g.max_nodes_per_forwarder = v;
        }
        if let Some(v) = self.sleep_buffer {
            g.sleep_buffer = v;
        }
        if let Some(v) = self.retry_interval {
            g.retry_interval = Duration::from_secs_f64(v);
        }
        if let Some(v) = self.max_retries {
            g.max_retries = v;
        }
        if let Some(v) = self.max_topics_per_client {
            g.max_topics_per_client = v;
        }
        if let Some(v) = self.connect_timeout {
            g.connect_timeout = Duration::from_secs(v);
        }
        let mut limits = FloodLimits::default();
        if let Some(v) = self.rate_per_client {
            limits.per_client = v;
        }
        if let Some(v) = self.rate_unknown {
            limits.unknown_total = v;
        }
        SnListenerConfig {
            bind,
            gateway: g,
            limits,
            ..SnListenerConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advertise_is_off_on_loopback_unless_asked() {
        let c = MqttSnListenerConfig::default();
        let lo = c.to_listener("127.0.0.1:1884".parse().unwrap());
        assert_eq!(lo.gateway.advertise_interval, None);
        let any = c.to_listener("0.0.0.0:1884".parse().unwrap());
        assert_eq!(any.gateway.advertise_interval, Some(Duration::from_secs(900)));
        assert_eq!(
            any.gateway.advertise_address,
            Some("255.255.255.255:1884".parse().unwrap())
        );
        let asked = MqttSnListenerConfig {
            advertise_interval: Some(5),
            ..MqttSnListenerConfig::default()
        };
        let lo = asked.to_listener("127.0.0.1:1884".parse().unwrap());
        assert_eq!(lo.gateway.advertise_interval, Some(Duration::from_secs(5)));
    }

    #[test]
    fn bad_predefined_ids_are_refused() {
        let bind = "127.0.0.1:1884".parse().unwrap();
        for id in ["0", "65535", "x", "70000"] {
            let c = MqttSnListenerConfig {
                predefined_topics: BTreeMap::from([(id.to_owned(), "a".to_owned())]),
                ..MqttSnListenerConfig::default()
            };
            assert!(c.validate(bind).is_err(), "{id}");
        }
    }

    #[test]
    fn listener_section_parses_and_is_fenced_to_mqttsn() {
        use crate::config::{Config, ListenerKind};
        let text = "[[listener]]\ntype = \"mqttsn\"\nbind = \"127.0.0.1:0\"\n[listener.mqttsn]\nmountpoint = \"sn/\"\n\
                    retry_interval = 0.5\nmax_nodes_per_forwarder = 8\n[listener.mqttsn.predefined_topics]\n\"7\" = \"a/b\"\n";
        let c = Config::parse(text, "t").unwrap();
        assert_eq!(c.listeners[0].kind, ListenerKind::Mqttsn);
        let l = c.listeners[0]
            .mqttsn
            .clone()
            .unwrap()
            .to_listener(c.listeners[0].bind);
        assert_eq!(l.gateway.mountpoint, "sn/");
        assert_eq!(l.gateway.retry_interval, Duration::from_millis(500));
        assert_eq!(l.gateway.max_nodes_per_forwarder, 8);
        assert_eq!(
            l.gateway.predefined_topics.get(&7).map(String::as_str),
            Some("a/b")
        );
        let tcp =
            "[[listener]]\ntype = \"tcp\"\nbind = \"127.0.0.1:0\"\n[listener.mqttsn]\nmountpoint = \"x\"\n";
        assert!(Config::parse(tcp, "t").is_err());
        let typo = "[[listener]]\ntype = \"mqttsn\"\nbind = \"127.0.0.1:0\"\n[listener.mqttsn]\nmount_point = \"x\"\n";
        assert!(Config::parse(typo, "t").is_err());
    }
}
