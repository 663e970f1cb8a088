//! The core's own clock: session expiry, delayed wills, retained expiry and `$SYS` publication.

use crate::handle::ShutdownSignal;
use std::sync::Arc;
use std::time::Duration;
use tern_broker_core::BrokerCore;

/// The timer wakes at least this often, so deadlines the core adds while it sleeps are never late by more.
const MAX_SLEEP: Duration = Duration::from_millis(250);

/// Runs until shutdown, calling `handle_timeout` whenever the core's next deadline passes.
pub(crate) async fn run(core: Arc<BrokerCore>, mut shutdown: ShutdownSignal) {
    loop {
        let now = tokio::time::Instant::now();
        let cap = now + MAX_SLEEP;
        let wake = core
            .poll_timeout()
            .map(|at| tokio::time::Instant::from_std(at).min(cap))
            .unwrap_or(cap);
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => core.handle_timeout(tokio::time::Instant::now().into_std()),
            _ = shutdown.wait() => return,
        }
    }
}
