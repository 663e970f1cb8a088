//! [`TernPolicy`]: the core's [`AuthPolicy`] built from `[auth]` and the listeners' `allow_anonymous`.
//!
//! CONNECT is decided in this order:
//! 1. a password that looks like a JWT, when `[auth.jwt]` is set: the token must verify; the user name is its
//!    user-name claim (a CONNECT user name, if sent, must equal it);
//! 2. a user name and password, when `password_file` is set: the password must match;
//! 3. a verified TLS client certificate: its identity is the user name;
//! 4. otherwise the client is anonymous. Credentials that no configured mechanism can check are refused
//!    (0x86), never downgraded to anonymous; with no mechanism configured they are ignored.
//!
//! Anonymous clients are admitted per listener ([`Anonymous`]): by default from loopback addresses
//! (`127.0.0.0/8`, `::1`) only, so a broker started without configuration can be tried locally;
//! `allow_anonymous = true` admits them from anywhere, `false` from nowhere (a listener behind a reverse proxy
//! on the same host, where every client looks local). Refusals answer 0x87 (3.1.1: 0x05).
//!
//! `allow_anonymous` is looked up by the listener's name the connection carries (`ConnMeta::listener`), so
//! two listeners of one transport may differ. A connection without a name (a frontend started outside the
//! configuration) gets the strictest setting of its transport's listeners.
//!
//! With `[auth.http]`, an external service decides every MQTT CONNECT instead (after the ban list), without
//! blocking the connection's task (see `crate::http`); SCRAM still uses the password file.
//!
//! MQTT 5 enhanced authentication offers SCRAM-SHA-256 (`scram`) to users of the password file whose entry is
//! a SCRAM credential; the identity is then checked against the ban list like a password login's.
//!
//! Password checks are slow by design (argon2id ~20-40 ms). They run on the connection's tokio task inside
//! `block_in_place`, so the runtime moves that worker's other tasks elsewhere while the hash is computed.

use crate::acl::{Acl, Op, Subject};
use crate::ban::BanList;
use crate::http::{Action, HttpConfig, HttpError, HttpHook, HttpStats};
use crate::jwt::{JwtConfig, JwtVerifier};
use crate::password::PasswordFile;
use crate::reload::{Reload, Watched, spawn_poller};
use crate::sn::SnConfig;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tern_broker_core::{
    AuthExchange, AuthPolicy, ConnMeta, ConnectDecision, Identity, PendingAuth, TransportKind,
};
use tern_mqtt_codec::{Connect, ProtocolVersion, ReasonCode};

/// `[auth]` settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// A Mosquitto-style password file (`user:hash` lines; argon2id, `$7$`, `$6$`), reloaded on change.
    pub password_file: Option<PathBuf>,
    /// The ACL file (TOML), reloaded on change; without one every admitted client may publish and subscribe
    /// anywhere.
    pub acl_file: Option<PathBuf>,
    /// The ban list (TOML: `client_ids`, `usernames`, `networks`), reloaded on change: listed clients are
    /// refused at CONNECT with 0x8A Banned (3.x: 5 not authorized); MQTT-SN clients too.
    pub ban_file: Option<PathBuf>,
    /// Seconds between checks of the files' modification time (default 2).
    pub reload_interval: Option<u64>,
    /// JWT in the password field.
    pub jwt: Option<JwtConfig>,
    /// MQTT-SN admission.
    #[serde(default)]
    pub mqttsn: SnConfig,
    /// The HTTP hook: an external service decides CONNECTs (and, with `authorize`, publishes and
    /// subscriptions).
    pub http: Option<HttpConfig>,
}

/// What the policy needs to know about one listener.
#[derive(Debug, Clone)]
pub struct ListenerAuth {
    /// Name for logs (e.g. `tcp:0.0.0.0:1883`).
    pub name: String,
    /// Its transport.
    pub transport: TransportKind,
    /// Which anonymous clients it admits.
    pub allow_anonymous: Anonymous,
}

/// Which anonymous clients (no user name, password or client certificate) a listener admits. Ordered from
/// the most restrictive, so listeners of one transport combine to the strictest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Anonymous {
    /// Nobody, loopback included: behind a reverse proxy on the same host every client looks local.
    Deny,
    /// From loopback addresses (127.0.0.0/8, ::1) only: the default, so a broker started without
    /// configuration can be tried locally and is closed to everyone else.
    #[default]
    Loopback,
    /// From any address.
    Allow,
}

