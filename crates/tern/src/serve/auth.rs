//! The security plane from `[auth]` and each listener's `allow_anonymous`: built once at start-up, its files
//! reloaded on change, and one log line saying what is open to whom.

use crate::config::{Config, ListenerKind};
use anyhow::{Result, anyhow};
use std::sync::Arc;
use tern_auth::{ListenerAuth, TernPolicy};
use tern_broker_core::TransportKind;

/// Builds the policy, starts its reload thread and logs the summary line.
pub fn policy(config: &Config) -> Result<Arc<TernPolicy>> {
    let listeners = config
        .listeners
        .iter()
        .filter_map(|l| {
            let transport = match l.kind {
                ListenerKind::Tcp => TransportKind::Tcp,
                ListenerKind::Tls => TransportKind::Tls,
                ListenerKind::Ws => TransportKind::WebSocket,
                ListenerKind::Wss => TransportKind::WebSocketTls,
                ListenerKind::Quic => TransportKind::Quic,
                // MQTT-SN has its own admission rules ([auth.mqttsn]).
                ListenerKind::Mqttsn => return None,
            };
            Some(ListenerAuth {
                name: l.name(),
                transport,
                allow_anonymous: crate::config::AllowAnonymous::resolve(l.allow_anonymous),
            })
        })
        .collect();
    let policy = TernPolicy::new(&config.auth, listeners).map_err(|e| anyhow!("[auth]: {e}"))?;
    let policy = Arc::new(policy);
    policy
        .start_reloading()
        .map_err(|e| anyhow!("cannot start the auth file reloader: {e}"))?;
    tracing::info!("security: {}", policy.describe());
    Ok(policy)
}
