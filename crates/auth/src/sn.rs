//! MQTT-SN admission. MQTT-SN 1.2 clients send no credentials, so a gateway admits them by client id and
//! source address; their topics then go through the same ACL as MQTT clients' (as anonymous clients
//! with that client id).

use crate::cidr::{Cidr, canonical};
use serde::Deserialize;
use std::net::SocketAddr;

/// `[auth.mqttsn]` settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnConfig {
    /// Source networks admitted (CIDR). Empty: loopback peers only.
    #[serde(default)]
    pub networks: Vec<Cidr>,
    /// Client ids admitted: exact, or a prefix ending in `*` (`"sensor-*"`). Empty: any client id.
    #[serde(default)]
    pub client_ids: Vec<String>,
}

/// Why an MQTT-SN client was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SnRefusal {
    /// The source address is outside every allowed network.
    #[error("source address not allowed")]
    Address,
    /// The client id is not on the allow-list.
    #[error("client id not allowed")]
    ClientId,
}

impl SnConfig {
    /// Whether a client may connect.
    pub fn admit(&self, client_id: &str, peer: SocketAddr) -> Result<(), SnRefusal> {
        let ip = canonical(peer.ip());
        let by_address = if self.networks.is_empty() {
            ip.is_loopback()
        } else {
            self.networks.iter().any(|n| n.contains(ip))
        };
        if !by_address {
            return Err(SnRefusal::Address);
        }
        let by_id = self.client_ids.is_empty()
            || self.client_ids.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => client_id.starts_with(prefix),
                None => p == client_id,
            });
        if by_id { Ok(()) } else { Err(SnRefusal::ClientId) }
    }

    /// One-line description for the start-up log.
    pub fn describe(&self) -> String {
        let from = if self.networks.is_empty() {
            "loopback".to_string()
        } else {
            self.networks
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        let ids = if self.client_ids.is_empty() {
            "any client id".to_string()
        } else {
            self.client_ids.join(",")
        };
        format!("MQTT-SN from {from} ({ids})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn default_admits_loopback_only() {
        let c = SnConfig::default();
        assert_eq!(c.admit("x", peer("127.0.0.1:5000")), Ok(()));
        assert_eq!(c.admit("x", peer("[::1]:5000")), Ok(()));
        assert_eq!(c.admit("x", peer("[::ffff:127.0.0.1]:5000")), Ok(()));
        assert_eq!(c.admit("x", peer("192.0.2.1:5000")), Err(SnRefusal::Address));
    }

    #[test]
    fn networks_and_client_ids() {
        let c: SnConfig =
            toml::from_str("networks = [\"10.0.0.0/8\"]\nclient_ids = [\"sensor-*\", \"gw\"]\n").unwrap();
        assert_eq!(c.admit("sensor-7", peer("10.2.3.4:1")), Ok(()));
        assert_eq!(c.admit("gw", peer("10.2.3.4:1")), Ok(()));
        assert_eq!(c.admit("gw2", peer("10.2.3.4:1")), Err(SnRefusal::ClientId));
        assert_eq!(
            c.admit("gw", peer("127.0.0.1:1")),
            Err(SnRefusal::Address),
            "explicit networks replace loopback"
        );
        assert!(toml::from_str::<SnConfig>("networks = [\"10.0.0.0/40\"]").is_err());
        assert!(c.describe().contains("10.0.0.0/8"));
    }
}