impl Anonymous {
    /// Whether an anonymous client from an address that is (or is not) loopback is admitted.
    pub fn admits(self, loopback: bool) -> bool {
        match self {
            Anonymous::Deny => false,
            Anonymous::Loopback => loopback,
            Anonymous::Allow => true,
        }
    }

    /// For the start-up `security:` line.
    fn describe(self) -> &'static str {
        match self {
            Anonymous::Deny => "nobody",
            Anonymous::Loopback => "loopback only",
            Anonymous::Allow => "anyone",
        }
    }
}

/// Counters of the policy's decisions.
#[derive(Debug, Default)]
struct Counters {
    authenticated: AtomicU64,
    anonymous: AtomicU64,
    bad_credentials: AtomicU64,
    anonymous_refused: AtomicU64,
    publish_denied: AtomicU64,
    subscribe_denied: AtomicU64,
    sn_refused: AtomicU64,
    banned: AtomicU64,
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthStats {
    /// Connections admitted with verified credentials (password, JWT or certificate).
    pub authenticated: u64,
    /// Connections admitted anonymously.
    pub anonymous: u64,
    /// Connections refused for wrong or unverifiable credentials (0x86).
    pub bad_credentials: u64,
    /// Anonymous connections refused (0x87).
    pub anonymous_refused: u64,
    /// Publishes (including wills) the ACL refused.
    pub publish_denied: u64,
    /// Subscriptions the ACL refused.
    pub subscribe_denied: u64,
    /// MQTT-SN clients refused.
    pub sn_refused: u64,
    /// Connections (MQTT and MQTT-SN) refused by the ban list.
    pub banned: u64,
}

/// The policy: credentials, anonymous access, ACL.
pub struct TernPolicy {
    /// Anonymous access from non-loopback addresses, by listener name.
    anonymous_by_listener: HashMap<String, Anonymous>,
    /// Anonymous access for connections without a listener name, by transport (false when they differ).
    anonymous: HashMap<TransportKind, Anonymous>,
    listeners: Vec<ListenerAuth>,
    passwords: Option<Arc<Watched<PasswordFile>>>,
    jwt: Option<JwtVerifier>,
    acl: Option<Arc<Watched<Acl>>>,
    bans: Option<Arc<Watched<BanList>>>,
    sn: SnConfig,
    http: Option<Arc<HttpHook>>,
    reload_interval: Duration,
    counters: Arc<Counters>,
    /// Per-process secret from which SCRAM derives decoy salts for unknown users.
    decoy_key: Arc<[u8; 32]>,
}

impl std::fmt::Debug for TernPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TernPolicy")
            .field("summary", &self.describe())
            .finish_non_exhaustive()
    }
}

fn load_passwords(p: &Path) -> Result<PasswordFile, String> {
    PasswordFile::load(p).map_err(|e| e.to_string())
}

fn load_bans(p: &Path) -> Result<BanList, String> {
    BanList::parse(&std::fs::read_to_string(p).map_err(|e| e.to_string())?)
}

fn load_acl(p: &Path) -> Result<Acl, String> {
    Acl::parse(&std::fs::read_to_string(p).map_err(|e| e.to_string())?)
}

impl TernPolicy {
    /// Loads every configured file; any error is a start-up error naming the file.
    pub fn new(config: &AuthConfig, listeners: Vec<ListenerAuth>) -> Result<TernPolicy, String> {
        let mut anonymous: HashMap<TransportKind, Anonymous> = HashMap::new();
        let mut anonymous_by_listener = HashMap::new();
        for l in &listeners {
            let entry = anonymous.entry(l.transport).or_insert(l.allow_anonymous);
            *entry = (*entry).min(l.allow_anonymous);
            if anonymous_by_listener
                .insert(l.name.clone(), l.allow_anonymous)
                .is_some()
            {
                return Err(format!("two listeners are named {}", l.name));
            }
        }
        let passwords = match &config.password_file {
            Some(p) => Some(Arc::new(Watched::open(p, "password file", load_passwords)?)),
            None => None,
        };
        let acl = match &config.acl_file {
            Some(p) => Some(Arc::new(Watched::open(p, "ACL file", load_acl)?)),
            None => None,
        };
        let bans = match &config.ban_file {
            Some(p) => Some(Arc::new(Watched::open(p, "ban file", load_bans)?)),
            None => None,
        };
        let jwt = config.jwt.as_ref().map(JwtVerifier::new).transpose()?;
        let http = config.http.as_ref().map(HttpHook::new).transpose()?.map(Arc::new);
        Ok(TernPolicy {
            anonymous,
            anonymous_by_listener,
            listeners,
            passwords,
            jwt,
            acl,
            bans,
            sn: config.mqttsn.clone(),
            http,
            reload_interval: Duration::from_secs(config.reload_interval.unwrap_or(2).max(1)),
            counters: Arc::default(),
            decoy_key: Arc::new(random_key()?),
        })
    }

