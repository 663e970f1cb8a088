//! Tern's durable store: retained messages and every session with a session expiry (subscriptions, queued
//! and in-flight QoS 1/2 deliveries in order, inbound QoS 2 ids, pending wills, expiry clocks) in one redb
//! file, behind the core's [`Persistence`] hook. [`Store::open`] recovers what the file holds (hand it to
//! [`BrokerCore::restore`](tern_broker_core::BrokerCore::restore)) and starts the writer thread.
//!
//! Group commit: connection tasks encode rows and hand them to the writer thread over a channel; it commits
//! whatever queued up during the previous fsync as one transaction. With [`Durability::Sync`] a publisher's
//! PUBACK/PUBREC waits for that commit ("acked means durable"); with [`Durability::Batched`] acks go out at
//! once and the writer commits every interval, so a crash loses at most one interval of acknowledged
//! messages. The store owns *how*; the core decides *when* state must be durable.
//!
//! A message that several durable sessions take is written once (the messages table, with a reference
//! count) and each session's queue row refers to it; a message for one session stays inline in its row.
//!
//! Not here: the in-memory mode (`durability = "none"`) is the core's [`tern_broker_core::MemoryPersistence`].

mod codec;
mod error;
mod migrate;
mod recover;
mod tables;
mod writer;

pub use error::StoreError;
pub use recover::StoreSummary;

use codec::{
    encode_delivery, encode_delivery_ref, encode_message, encode_retained, encode_session, unix_ms_now,
};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tern_broker_core::{Accepted, CommitTicket, Delivery, Persistence, Recovered, SessionRecord};
use writer::{Cadence, Op, Writer};

/// The store format this build writes (and the newest it reads). Format 2 stores a message that several
/// durable sessions take once, in the messages table; format 1 files are migrated when opened.
pub const FORMAT_VERSION: u64 = 2;

/// The database file's name inside the data directory.
pub const FILE_NAME: &str = "tern.redb";

/// What an acknowledgement promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// PUBACK/PUBREC after the fsync that made the message durable (grouped with concurrent ones).
    Sync,
    /// Acks at once; commits every interval. A crash loses at most the last interval's messages.
    Batched(Duration),
}

/// An open store; implements [`Persistence`].
pub struct Store {
    path: PathBuf,
    durability: Durability,
    tx: Mutex<Option<Sender<Op>>>,
    /// The database for reads (spilled queues), shared with the writer.
    db: writer::DbSlot,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("durability", &self.durability)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (or creates) the store file at `path`, reads back what it holds and starts the writer thread.
    /// `now` is the core's clock. Refuses a damaged or newer-format file with an error that names it and
    /// says what to do; never starts empty over data.
    pub fn open(
        path: &Path,
        durability: Durability,
        now: Instant,
    ) -> Result<(Arc<Store>, Recovered), StoreError> {
        let started = Instant::now();
        let db = recover::open_db(path)?;
        let (recovered, inflight) = recover::read_all(&db, path, now)?;
        let queued: usize = recovered.sessions.iter().map(|s| s.deliveries.len()).sum();
        tracing::info!(path = %path.display(), sessions = recovered.sessions.len(), queued,
            retained = recovered.retained.len(), elapsed_ms = started.elapsed().as_millis() as u64,
            "store opened");
        let cadence = match durability {
            Durability::Sync => Cadence::Eager,
            Durability::Batched(every) => Cadence::Every(every),
        };
        let db = Arc::new(db);
        let shared: writer::DbSlot = Arc::new(Mutex::new(Some(db.clone())));
        let writer = Writer {
            path: path.to_path_buf(),
            shared: shared.clone(),
            db: Some(db),
            inflight,
            cadence,
        };
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("tern-store".into())
            .spawn(move || writer.run(rx))
            .map_err(|source| StoreError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        let store = Store {
            path: path.to_path_buf(),
            durability,
            tx: Mutex::new(Some(tx)),
            db: shared,
            thread: Mutex::new(Some(thread)),
        };
        Ok((Arc::new(store), recovered))
    }

    /// Opens the store read-only enough to count its rows, for `tern store check`.
    pub fn check(path: &Path) -> Result<StoreSummary, StoreError> {
        if !path.exists() {
            return Err(StoreError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no store file"),
            });
        }
        let db = recover::open_db(path)?;
        recover::read_all(&db, path, Instant::now())?;
        recover::summary(&db, path)
    }

