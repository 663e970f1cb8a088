//! Binds every configured listener (tcp, tls, ws, wss, quic) and keeps the TLS material they share reloadable.

use crate::config::{Config, ListenerConfig, ListenerKind};
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::time::Duration;
use tern_broker::Broker;
use tern_tls::{ClientAuth, TlsMaterial, TlsSettings, WatchHandle};
use tern_transport_quic::{QuicFrontend, QuicListenerConfig};
use tern_transport_tcp::{TcpFrontend, TcpListenerConfig, TlsFrontend};
use tern_transport_ws::{UpgradeRules, WsFrontend, WsListenerConfig};
use tracing::{info, warn};

/// How often certificate files are checked for changes.
const CERT_POLL: Duration = Duration::from_secs(5);

/// The TLS material of the running listeners, for SIGHUP; the watchers run while this lives.
pub struct TlsHandles {
    materials: Vec<(TlsMaterial, WatchHandle)>,
}

impl TlsHandles {
    /// Re-reads every listener's certificate and key (SIGHUP); a failure keeps that listener's old one.
    pub fn reload(&self) {
        for (m, _) in &self.materials {
            if let Err(e) = m.reload() {
                warn!(error = %e, "certificate reload failed; the previous certificate stays in use");
            }
        }
    }
}

/// Binds all listeners now (so bind errors stop startup) and spawns them on `broker`.
pub fn spawn_all(config: &Config, broker: &Broker) -> Result<TlsHandles> {
    let data_dir = config
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("tern-data"));
    let mut handles = TlsHandles {
        materials: Vec::new(),
    };
    for l in &config.listeners {
        let mut tcp = TcpListenerConfig {
            bind: l.bind,
            ..TcpListenerConfig::default()
        };
        if let Some(max) = l.max_connections {
            tcp.max_connections = max;
        }
        tcp.connection_rate = l.connection_rate.filter(|&r| r > 0);
        tcp.name = Some(l.name().into());
        tcp.proxy_protocol = l.proxy_protocol.unwrap_or(false);
        if let Some(s) = l.handshake_timeout {
            tcp.handshake_timeout = Duration::from_secs(s);
        }
        let tls = match l.kind {
            ListenerKind::Tls | ListenerKind::Wss | ListenerKind::Quic => {
                let material = TlsMaterial::load(&tls_settings(l, &data_dir))
                    .with_context(|| format!("listener {} ({:?})", l.bind, l.kind))?;
                let watch = material.watch(CERT_POLL);
                handles.materials.push((material.clone(), watch));
                Some(material)
            }
            _ => None,
        };
        let addr = match l.kind {
            ListenerKind::Tcp => {
                let f = TcpFrontend::bind(tcp)?;
                let addr = f.local_addr()?;
                tokio::spawn(f.run(broker.clone()));
                addr
            }
            ListenerKind::Tls => {
                let config = tls.as_ref().map(|m| m.server_config(&[b"mqtt"])).transpose()?;
                let config = config.context("a tls listener without TLS material")?;
                let f = TlsFrontend::bind(tcp, config)?;
                let addr = f.local_addr()?;
                tokio::spawn(f.run(broker.clone()));
                addr
            }
            ListenerKind::Mqttsn => {
                let mut sn = l.mqttsn.clone().unwrap_or_default().to_listener(l.bind);
                sn.gateway.connect_rate = l.connection_rate.filter(|&r| r > 0);
                let f = tern_transport_mqttsn::SnFrontend::bind(sn)
                    .with_context(|| format!("listener {} (mqttsn)", l.bind))?;
                let addr = f.local_addr()?;
                tokio::spawn(f.run(broker.clone()));
                addr
            }
            ListenerKind::Ws | ListenerKind::Wss => {
                let config = tls
                    .as_ref()
                    .map(|m| m.server_config(&[b"http/1.1"]))
                    .transpose()?;
                let f = WsFrontend::bind(tcp, ws_config(l), config)?;
                let addr = f.local_addr()?;
                tokio::spawn(f.run(broker.clone()));
                addr
            }
            ListenerKind::Quic => {
                let material = tls.as_ref().context("a quic listener without TLS material")?;
                let server = material.server_config(&[tern_transport_quic::ALPN_MQTT])?;
                let f = QuicFrontend::bind(quic_config(l, config), &server)?;
                let addr = f.local_addr()?;
                tokio::spawn(f.run(broker.clone()));
                addr
            }
        };
        info!(%addr, kind = ?l.kind, "listener bound");
    }
    Ok(handles)
}

fn tls_settings(l: &ListenerConfig, data_dir: &std::path::Path) -> TlsSettings {
    let client_auth = match (&l.client_ca, l.require_client_cert) {
        (None, _) => ClientAuth::Off,
        (Some(_), Some(false)) => ClientAuth::Optional,
        (Some(_), _) => ClientAuth::Required,
    };
    TlsSettings {
        cert: l.cert.clone(),
        key: l.key.clone(),
        client_ca: l.client_ca.clone(),
        client_auth,
        data_dir: data_dir.to_path_buf(),
    }
}

/// The QUIC listener's settings; the idle timeout follows `limits.max_keepalive` unless set.
fn quic_config(l: &ListenerConfig, config: &Config) -> QuicListenerConfig {
    let mut q = QuicListenerConfig {
        bind: l.bind,
        ..QuicListenerConfig::default()
    };
    if let Some(max) = l.max_connections {
        q.max_connections = max;
    }
    if let Some(s) = l.handshake_timeout {
        q.handshake_timeout = Duration::from_secs(s);
    }
    match (l.idle_timeout, config.limits.max_keepalive) {
        (Some(s), _) => q.idle_timeout = Duration::from_secs(s),
        // 1.5x the longest keep alive a client may use, plus slack: MQTT decides when a client is dead.
        (None, Some(k)) if k > 0 => q.idle_timeout = Duration::from_secs(u64::from(k) * 3 / 2 + 10),
        (None, _) => {}
    }
    if let Some(s) = l.keep_alive_interval {
        q.keep_alive_interval = (s > 0).then(|| Duration::from_secs(s));
    }
    if let Some(n) = l.max_streams {
        q.max_streams = n;
    }
    if let Some(z) = l.zero_rtt {
        q.zero_rtt = z;
    }
    q.connection_rate = l.connection_rate.filter(|&r| r > 0);
    q.name = Some(l.name().into());
    q
}

fn ws_config(l: &ListenerConfig) -> WsListenerConfig {
    let mut rules = UpgradeRules::default();
    if let Some(p) = &l.path {
        rules.path = p.clone();
    }
    if let Some(s) = &l.subprotocols {
        rules.subprotocols = s.clone();
    }
    if let Some(r) = l.require_subprotocol {
        rules.require_subprotocol = r;
    }
    if let Some(o) = &l.allowed_origins {
        rules.allowed_origins = o.clone();
    }
    if let Some(t) = l.trust_proxy_headers {
        rules.trust_proxy_headers = t;
    }
    WsListenerConfig {
        rules,
        max_message_size: None,
    }
}