    /// Starts the thread that reloads changed files; it ends when the policy is dropped.
    pub fn start_reloading(self: &Arc<Self>) -> std::io::Result<()> {
        let mut files: Vec<std::sync::Weak<dyn Reload>> = Vec::new();
        if let Some(p) = &self.passwords {
            let p: Arc<dyn Reload> = p.clone();
            files.push(Arc::downgrade(&p));
        }
        if let Some(a) = &self.acl {
            let a: Arc<dyn Reload> = a.clone();
            files.push(Arc::downgrade(&a));
        }
        if let Some(b) = &self.bans {
            let b: Arc<dyn Reload> = b.clone();
            files.push(Arc::downgrade(&b));
        }
        if let Some(j) = &self.jwt {
            files.push(Arc::downgrade(&j.reloadable()));
        }
        spawn_poller(files, self.reload_interval)
    }

    /// Re-reads every changed file now (what the poller does each interval).
    pub fn reload_now(&self) {
        if let Some(p) = &self.passwords {
            p.reload();
        }
        if let Some(a) = &self.acl {
            a.reload();
        }
        if let Some(b) = &self.bans {
            b.reload();
        }
        if let Some(j) = &self.jwt {
            j.reloadable().reload();
        }
    }

    /// One line saying what is open to whom, for the start-up log.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = match &self.http {
            // The service decides every MQTT CONNECT, anonymous ones included.
            Some(h) => vec![format!(
                "HTTP service {} decides every MQTT CONNECT{}",
                h.url(),
                if h.authorizes() {
                    ", publish and subscribe"
                } else {
                    ""
                }
            )],
            None => self
                .listeners
                .iter()
                .map(|l| format!("{}: anonymous from {}", l.name, l.allow_anonymous.describe()))
                .collect(),
        };
        let mut creds = Vec::new();
        if let Some(p) = &self.passwords {
            let scram = if self.http.is_some() {
                " (SCRAM-SHA-256 only)"
            } else {
                ""
            };
            creds.push(format!(
                "password file {} ({} users){scram}",
                p.path().display(),
                p.get().len()
            ));
        }
        if self.http.is_none() {
            if let Some(j) = &self.jwt {
                creds.push(format!("JWT {:?}", j.algorithm()));
            }
            creds.push("TLS client certificates".into());
        }
        if !creds.is_empty() {
            parts.push(format!("credentials: {}", creds.join(", ")));
        }
        let http_authorizes = self.http.as_ref().is_some_and(|h| h.authorizes());
        parts.push(match &self.acl {
            Some(a) => {
                let acl = a.get();
                format!(
                    "ACL {} ({} rules, default {:?})",
                    a.path().display(),
                    acl.len(),
                    acl.default_permission()
                )
            }
            None if http_authorizes => "no ACL file".into(),
            None => "no ACL: admitted clients may publish and subscribe anywhere".into(),
        });
        if let Some(b) = &self.bans {
            parts.push(format!(
                "ban list {} ({} entries)",
                b.path().display(),
                b.get().len()
            ));
        }
        parts.push(self.sn.describe());
        parts.join("; ")
    }

    /// The decision counters.
    pub fn stats(&self) -> AuthStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        AuthStats {
            authenticated: get(&c.authenticated),
            anonymous: get(&c.anonymous),
            bad_credentials: get(&c.bad_credentials),
            anonymous_refused: get(&c.anonymous_refused),
            publish_denied: get(&c.publish_denied),
            subscribe_denied: get(&c.subscribe_denied),
            sn_refused: get(&c.sn_refused),
            banned: get(&c.banned),
        }
    }

    fn bad_credentials(&self, meta: &ConnMeta, user: Option<&str>, why: &str) -> ReasonCode {
        self.counters.bad_credentials.fetch_add(1, Ordering::Relaxed);
        tracing::info!(peer = %meta.peer, user = user.unwrap_or(""), "authentication failed: {why}");
        ReasonCode::BadUserNameOrPassword
    }

    /// Refuses a banned client (0x8A), logging why.
    fn check_bans(
        &self,
        client_id: Option<&str>,
        username: Option<&str>,
        peer: SocketAddr,
    ) -> Result<(), ReasonCode> {
        check_bans(self.bans.as_deref(), &self.counters, client_id, username, peer)
    }

    fn authenticated(&self, identity: Identity) -> Result<Identity, ReasonCode> {
        self.counters.authenticated.fetch_add(1, Ordering::Relaxed);
        Ok(identity)
    }

    fn allow(&self, identity: &Identity, op: Op, topic: &str) -> bool {
        if !self.allow_acl(identity, op, topic) {
            return false;
        }
        match &self.http {
            Some(h) if h.authorizes() => {
                let action = match op {
                    Op::Publish => Action::Publish,
                    Op::Subscribe => Action::Subscribe,
                };
                let client_id = identity.client_id.as_deref().unwrap_or("");
                let allowed = h.authorize(client_id, identity.username.as_deref(), action, topic);
                if !allowed {
                    let counter = match op {
                        Op::Publish => &self.counters.publish_denied,
                        Op::Subscribe => &self.counters.subscribe_denied,
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                allowed
            }
            _ => true,
        }
    }

    /// The HTTP hook's counters, if it is configured.
    pub fn http_stats(&self) -> Option<HttpStats> {
        self.http.as_ref().map(|h| h.stats())
    }

    /// The JSON body of a CONNECT question to the HTTP service.
    fn connect_request(&self, meta: &ConnMeta, connect: &Connect) -> serde_json::Value {
        // The connection's own listener; a frontend started outside the configuration has no name, and then
        // the first listener of its transport is named.
        let listener = meta.listener.as_deref().or_else(|| {
            self.listeners
                .iter()
                .find(|l| l.transport == meta.transport)
                .map(|l| l.name.as_str())
        });
        let password = connect.password.as_deref();
        let protocol = match connect.protocol {
            ProtocolVersion::V3_1 => "mqtt3.1",
            ProtocolVersion::V3_1_1 => "mqtt3.1.1",
            ProtocolVersion::V5 => "mqtt5",
        };
        serde_json::json!({
            "action": "connect",
            "client_id": connect.client_id.as_str(),
            "username": connect.username.as_deref(),
            "password": password.and_then(|p| std::str::from_utf8(p).ok()),
            "password_base64": password
                .filter(|p| std::str::from_utf8(p).is_err())
                .map(|p| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, p)),
            "peer": meta.peer.to_string(),
            "transport": transport_name(meta.transport),
            "listener": listener,
            "protocol": protocol,
            "tls_identity": meta.tls_identity.as_deref(),
        })
    }

    /// The identity an HTTP allow establishes, or the refusal's code.
    fn http_decision(
        counters: &Counters,
        peer: SocketAddr,
        connect_user: Option<&str>,
        has_credentials: bool,
        tls_identity: Option<Arc<str>>,
        answer: Result<bool, HttpError>,
    ) -> Result<Identity, ReasonCode> {
        match answer {
            Ok(true) => {
                counters.authenticated.fetch_add(1, Ordering::Relaxed);
                Ok(Identity {
                    username: connect_user.map(Arc::from).or_else(|| tls_identity.clone()),
                    tls_identity,
                    ..Identity::default()
                })
            }
            Ok(false) if has_credentials => {
                counters.bad_credentials.fetch_add(1, Ordering::Relaxed);
                tracing::info!(%peer, user = connect_user.unwrap_or(""), "auth service refused the credentials");
                Err(ReasonCode::BadUserNameOrPassword)
            }
            Ok(false) => {
                counters.anonymous_refused.fetch_add(1, Ordering::Relaxed);
                tracing::info!(%peer, "auth service refused the client");
                Err(ReasonCode::NotAuthorized)
            }
            Err(_) => Err(ReasonCode::ServerUnavailable),
        }
    }

    fn allow_acl(&self, identity: &Identity, op: Op, topic: &str) -> bool {
        let Some(acl) = &self.acl else { return true };
        let subject = Subject {
            username: identity.username.as_deref(),
            client_id: identity.client_id.as_deref(),
            claims: &identity.attributes,
        };
        let d = acl.get().check(&subject, op, topic);
        if !d.allowed {
            let counter = match op {
                Op::Publish => &self.counters.publish_denied,
                Op::Subscribe => &self.counters.subscribe_denied,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            let rule = d
                .rule
                .map_or_else(|| "default".to_string(), |r| format!("rule {r}"));
            tracing::info!(client_id = identity.client_id.as_deref().unwrap_or(""),
                user = identity.username.as_deref().unwrap_or(""), ?op, topic, %rule, "ACL denied");
        }
        d.allowed
    }
}

/// Refuses a banned client (0x8A), logging why.
fn check_bans(
    bans: Option<&Watched<BanList>>,
    counters: &Counters,
    client_id: Option<&str>,
    username: Option<&str>,
    peer: SocketAddr,
) -> Result<(), ReasonCode> {
    let Some(bans) = bans else { return Ok(()) };
    match bans
        .get()
        .check(client_id, username, crate::cidr::canonical(peer.ip()))
    {
        None => Ok(()),
        Some(why) => {
            counters.banned.fetch_add(1, Ordering::Relaxed);
            tracing::info!(%peer, client_id = client_id.unwrap_or(""), user = username.unwrap_or(""),
                "connection refused: {why}");
            Err(ReasonCode::Banned)
        }
    }
}

/// 32 random bytes, or a start-up error.
fn random_key() -> Result<[u8; 32], String> {
    use ring::rand::SecureRandom;
    let mut k = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut k)
        .map_err(|_| "no system randomness".to_string())?;
    Ok(k)
}

