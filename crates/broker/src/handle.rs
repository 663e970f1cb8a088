//! The `Broker` handle: the shared core, the shutdown signal and the count of live connections.

use crate::driver::{self, DriverConfig};
use crate::timer;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tern_broker_core::{BrokerCore, ConnMeta, CoreConfig, Hooks};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Notify, OwnedSemaphorePermit, watch};

/// A running broker: cheap to clone, shared by every listener.
#[derive(Clone)]
pub struct Broker {
    inner: Arc<Inner>,
}

struct Inner {
    core: Arc<BrokerCore>,
    driver: DriverConfig,
    shutdown_tx: watch::Sender<bool>,
    /// Live connection tasks; shutdown waits for it to reach zero.
    live: AtomicUsize,
    /// Signalled whenever `live` drops, so shutdown can wait without polling.
    drained: Notify,
}

/// Resolves when the broker starts shutting down; listeners select on it to stop accepting.
#[derive(Clone)]
pub struct ShutdownSignal(watch::Receiver<bool>);

impl ShutdownSignal {
    /// Waits until shutdown begins (returns at once if it already has).
    pub async fn wait(&mut self) {
        // An error means the broker is gone, which is shutdown too.
        let _ = self.0.wait_for(|down| *down).await;
    }

    /// True once shutdown has begun.
    pub fn is_shutdown(&self) -> bool {
        *self.0.borrow()
    }
}

/// Counts a connection as live for its whole life, so shutdown can wait for it; taken by frontends that
/// do work (a TLS or WebSocket handshake) before handing the stream to [`Broker::serve_stream`].
pub struct ConnectionGuard {
    broker: Broker,
    /// A listener's connection-limit permit, released with the guard.
    permit: Option<OwnedSemaphorePermit>,
}

impl ConnectionGuard {
    /// Keeps `permit` (a listener's `max_connections` slot) until the connection ends, so a listener
    /// needs no task of its own around the connection just to hold it.
    pub fn holding(mut self, permit: OwnedSemaphorePermit) -> ConnectionGuard {
        self.permit = Some(permit);
        self
    }

    /// The broker this connection counts in (the driver takes the core and its settings from it).
    pub(crate) fn broker(&self) -> &Broker {
        &self.broker
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.broker.inner.live.fetch_sub(1, Ordering::AcqRel);
        self.broker.inner.drained.notify_waiters();
    }
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker").finish_non_exhaustive()
    }
}

impl Broker {
    /// Builds the core from `config` and starts its timer task (session expiry, delayed wills, `$SYS`).
    /// Must be called inside a tokio runtime.
    pub fn start(config: CoreConfig, driver: DriverConfig) -> Broker {
        Broker::start_with_core(BrokerCore::new(config, Instant::now()), driver)
    }

    /// [`Broker::start`] with the given hooks (a durable store, an authentication policy).
    pub fn start_with_hooks(config: CoreConfig, driver: DriverConfig, hooks: Hooks) -> Broker {
        Broker::start_with_core(BrokerCore::with_hooks(config, hooks, Instant::now()), driver)
    }

    /// Serves a core built by the caller: one restored from a store ([`BrokerCore::restore`]) before any
    /// connection arrives. Starts the timer task; must be called inside a tokio runtime.
    pub fn start_with_core(core: Arc<BrokerCore>, driver: DriverConfig) -> Broker {
        let (shutdown_tx, _) = watch::channel(false);
        let broker = Broker {
            inner: Arc::new(Inner {
                core,
                driver,
                shutdown_tx,
                live: AtomicUsize::new(0),
                drained: Notify::new(),
            }),
        };
        tokio::spawn(timer::run(broker.core().clone(), broker.shutdown_signal()));
        broker
    }

    /// The connection driver's settings.
    pub(crate) fn driver_config(&self) -> &DriverConfig {
        &self.inner.driver
    }

    /// The I/O-free core, for frontends that need it directly (the MQTT-SN gateway) and for stats.
    pub fn core(&self) -> &Arc<BrokerCore> {
        &self.inner.core
    }

    /// A signal that resolves when shutdown begins.
    pub fn shutdown_signal(&self) -> ShutdownSignal {
        ShutdownSignal(self.inner.shutdown_tx.subscribe())
    }

    /// Marks one connection live until the guard drops.
    pub fn connection_guard(&self) -> ConnectionGuard {
        self.inner.live.fetch_add(1, Ordering::AcqRel);
        ConnectionGuard {
            broker: self.clone(),
            permit: None,
        }
    }

    /// Number of connection tasks running now.
    pub fn live_connections(&self) -> usize {
        self.inner.live.load(Ordering::Acquire)
    }

    /// Serves one MQTT connection over any byte stream until it closes. Frontends call this once their
    /// transport handshake is done; `guard` keeps the connection counted (take it with
    /// [`Broker::connection_guard`] before the handshake, or pass `None` to have one taken here).
    ///
    /// Not an `async fn`: the returned future is the driver's own, with no wrapper holding a second copy of
    /// the stream and metadata (an idle connection's memory is mostly this future).
    pub fn serve_stream<S>(
        &self,
        io: S,
        meta: ConnMeta,
        guard: Option<ConnectionGuard>,
    ) -> impl Future<Output = ()> + use<S>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        driver::drive(io, meta, guard.unwrap_or_else(|| self.connection_guard()))
    }

    /// Starts a graceful shutdown: listeners stop accepting, every connection is sent DISCONNECT 0x8B
    /// (MQTT 5) and closed; waits up to `grace` for connection tasks to finish. Returns how many were still
    /// running when the grace period ended.
    pub async fn shutdown(&self, grace: Duration) -> usize {
        let _ = self.inner.shutdown_tx.send(true);
        self.core().shutdown();
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let drained = self.inner.drained.notified();
            let live = self.live_connections();
            if live == 0 {
                return 0;
            }
            if tokio::time::timeout_at(deadline, drained).await.is_err() {
                return self.live_connections();
            }
        }
    }
}
