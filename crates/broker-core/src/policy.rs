//! The policy hook: who may connect, publish and subscribe. The core decides *when* to ask; `tern-auth`
//! decides *how* (password files, JWT, ACLs). [`AllowAll`] is the default.

use crate::connection::ConnMeta;
use crate::session::Notifier;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
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
    /// Decides a CONNECT that carries no Authentication Method, possibly later: a policy that must ask
    /// something outside the process (an HTTP service) answers [`ConnectDecision::Pending`] and completes
    /// the [`PendingAuth`] from its own task; the connection reads nothing more until then. The default
    /// decides at once with [`AuthPolicy::authenticate`].
    fn decide_connect(&self, meta: &ConnMeta, connect: &Connect) -> ConnectDecision {
        ConnectDecision::Done(self.authenticate(meta, connect))
    }
    /// Starts an MQTT 5 enhanced authentication exchange (section 4.12) for `method`, at CONNECT or at
    /// re-authentication; `client_id` is the session's (empty at CONNECT when the broker assigns one).
    /// `None` means the method is not supported: CONNACK 0x8C Bad authentication method. The default
    /// supports none.
    fn start_exchange(
        &self,
        meta: &ConnMeta,
        method: &str,
        client_id: &str,
    ) -> Option<Box<dyn AuthExchange>> {
        let _ = (meta, method, client_id);
        None
    }
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

/// One enhanced authentication exchange in progress (MQTT 5 section 4.12), e.g. SCRAM: the policy's
/// mechanism, fed the Authentication Data of each client packet (CONNECT or AUTH) in turn. The core only
/// moves the bytes, so it stays free of any cryptography.
pub trait AuthExchange: Send {
    /// Takes the client's next Authentication Data (empty if the packet had none) and says what to do.
    fn step(&mut self, data: &[u8]) -> AuthStep;
}

/// What an [`AuthExchange`] wants after a client step.
#[derive(Debug)]
pub enum AuthStep {
    /// Send AUTH 0x18 Continue authentication with this data and wait for the client's answer.
    Continue(Vec<u8>),
    /// Authenticated: CONNACK 0x00 (or AUTH 0x00 at re-authentication) carrying `data`, if any.
    Success {
        /// Who the client proved to be.
        identity: Identity,
        /// Final Authentication Data for the client (SCRAM's server-final message).
        data: Option<Vec<u8>>,
    },
    /// Refused with this reason code (CONNACK at CONNECT, DISCONNECT at re-authentication).
    Failure(ReasonCode),
}

/// The answer to [`AuthPolicy::decide_connect`].
#[derive(Debug)]
pub enum ConnectDecision {
    /// Decided now.
    Done(Result<Identity, ReasonCode>),
    /// Decided later through this handle (an HTTP call in flight).
    Pending(PendingAuth),
}

/// A CONNECT decision that arrives later: the policy keeps a clone and calls [`PendingAuth::complete`] from
/// any thread; that wakes the connection, which then answers CONNECT. A decision that never comes is cut
/// short by the connect timeout.
#[derive(Clone, Default)]
pub struct PendingAuth(Arc<PendingInner>);

#[derive(Default)]
struct PendingInner {
    result: Mutex<Option<Result<Identity, ReasonCode>>>,
    /// The connection's notifier; locked only to swap it in or out, never while calling it.
    waker: Mutex<Option<Notifier>>,
}

impl std::fmt::Debug for PendingAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingAuth")
            .field("decided", &self.is_decided())
            .finish()
    }
}

impl PendingAuth {
    /// A decision not yet made.
    pub fn new() -> PendingAuth {
        PendingAuth::default()
    }

    /// Hands the decision over and wakes the waiting connection. Only the first call counts.
    pub fn complete(&self, result: Result<Identity, ReasonCode>) {
        if let Ok(mut slot) = self.0.result.lock()
            && slot.is_none()
        {
            *slot = Some(result);
        }
        let waker = self.0.waker.lock().ok().and_then(|mut w| w.take());
        if let Some(waker) = waker {
            waker();
        }
    }

    /// True once [`PendingAuth::complete`] was called.
    pub fn is_decided(&self) -> bool {
        self.0.result.lock().map(|r| r.is_some()).unwrap_or(true)
    }

    /// Registers who to wake on completion (called by the connection; wakes at once if already decided).
    pub(crate) fn set_waker(&self, waker: Notifier) {
        if let Ok(mut w) = self.0.waker.lock() {
            *w = Some(waker.clone());
        }
        if self.is_decided() {
            waker();
        }
    }

    /// Takes the decision, if made. A poisoned lock (a panicking policy thread) refuses the client.
    pub(crate) fn take(&self) -> Option<Result<Identity, ReasonCode>> {
        match self.0.result.lock() {
            Ok(mut r) => r.take(),
            Err(_) => Some(Err(ReasonCode::UnspecifiedError)),
        }
    }
}