/// Runs a CPU-heavy check without stalling the other tasks of this tokio worker.
fn cpu_heavy<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// The `transport` value sent to the HTTP service.
fn transport_name(t: TransportKind) -> &'static str {
    match t {
        TransportKind::Tcp => "tcp",
        TransportKind::Tls => "tls",
        TransportKind::WebSocket => "ws",
        TransportKind::WebSocketTls => "wss",
        TransportKind::Quic => "quic",
    }
}

impl AuthPolicy for TernPolicy {
    fn decide_connect(&self, meta: &ConnMeta, connect: &Connect) -> ConnectDecision {
        let Some(http) = &self.http else {
            return ConnectDecision::Done(self.authenticate(meta, connect));
        };
        let client_id = Some(connect.client_id.as_str()).filter(|c| !c.is_empty());
        if let Err(code) = self.check_bans(client_id, connect.username.as_deref(), meta.peer) {
            return ConnectDecision::Done(Err(code));
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // Only a caller outside tokio gets here (tests, tools); nothing can wait for the service there,
            // so `authenticate` fails closed (0x88).
            return ConnectDecision::Done(self.authenticate(meta, connect));
        };
        let body = self.connect_request(meta, connect);
        let pending = PendingAuth::new();
        let (http, counters, done) = (http.clone(), self.counters.clone(), pending.clone());
        let peer = meta.peer;
        let user: Option<Arc<str>> = connect.username.as_deref().map(Arc::from);
        let has_credentials = connect.username.is_some() || connect.password.is_some();
        let tls_identity = meta.tls_identity.as_deref().map(Arc::from);
        runtime.spawn(async move {
            let answer = http.ask(&body).await;
            done.complete(TernPolicy::http_decision(
                &counters,
                peer,
                user.as_deref(),
                has_credentials,
                tls_identity,
                answer,
            ));
        });
        ConnectDecision::Pending(pending)
    }

