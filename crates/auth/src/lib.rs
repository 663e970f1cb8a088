//! Tern's security plane behind the core's [`AuthPolicy`](tern_broker_core::AuthPolicy) hook: who may
//! connect (password files, JWT, anonymous access per listener, MQTT-SN admission by client id and address)
//! who is banned (the ban list, by client id, user name and network)
//! and what they may publish and subscribe to (the TOML ACL).
//!
//! The core decides *when* to ask; this crate decides *how*. It owns no sockets and no MQTT state.

pub mod acl;
pub mod ban;
pub mod cidr;
pub mod http;
pub mod jwt;
pub mod password;
pub mod policy;
pub mod reload;
pub mod scram;
pub mod sn;

pub use http::{HttpConfig, HttpStats};
pub use policy::{Anonymous, AuthConfig, AuthStats, ListenerAuth, TernPolicy};
pub use reload::{Reload, Watched};