    /// Renames a store that cannot be opened to `<file>.broken-<unix seconds>` so Tern can start empty;
    /// returns the new name. The old file is kept for inspection, never deleted.
    pub fn move_aside(path: &Path) -> std::io::Result<PathBuf> {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".broken-{}", unix_ms_now() / 1000));
        let to = PathBuf::from(name);
        std::fs::rename(path, &to)?;
        Ok(to)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Blocks until everything handed to the store so far is durable.
    pub fn flush(&self) {
        let t = CommitTicket::new();
        let (done_tx, done_rx) = mpsc::channel();
        t.set_waker(Arc::new(move || {
            let _ = done_tx.send(());
        }));
        self.send(Op::Ticket(t));
        let _ = done_rx.recv();
    }

    /// Commits what is pending and stops the writer thread (later calls are ignored).
    pub fn close(&self) {
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(tx);
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = thread {
            let _ = t.join();
        }
        *self.db.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn send(&self, op: Op) {
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        let sent = tx.as_ref().is_some_and(|tx| tx.send(op).is_ok());
        if !sent {
            tracing::error!(path = %self.path.display(), "store closed: change not persisted");
        }
    }

    /// A ticket completed after everything sent so far is durable (sync mode), or `None` (batched).
    fn ticket(&self) -> Option<CommitTicket> {
        match self.durability {
            Durability::Sync => {
                let t = CommitTicket::new();
                self.send(Op::Ticket(t.clone()));
                Some(t)
            }
            Durability::Batched(_) => None,
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.close();
    }
}

impl Persistence for Store {
    fn message_accepted(&self, a: &Accepted<'_>) -> Option<CommitTicket> {
        let now = Instant::now();
        let now_ms = unix_ms_now();
        // Fan-out to several durable sessions stores the payload once; each queue row refers to it by the
        // first copy's sequence number (unique broker-wide). A single copy keeps the message inline.
        match a.deliveries {
            [] => {}
            [d] => self.send(Op::Queue {
                client: d.client_id.clone(),
                seq: d.seq,
                row: encode_delivery(&d.delivery, now, now_ms),
            }),
            [first, ..] => {
                let key = first.seq;
                let refs = u32::try_from(a.deliveries.len()).unwrap_or(u32::MAX);
                let rows = a
                    .deliveries
                    .iter()
                    .map(|d| {
                        let row = encode_delivery_ref(&d.delivery, key, now, now_ms);
                        (d.client_id.clone(), d.seq, row)
                    })
                    .collect();
                self.send(Op::Shared {
                    key,
                    message: encode_message(a.msg, refs),
                    rows,
                });
            }
        }
        if a.retained {
            let row = (!a.msg.payload.is_empty()).then(|| encode_retained(a.msg, now, now_ms));
            self.send(Op::Retain {
                topic: a.msg.topic.to_string(),
                row,
            });
        }
        if let Some((client, pid)) = a.inbound_qos2 {
            self.send(Op::InboundAdd {
                client: client.clone(),
                pid,
            });
        }
        match self.durability {
            Durability::Sync => {
                self.send(Op::Ticket(a.ticket.clone()));
                Some(a.ticket.clone())
            }
            Durability::Batched(_) => None,
        }
    }

    fn session_saved(&self, record: &SessionRecord) {
        self.send(Op::Session {
            client: record.client_id.clone(),
            row: encode_session(record, unix_ms_now()),
        });
    }

    fn session_removed(&self, client_id: &str) {
        self.send(Op::SessionRemoved {
            client: Arc::from(client_id),
        });
    }

    fn delivery_acked(&self, client_id: &str, packet_id: u16) {
        self.send(Op::Acked {
            client: Arc::from(client_id),
            pid: packet_id,
        });
    }

    fn delivery_sent(&self, client_id: &str, seq: u64, packet_id: u16) {
        self.send(Op::Sent {
            client: Arc::from(client_id),
            seq,
            pid: packet_id,
        });
    }

    fn delivery_released(&self, client_id: &str, packet_id: u16) -> Option<CommitTicket> {
        self.send(Op::Released {
            client: Arc::from(client_id),
            pid: packet_id,
        });
        self.ticket()
    }

    fn deliveries_dropped(&self, client_id: &str, seqs: &[u64]) {
        self.send(Op::Dropped {
            client: Arc::from(client_id),
            seqs: seqs.to_vec(),
        });
    }

    fn spills(&self) -> bool {
        true
    }

    fn sync_point(&self) -> Option<CommitTicket> {
        let t = CommitTicket::new();
        self.send(Op::Ticket(t.clone()));
        Some(t)
    }

    fn load_queued(
        &self,
        client_id: &str,
        after_seq: u64,
        limit: usize,
        now: Instant,
    ) -> (Vec<(u64, Delivery)>, usize) {
        let db = self.db.lock().unwrap_or_else(|e| e.into_inner()).clone();
        // While the writer reopens the file nothing is read; the core asks again later.
        let Some(db) = db else { return (Vec::new(), 0) };
        match recover::load_queued(&db, client_id, after_seq, limit, now) {
            Ok((rows, expired)) => {
                if !expired.is_empty() {
                    self.send(Op::Dropped {
                        client: Arc::from(client_id),
                        seqs: expired.clone(),
                    });
                }
                (rows, expired.len())
            }
            Err(e) => {
                tracing::error!(path = %self.path.display(), client_id, error = %e, "queued messages not read back");
                (Vec::new(), 0)
            }
        }
    }

    fn inbound_released(&self, client_id: &str, packet_id: u16) -> Option<CommitTicket> {
        self.send(Op::InboundRemove {
            client: Arc::from(client_id),
            pid: packet_id,
        });
        self.ticket()
    }
}