    fn authenticate(&self, meta: &ConnMeta, connect: &Connect) -> Result<Identity, ReasonCode> {
        // The ban list first (before any password hash), then again with the user name a JWT or a
        // certificate established.
        let client_id = Some(connect.client_id.as_str()).filter(|c| !c.is_empty());
        self.check_bans(client_id, connect.username.as_deref(), meta.peer)?;
        if let Some(http) = &self.http {
            // Synchronous callers only; the broker asks through `decide_connect`, which does not block.
            let answer = http.ask_blocking(&self.connect_request(meta, connect));
            return TernPolicy::http_decision(
                &self.counters,
                meta.peer,
                connect.username.as_deref(),
                connect.username.is_some() || connect.password.is_some(),
                meta.tls_identity.as_deref().map(Arc::from),
                answer,
            );
        }
        let identity = self.authenticate_credentials(meta, connect)?;
        if identity.username.as_deref() != connect.username.as_deref() {
            self.check_bans(None, identity.username.as_deref(), meta.peer)?;
        }
        Ok(identity)
    }

    fn start_exchange(
        &self,
        meta: &ConnMeta,
        method: &str,
        client_id: &str,
    ) -> Option<Box<dyn AuthExchange>> {
        if method != crate::scram::METHOD {
            return None;
        }
        let Some(passwords) = &self.passwords else {
            tracing::info!(peer = %meta.peer, "SCRAM-SHA-256 refused: no password_file is configured");
            return None;
        };
        Some(Box::new(scram::ScramExchange::new(
            scram::ScramContext {
                passwords: passwords.clone(),
                bans: self.bans.clone(),
                counters: self.counters.clone(),
                decoy_key: self.decoy_key.clone(),
                peer: meta.peer,
                tls_identity: meta.tls_identity.as_deref().map(Arc::from),
            },
            client_id,
        )))
    }

