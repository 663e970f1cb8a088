//! `tern serve`: wire the configuration into the core, bind every listener, run until SIGINT/SIGTERM, drain.

mod auth;
mod listeners;

use crate::config::{Config, DeniedReason, QueueDrop};
use anyhow::{Context, Result};
use std::time::Duration;
use tern_broker::{Broker, CoreConfig, DriverConfig};
use tern_broker_core::QueueDropPolicy;
use tracing::{info, warn};
use tracing_subscriber::EnvFilter;

/// How long connections get to close after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Runs the broker with `config` until a shutdown signal.
pub fn run(config: Config) -> Result<()> {
    init_logging(config.log.level.as_deref())?;
    let core_config = core_config(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tern")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let policy = auth::policy(&config)?;
        let data_dir = config.data_dir.clone().unwrap_or_else(|| std::path::PathBuf::from("tern-data"));
        let now = std::time::Instant::now();
        let store = crate::store::open(&config, &data_dir, now)?;
        let mut hooks = tern_broker_core::Hooks {
            policy: policy.clone(),
            ..tern_broker_core::Hooks::default()
        };
        if let Some((store, _)) = &store {
            hooks.persistence = store.clone();
        }
        let core = tern_broker_core::BrokerCore::with_hooks(core_config, hooks, now);
        let broker = Broker::start_with_core(core, driver_config(&config));
        let store = store.map(|(store, recovered)| {
            let counts = broker.core().restore(recovered, now);
            info!(path = %store.path().display(), sessions = counts.sessions, subscriptions = counts.subscriptions,
                messages = counts.deliveries, retained = counts.retained, "store recovered");
            store
        });
        let tls = listeners::spawn_all(&config, &broker)?;
        spawn_reload_on_sighup(tls);
        info!(version = env!("CARGO_PKG_VERSION"), "tern is up");
        wait_for_signal().await;
        info!("shutting down: closing listeners and disconnecting clients");
        let left = broker.shutdown(SHUTDOWN_GRACE).await;
        if left > 0 {
            warn!(
                connections = left,
                "connections still open after the grace period; exiting anyway"
            );
        }
        if let Some(store) = store {
            store.close();
        }
        Ok(())
    })
}

/// The connection driver's settings: its defaults with `limits.write_timeout`.
fn driver_config(config: &Config) -> DriverConfig {
    let mut d = DriverConfig::default();
    if let Some(s) = config.limits.write_timeout.filter(|&s| s > 0) {
        d.write_timeout = Duration::from_secs(s);
    }
    d
}

/// Maps the file's settings onto the core's defaults.
fn core_config(config: &Config) -> CoreConfig {
    let mut c = CoreConfig::default();
    let l = &config.limits;
    if let Some(v) = l.max_connections {
        c.max_connections = v;
    }
    if let Some(v) = l.max_packet_size {
        c.max_packet_size = v;
    }
    if let Some(v) = l.max_inflight {
        c.max_inflight = v;
    }
    if let Some(v) = l.max_queued_messages {
        c.max_queued_messages = v;
    }
    if let Some(v) = l.max_stored_messages {
        c.max_stored_messages = v;
    }
    if let Some(v) = l.max_queued_bytes {
        c.max_queued_bytes = v;
    }
    if let Some(v) = l.queue_drop {
        c.queue_drop_policy = match v {
            QueueDrop::Oldest => QueueDropPolicy::DropOldest,
            QueueDrop::New => QueueDropPolicy::DropNew,
        };
    }
    if let Some(v) = l.max_keepalive {
        c.max_keepalive = v;
    }
    if let Some(v) = l.max_session_expiry {
        c.max_session_expiry = v;
    }
    if let Some(v) = l.max_topic_levels {
        c.max_topic_levels = v;
    }
    if let Some(v) = l.max_topic_length {
        c.max_topic_length = v;
    }
    if let Some(v) = l.max_subscriptions_per_client {
        c.max_subscriptions_per_client = v;
    }
    if let Some(v) = l.topic_alias_maximum {
        c.topic_alias_maximum = v;
    }
    if let Some(v) = l.max_retained_messages {
        c.max_retained_messages = v;
    }
    if let Some(v) = l.max_retained_bytes {
        c.max_retained_bytes = v;
    }
    if let Some(v) = l.retain_available {
        c.retain_available = v;
    }
    if let Some(q) = l.maximum_qos.and_then(tern_mqtt_codec::QoS::from_u8) {
        c.maximum_qos = q;
    }
    if let Some(v) = l.connect_timeout {
        c.connect_timeout = Duration::from_secs(v);
    }
    if let Some(v) = l.max_connections_per_ip {
        c.max_connections_per_ip = v;
    }
    c.publish_rate = l.publish_rate.filter(|&r| r > 0);
    c.publish_burst = l.publish_burst;
    c.publish_bytes_rate = l.publish_bytes_rate.filter(|&r| r > 0);
    c.publish_bytes_burst = l.publish_bytes_burst;
    if let Some(v) = l.flap_max {
        c.flap_max = v;
    }
    if let Some(v) = l.flap_window {
        c.flap_window = Duration::from_secs(v);
    }
    if let Some(v) = l.flap_ban {
        c.flap_ban = Duration::from_secs(v);
    }
    if let Some(v) = l.publisher_pause_ms {
        c.publisher_pause = Duration::from_millis(v);
    }
    if !config.subscribe.denied_filters.is_empty() {
        c.denied_filters = config.subscribe.denied_filters.clone();
    }
    if let Some(r) = config.subscribe.denied_reason {
        c.denied_reason = match r {
            DeniedReason::Unspecified => tern_mqtt_codec::ReasonCode::UnspecifiedError,
            DeniedReason::NotAuthorized => tern_mqtt_codec::ReasonCode::NotAuthorized,
        };
    }
    if let Some(v) = config.sys.interval {
        c.sys_interval = (v > 0).then(|| Duration::from_secs(v));
    }
    c
}

fn init_logging(level: Option<&str>) -> Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.is_empty() => EnvFilter::try_new(v).context("RUST_LOG is not a valid tracing filter")?,
        _ => {
            EnvFilter::try_new(level.unwrap_or("info")).context("log.level is not a valid tracing filter")?
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    Ok(())
}

/// SIGHUP re-reads every TLS certificate and key (the files are also polled for changes).
fn spawn_reload_on_sighup(tls: listeners::TlsHandles) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            warn!("cannot listen for SIGHUP; certificates are still reloaded when their files change");
            return;
        };
        while hup.recv().await.is_some() {
            info!("SIGHUP: reloading TLS certificates");
            tls.reload();
        }
    });
    #[cfg(not(unix))]
    std::mem::forget(tls);
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
