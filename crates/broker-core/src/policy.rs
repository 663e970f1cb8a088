//! The policy hook: who may connect, publish and subscribe. The core decides *when* to ask; `tern-auth`
//! decides *how* (password files, JWT, ACLs). [`AllowAll`] is the default.

use crate::connection::ConnMeta;
use std::net::SocketAddr;
use std::sync::Arc;
use tern_mqtt_codec::{Connect, ReasonCode};

/// Who a connection authenticated as; handed back to every later authorization question.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// User name from CONNECT, if any.
    pub username: Option<Arc<str>>,
    /// Identity from the TLS client certificate, if any.
    pub tls_identity: Option<Arc<str>>,
    /// Roles or groups the policy attached (free-form for the policy's own use).
    pub roles: Vec<Arc<str>>,
    /// The session's client id, set by the core after `authenticate` (including a generated one), so ACLs
    /// can name clients (`%c`).
    pub client_id: Option<Arc<str>>,
    /// Named values the policy attached for its own later checks (e.g. JWT claims for ACL patterns).
    pub attributes: Vec<(Arc<str>, Arc<str>)>,
}

/// Decides whether clients may connect, publish and subscribe. Called without any core lock held.
pub trait AuthPolicy: Send + Sync {
    /// Checks a CONNECT; the error code goes into the refusing CONNACK (e.g. `BadUserNameOrPassword`).
    fn authenticate(&self, meta: &ConnMeta, connect: &Connect) -> Result<Identity, ReasonCode>;
    /// May this identity publish to `topic`? A refusal answers PUBACK/PUBREC 0x87 on 5.0 and drops the
    /// message silently on 3.x.
    fn authorize_publish(&self, identity: &Identity, topic: &str) -> bool;
    /// May this identity subscribe to `filter`? A refusal answers SUBACK 0x87 (5.0) / 0x80 (3.x).
    fn authorize_subscribe(&self, identity: &Identity, filter: &str) -> bool;
    /// Admits an MQTT-SN client, which has no credentials in 1.2: the policy decides by client id and source
    /// address. The gateway is to call this at CONNECT and answer an error with CONNACK 0x03 (rejected: not
    /// supported); the identity then goes to `authorize_publish`/`authorize_subscribe` like an MQTT client's.
    /// The default admits everyone.
    fn authenticate_sn(&self, client_id: &str, peer: SocketAddr) -> Result<Identity, ReasonCode> {
        let _ = peer;
        Ok(Identity {
            client_id: Some(Arc::from(client_id)),
            ..Identity::default()
        })
    }
}

/// The default policy: everyone may do everything; the identity carries the user name and TLS identity.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl AuthPolicy for AllowAll {
    fn authenticate(&self, meta: &ConnMeta, connect: &Connect) -> Result<Identity, ReasonCode> {
        Ok(Identity {
            username: connect.username.as_deref().map(Arc::from),
            tls_identity: meta.tls_identity.as_deref().map(Arc::from),
            ..Identity::default()
        })
    }

    fn authorize_publish(&self, _identity: &Identity, _topic: &str) -> bool {
        true
    }

    fn authorize_subscribe(&self, _identity: &Identity, _filter: &str) -> bool {
        true
    }
}
