//! The SCRAM-SHA-256 exchange as the core's [`AuthExchange`]: credentials from the password file, the
//! ban list checked on the proven user name, counters and log lines like a password login's.

use super::{Counters, check_bans};
use crate::ban::BanList;
use crate::password::PasswordFile;
use crate::reload::Watched;
use crate::scram::{Lookup, ScramError, ScramFailure, ScramServer, random_nonce};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tern_broker_core::{AuthExchange, AuthStep, Identity};
use tern_mqtt_codec::ReasonCode;

/// What the exchange needs from the policy; all shared, so the exchange outlives the call that started it.
pub(super) struct ScramContext {
    pub passwords: Arc<Watched<PasswordFile>>,
    pub bans: Option<Arc<Watched<BanList>>>,
    pub counters: Arc<Counters>,
    pub decoy_key: Arc<[u8; 32]>,
    pub peer: SocketAddr,
    pub tls_identity: Option<Arc<str>>,
}

/// Where the exchange is.
enum Stage {
    /// Waiting for client-first (in CONNECT or AUTH 0x19).
    First,
    /// server-first sent, waiting for client-final.
    Final(Box<ScramServer>),
    /// Finished (any further step fails).
    Done,
}

/// One client's SCRAM-SHA-256 exchange.
pub(super) struct ScramExchange {
    cx: ScramContext,
    client_id: Option<String>,
    stage: Stage,
}

impl ScramExchange {
    pub(super) fn new(cx: ScramContext, client_id: &str) -> ScramExchange {
        ScramExchange {
            cx,
            client_id: Some(client_id.to_string()).filter(|c| !c.is_empty()),
            stage: Stage::First,
        }
    }

    fn failed(&self, f: ScramFailure) -> AuthStep {
        let user = f.username.as_deref().unwrap_or("");
        let peer = self.cx.peer;
        if let Some(scheme) = f.not_scram {
            // The user exists, but its entry cannot do SCRAM: say so to the operator, 0x87 to the client.
            self.cx.counters.bad_credentials.fetch_add(1, Ordering::Relaxed);
            tracing::info!(%peer, user, scheme,
                "SCRAM-SHA-256 refused: the user's password entry is {scheme}; SCRAM needs a SCRAM-SHA-256 entry \
                 (tern passwd add --scram)");
            return AuthStep::Failure(ReasonCode::NotAuthorized);
        }
        self.cx.counters.bad_credentials.fetch_add(1, Ordering::Relaxed);
        tracing::info!(%peer, user, "SCRAM-SHA-256 authentication failed: {}", f.error);
        AuthStep::Failure(match f.error {
            ScramError::InvalidProof => ReasonCode::BadUserNameOrPassword,
            _ => ReasonCode::NotAuthorized,
        })
    }
}

impl AuthExchange for ScramExchange {
    fn step(&mut self, data: &[u8]) -> AuthStep {
        match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::First => {
                let Some(nonce) = random_nonce() else {
                    tracing::error!("SCRAM-SHA-256: no system randomness for the server nonce");
                    return AuthStep::Failure(ReasonCode::UnspecifiedError);
                };
                let file = self.cx.passwords.get();
                let lookup = |user: &str| match file.get(user) {
                    Some(h) => match h.scram() {
                        Some(c) => Lookup::Found(c.clone()),
                        None => Lookup::NotScram(h.scheme()),
                    },
                    None => Lookup::Unknown,
                };
                match ScramServer::client_first(data, lookup, &nonce, &*self.cx.decoy_key) {
                    Ok((server, first)) => {
                        self.stage = Stage::Final(Box::new(server));
                        AuthStep::Continue(first)
                    }
                    Err(f) => self.failed(f),
                }
            }
            Stage::Final(server) => match server.client_final(data) {
                Ok(ok) => {
                    let username: Arc<str> = Arc::from(ok.username.as_str());
                    if let Err(code) = check_bans(
                        self.cx.bans.as_deref(),
                        &self.cx.counters,
                        self.client_id.as_deref(),
                        Some(&username),
                        self.cx.peer,
                    ) {
                        return AuthStep::Failure(code);
                    }
                    self.cx.counters.authenticated.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(peer = %self.cx.peer, user = &*username, "SCRAM-SHA-256 authenticated");
                    AuthStep::Success {
                        identity: Identity {
                            username: Some(username),
                            tls_identity: self.cx.tls_identity.clone(),
                            ..Identity::default()
                        },
                        data: Some(ok.server_final),
                    }
                }
                Err(f) => self.failed(f),
            },
            Stage::Done => {
                tracing::info!(peer = %self.cx.peer, "SCRAM-SHA-256: AUTH after the exchange finished");
                AuthStep::Failure(ReasonCode::ProtocolError)
            }
        }
    }
}
