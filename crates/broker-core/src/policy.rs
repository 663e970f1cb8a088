//! The policy hook: who may connect, publish and subscribe. The core decides *when* to ask; `tern-auth`
//! decides *how* (password files, JWT, ACLs). [`AllowAll`] is the default.

use crate::connection::ConnMeta;
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
}

/// The default policy: everyone may do everything; the identity carries the user name and TLS identity.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl AuthPolicy for AllowAll {
    fn authenticate(&self, meta: &ConnMeta, connect: &Connect) -> Result<Identity, ReasonCode> {
        Ok(Identity {
            username: connect.username.as_deref().map(Arc::from),
            tls_identity: meta.tls_identity.as_deref().map(Arc::from),
            roles: Vec::new(),
        })
    }

    fn authorize_publish(&self, _identity: &Identity, _topic: &str) -> bool {
        true
    }

    fn authorize_subscribe(&self, _identity: &Identity, _filter: &str) -> bool {
        true
    }
}
