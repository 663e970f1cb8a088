//! `[store]`: durability settings, opening the store for `serve` (recovering what it holds), and the
//! operator's commands for a store that will not open: `tern store check` and `tern store recover`.

use crate::config::Config;
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tern_broker_core::Recovered;
use tern_store::{Durability, FILE_NAME, Store};

/// `[store]`
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// "sync" (default): acks after the fsync; "batched": acks at once, commits every `batch_interval_ms`;
    /// "none": in memory only, nothing survives a restart.
    pub durability: Option<DurabilityMode>,
    /// Milliseconds between commits with "batched" (default 10): the most a crash can lose.
    pub batch_interval_ms: Option<u64>,
    /// The database file (default `<data_dir>/tern.redb`).
    pub path: Option<PathBuf>,
    /// A store that cannot be opened: "refuse" (default: exit with a message naming the file) or
    /// "move-aside" (rename it to `<file>.broken-<time>`, keep it, and start with an empty store).
    pub on_corrupt: Option<OnCorrupt>,
}

/// `store.durability`
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DurabilityMode {
    /// Acks after the commit's fsync.
    Sync,
    /// Acks at once, commits on an interval.
    Batched,
    /// No store.
    None,
}

/// `store.on_corrupt`
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum OnCorrupt {
    /// Exit with the error.
    Refuse,
    /// Keep the file under a new name and start empty.
    MoveAside,
}

/// `tern store …`
#[derive(clap::Subcommand, Debug)]
pub enum StoreCommand {
    /// Open the store read-through and print what it holds; fails with the reason if it cannot be opened.
    Check,
    /// Move a store that cannot be opened aside (`<file>.broken-<time>`, kept for inspection) so Tern starts
    /// with an empty one.
    Recover,
}

/// The database file `config` names.
pub fn store_path(config: &Config, data_dir: &Path) -> PathBuf {
    config
        .store
        .path
        .clone()
        .unwrap_or_else(|| data_dir.join(FILE_NAME))
}

/// Validates `[store]` (called from config checking).
pub fn validate(c: &StoreConfig) -> Result<()> {
    if c.batch_interval_ms == Some(0) {
        bail!("store.batch_interval_ms must be above 0");
    }
    if c.batch_interval_ms.is_some() && c.durability != Some(DurabilityMode::Batched) {
        bail!("store.batch_interval_ms applies only with durability = \"batched\"");
    }
    Ok(())
}

/// Opens the store for `serve`; `None` with durability "none".
pub fn open(config: &Config, data_dir: &Path, now: Instant) -> Result<Option<(Arc<Store>, Recovered)>> {
    let c = &config.store;
    let durability = match c.durability.unwrap_or(DurabilityMode::Sync) {
        DurabilityMode::None => {
            tracing::warn!("store.durability = \"none\": sessions and retained messages live in memory only");
            return Ok(None);
        }
        DurabilityMode::Sync => Durability::Sync,
        DurabilityMode::Batched => {
            Durability::Batched(Duration::from_millis(c.batch_interval_ms.unwrap_or(10)))
        }
    };
    let path = store_path(config, data_dir);
    match Store::open(&path, durability, now) {
        Ok(opened) => Ok(Some(opened)),
        Err(e) if e.is_corrupt() && c.on_corrupt == Some(OnCorrupt::MoveAside) => {
            let aside = Store::move_aside(&path).with_context(|| format!("{e}; moving it aside failed"))?;
            tracing::error!(error = %e, kept_as = %aside.display(),
                "store.on_corrupt = \"move-aside\": starting with an EMPTY store");
            Ok(Some(Store::open(&path, durability, now)?))
        }
        Err(e) => Err(e.into()),
    }
}

/// Runs `tern store check|recover`.
pub fn run(cmd: StoreCommand, config: &Config, data_dir: &Path) -> Result<()> {
    let path = store_path(config, data_dir);
    match cmd {
        StoreCommand::Check => {
            if !path.exists() {
                println!(
                    "{}: no store yet (tern creates it when it starts)",
                    path.display()
                );
                return Ok(());
            }
            let s = Store::check(&path)?;
            println!(
                "{}: OK (format {}): {} sessions, {} queued or in-flight messages, {} retained, {} inbound QoS 2 ids",
                path.display(),
                tern_store::FORMAT_VERSION,
                s.sessions,
                s.queued,
                s.retained,
                s.inbound_qos2
            );
            Ok(())
        }
        StoreCommand::Recover if !path.exists() => {
            println!("{}: no store; nothing to recover", path.display());
            Ok(())
        }
        StoreCommand::Recover => match Store::check(&path) {
            Ok(_) => {
                println!("{}: opens fine; nothing to recover", path.display());
                Ok(())
            }
            Err(e) if e.is_corrupt() => {
                let aside =
                    Store::move_aside(&path).with_context(|| format!("moving {} aside", path.display()))?;
                println!(
                    "{}: {e}\nmoved to {}; the next start begins with an empty store",
                    path.display(),
                    aside.display()
                );
                Ok(())
            }
            Err(e) => Err(e.into()),
        },
    }
}
