//! The ban list (`[auth] ban_file`): client ids, user names and networks refused at CONNECT with 0x8A Banned
//! (3.x: 5 not authorized), and MQTT-SN clients by client id and address. The file is TOML, re-read when it
//! changes, so editing it changes the list at runtime:
//!
//! ```toml
//! client_ids = ["bad-device-17"]
//! usernames = ["mallory"]
//! networks = ["203.0.113.0/24", "2001:db8:bad::/48"]
//! ```

use crate::cidr::Cidr;
use serde::Deserialize;
use std::collections::HashSet;
use std::net::IpAddr;

/// A parsed ban list.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BanList {
    /// Banned client identifiers (exact).
    #[serde(default)]
    pub client_ids: HashSet<String>,
    /// Banned user names (exact; also the identity from a JWT or a TLS certificate).
    #[serde(default)]
    pub usernames: HashSet<String>,
    /// Banned networks.
    #[serde(default)]
    pub networks: Vec<Cidr>,
}

impl BanList {
    /// Parses the TOML text.
    pub fn parse(text: &str) -> Result<BanList, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Why this client is banned, if it is.
    pub fn check(&self, client_id: Option<&str>, username: Option<&str>, ip: IpAddr) -> Option<String> {
        if let Some(id) = client_id.filter(|id| self.client_ids.contains(*id)) {
            return Some(format!("client id {id:?} is banned"));
        }
        if let Some(u) = username.filter(|u| self.usernames.contains(*u)) {
            return Some(format!("user {u:?} is banned"));
        }
        self.networks
            .iter()
            .find(|n| n.contains(ip))
            .map(|n| format!("network {n} is banned"))
    }

    /// Entries in the list.
    pub fn len(&self) -> usize {
        self.client_ids.len() + self.usernames.len() + self.networks.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_ids_users_and_networks() {
        let b = BanList::parse(
            r#"
            client_ids = ["evil"]
            usernames = ["mallory"]
            networks = ["203.0.113.0/24", "2001:db8::/32"]
            "#,
        )
        .unwrap();
        let ok: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(b.len(), 4);
        assert!(b.check(Some("evil"), None, ok).is_some());
        assert!(b.check(Some("good"), Some("mallory"), ok).is_some());
        assert!(
            b.check(Some("good"), Some("alice"), "203.0.113.9".parse().unwrap())
                .is_some()
        );
        assert!(
            b.check(None, None, "::ffff:203.0.113.9".parse().unwrap())
                .is_some()
        );
        assert!(b.check(None, None, "2001:db8::5".parse().unwrap()).is_some());
        assert!(b.check(Some("good"), Some("alice"), ok).is_none());
        assert!(BanList::parse("").unwrap().is_empty());
    }

    #[test]
    fn bad_files_are_refused() {
        assert!(BanList::parse(r#"networks = ["10.0.0.0/33"]"#).is_err());
        assert!(
            BanList::parse(r#"clients = ["x"]"#).is_err(),
            "unknown keys are errors"
        );
    }
}