    fn authorize_publish(&self, identity: &Identity, topic: &str) -> bool {
        self.allow(identity, Op::Publish, topic)
    }

    fn authorize_subscribe(&self, identity: &Identity, filter: &str) -> bool {
        self.allow(identity, Op::Subscribe, filter)
    }

    fn authenticate_sn(&self, client_id: &str, peer: SocketAddr) -> Result<Identity, ReasonCode> {
        self.check_bans(Some(client_id), None, peer)?;
        match self.sn.admit(client_id, peer) {
            Ok(()) => Ok(Identity {
                client_id: Some(Arc::from(client_id)),
                ..Identity::default()
            }),
            Err(why) => {
                self.counters.sn_refused.fetch_add(1, Ordering::Relaxed);
                tracing::info!(%peer, client_id, "MQTT-SN client refused: {why}");
                Err(ReasonCode::NotAuthorized)
            }
        }
    }
}

impl TernPolicy {
    /// Credentials and anonymous access (the order in the module docs).
    fn authenticate_credentials(&self, meta: &ConnMeta, connect: &Connect) -> Result<Identity, ReasonCode> {
        let user = connect.username.as_deref();
        let password = connect.password.as_deref();
        let tls_identity = meta.tls_identity.as_deref().map(Arc::from);
        if let (Some(jwt), Some(pw)) = (&self.jwt, password)
            && JwtVerifier::looks_like_jwt(pw)
        {
            let token = std::str::from_utf8(pw).unwrap_or("");
            return match jwt.verify(token) {
                Ok(v) if user.is_some_and(|u| u != &*v.username) => {
                    Err(self.bad_credentials(meta, user, "user name differs from the token's"))
                }
                Ok(v) => self.authenticated(Identity {
                    username: Some(v.username),
                    tls_identity,
                    attributes: v.claims,
                    ..Identity::default()
                }),
                Err(e) => Err(self.bad_credentials(meta, user, &e.to_string())),
            };
        }
        if let (Some(file), Some(u), Some(pw)) = (&self.passwords, user, password) {
            let file = file.get();
            return if cpu_heavy(|| file.verify(u, pw)) {
                self.authenticated(Identity {
                    username: Some(Arc::from(u)),
                    tls_identity,
                    ..Identity::default()
                })
            } else {
                Err(self.bad_credentials(meta, user, "wrong user name or password"))
            };
        }
        if let Some(id) = tls_identity {
            return self.authenticated(Identity {
                username: Some(id.clone()),
                tls_identity: Some(id),
                ..Identity::default()
            });
        }
        let mechanisms = self.passwords.is_some() || self.jwt.is_some();
        if mechanisms && (user.is_some() || password.is_some()) {
            return Err(self.bad_credentials(meta, user, "credentials no configured mechanism can check"));
        }
        let loopback = crate::cidr::canonical(meta.peer.ip()).is_loopback();
        let allowed = match meta.listener.as_deref() {
            Some(name) => self.anonymous_by_listener.get(name).copied(),
            None => self.anonymous.get(&meta.transport).copied(),
        };
        if allowed.unwrap_or_default().admits(loopback) {
            self.counters.anonymous.fetch_add(1, Ordering::Relaxed);
            Ok(Identity::default())
        } else {
            self.counters.anonymous_refused.fetch_add(1, Ordering::Relaxed);
            tracing::info!(peer = %meta.peer, transport = ?meta.transport, listener = meta.listener.as_deref().unwrap_or(""),
                "anonymous client refused (set allow_anonymous = true on the listener to admit it)");
            Err(ReasonCode::NotAuthorized)
        }
    }
}

mod scram;
#[cfg(test)]
mod tests;
