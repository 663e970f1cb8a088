//! The writer thread: it owns every redb write transaction. Connection tasks hand it [`Op`]s over a
//! channel; it takes everything waiting (up to [`MAX_BATCH`]), applies it in one transaction, commits once
//! (one fsync) and then completes the batch's tickets, so a publisher's PUBACK follows the fsync that made
//! its message durable. A failed commit (disk full, I/O error) refuses the batch's new messages (their
//! tickets fail: 0x97 to the publisher), retries the rest after reopening the file, and writing resumes when
//! space returns. Nothing is acknowledged before it is durable.

use crate::codec::{PACKET_ID_AT, RELEASED_AT, message_key, message_refs, with_refs};
use crate::tables::{INBOUND, MESSAGES, QUEUE, RETAINED, SESSIONS};
use redb::{Database, ReadableTable};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};
use tern_broker_core::CommitTicket;

/// Most operations applied in one transaction.
pub(crate) const MAX_BATCH: usize = 8192;
/// Pause between attempts when a commit fails.
const RETRY_PAUSE: Duration = Duration::from_millis(250);

/// One change for the writer thread.
#[derive(Debug)]
pub(crate) enum Op {
    /// A message stored once with the queue rows of the durable sessions that take it, which refer to it
    /// by `key`: one op, so they are committed (or refused) together and no row refers to a missing message.
    Shared {
        key: u64,
        message: Vec<u8>,
        rows: Vec<(Arc<str>, u64, Vec<u8>)>,
    },
    /// A delivery queued for a durable session.
    Queue {
        client: Arc<str>,
        seq: u64,
        row: Vec<u8>,
    },
    /// A retained message set (`Some`) or deleted (`None`).
    Retain { topic: String, row: Option<Vec<u8>> },
    /// Inbound QoS 2 id now awaiting PUBREL.
    InboundAdd { client: Arc<str>, pid: u16 },
    /// Inbound QoS 2 id released.
    InboundRemove { client: Arc<str>, pid: u16 },
    /// A session's picture.
    Session { client: Arc<str>, row: Vec<u8> },
    /// A session and everything it owned, gone.
    SessionRemoved { client: Arc<str> },
    /// Row `seq` sent as `pid`.
    Sent { client: Arc<str>, seq: u64, pid: u16 },
    /// PUBREC arrived for `pid`.
    Released { client: Arc<str>, pid: u16 },
    /// Delivery `pid` completed.
    Acked { client: Arc<str>, pid: u16 },
    /// Rows that left the queue undelivered.
    Dropped { client: Arc<str>, seqs: Vec<u64> },
    /// Completed once every op sent before it is durable.
    Ticket(CommitTicket),
}

/// The open database, shared with readers.
pub(crate) type DbSlot = Arc<std::sync::Mutex<Option<Arc<Database>>>>;

/// When the writer commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cadence {
    /// As soon as there is work: each batch is whatever queued up during the previous fsync.
    Eager,
    /// Once per interval.
    Every(Duration),
}

/// The writer thread's state.
pub(crate) struct Writer {
    pub(crate) path: PathBuf,
    pub(crate) db: Option<Arc<Database>>,
    /// The database as readers see it ([`crate::Store`] reading spilled queues back); emptied while the
    /// writer reopens the file.
    pub(crate) shared: DbSlot,
    /// (client id, packet id) → sequence number of the delivery in flight with that id.
    pub(crate) inflight: HashMap<(Arc<str>, u16), u64>,
    pub(crate) cadence: Cadence,
}

impl Writer {
    /// Runs until every sender is gone, committing what is left before returning.
    pub(crate) fn run(mut self, rx: Receiver<Op>) {
        let mut batch: Vec<Op> = Vec::new();
        let mut open = true;
        while open || !batch.is_empty() {
            if open && batch.is_empty() {
                match rx.recv() {
                    Ok(op) => batch.push(op),
                    Err(_) => open = false,
                }
            }
            if open {
                open = self.gather(&rx, &mut batch);
            }
            if batch.is_empty() {
                continue;
            }
            if let Err(e) = self.try_commit(&batch) {
                self.degraded(&rx, &mut batch, &mut open, &e);
            }
            for op in batch.drain(..) {
                if let Op::Ticket(t) = op {
                    t.complete();
                }
            }
        }
    }

    /// Adds whatever else is waiting (eager) or arrives within the interval; false once senders are gone.
    fn gather(&self, rx: &Receiver<Op>, batch: &mut Vec<Op>) -> bool {
        match self.cadence {
            Cadence::Eager => {
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(op) => batch.push(op),
                        Err(TryRecvError::Empty) => return true,
                        Err(TryRecvError::Disconnected) => return false,
                    }
                }
                true
            }
            Cadence::Every(interval) => {
                let deadline = Instant::now() + interval;
                while batch.len() < MAX_BATCH {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match rx.recv_timeout(left) {
                        Ok(op) => batch.push(op),
                        Err(RecvTimeoutError::Timeout) => return true,
                        Err(RecvTimeoutError::Disconnected) => return false,
                    }
                }
                true
            }
        }
    }

    /// A commit failed (disk full, I/O error). Everything that would grow the store is refused: its tickets
    /// fail, so publishers get 0x97 instead of an ack and the messages are not delivered. The rest (acks,
    /// removals, session changes) is retried, with whatever arrives meanwhile, until a commit succeeds: the
    /// store is back to normal when space returns. Nothing acknowledged is dropped.
    fn degraded(&mut self, rx: &Receiver<Op>, batch: &mut Vec<Op>, open: &mut bool, first: &redb::Error) {
        tracing::error!(path = %self.path.display(), error = %first,
            "store commit failed (disk full?): refusing publishes until it can write again");
        let mut failures = 1u32;
        let mut next_log = 40u32;
        loop {
            refuse_growth(batch);
            // A failed commit may leave redb needing a reopen; the in-flight map may hold the failed batch's
            // changes, so it is rebuilt from what is really on disk.
            self.db = None;
            *self.shared.lock().unwrap_or_else(|e| e.into_inner()) = None;
            std::thread::sleep(RETRY_PAUSE);
            while *open && batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(op) => batch.push(op),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => *open = false,
                }
            }
            refuse_growth(batch);
            let result = self.reopen().and_then(|()| self.try_commit(batch));
            match result {
                Ok(()) => {
                    tracing::warn!(path = %self.path.display(), failures, "store writable again");
                    return;
                }
                Err(e) => {
                    if failures >= next_log {
                        next_log = failures + 40;
                        tracing::error!(path = %self.path.display(), error = %e, failures, "store still failing");
                    }
                    failures += 1;
                    if !*open && failures > 8 {
                        // Shutting down on a full disk: what is left are acks and removals, so the worst
                        // after a restart is a QoS 1 duplicate or a re-sent PUBREL.
                        tracing::error!(path = %self.path.display(), left = batch.len(),
                            "store still full at shutdown: giving up on the last acknowledgements");
                        batch.retain(|op| matches!(op, Op::Ticket(_)));
                        return;
                    }
                }
            }
        }
    }

    fn reopen(&mut self) -> Result<(), redb::Error> {
        let db = Arc::new(crate::recover::create(&self.path)?);
        self.inflight = crate::recover::inflight_map(&db)?;
        *self.shared.lock().unwrap_or_else(|e| e.into_inner()) = Some(db.clone());
        self.db = Some(db);
        Ok(())
    }

    fn try_commit(&mut self, batch: &[Op]) -> Result<(), redb::Error> {
        let Some(db) = &self.db else {
            return Err(redb::Error::DatabaseClosed);
        };
        let txn = db.begin_write()?;
        {
            let mut queue = txn.open_table(QUEUE)?;
            let mut sessions = txn.open_table(SESSIONS)?;
            let mut inbound = txn.open_table(INBOUND)?;
            let mut retained = txn.open_table(RETAINED)?;
            let mut messages = txn.open_table(MESSAGES)?;
            let mut t = Tables {
                queue: &mut queue,
                sessions: &mut sessions,
                inbound: &mut inbound,
                retained: &mut retained,
                messages: &mut messages,
            };
            for op in batch {
                apply(op, &mut self.inflight, &mut t)?;
            }
        }
        txn.commit()?;
        Ok(())
    }
}

type Table<'t, K, V> = redb::Table<'t, K, V>;

/// The open tables of one write transaction.
struct Tables<'a, 't> {
    queue: &'a mut Table<'t, (&'static str, u64), &'static [u8]>,
    sessions: &'a mut Table<'t, &'static str, &'static [u8]>,
    inbound: &'a mut Table<'t, (&'static str, u16), ()>,
    retained: &'a mut Table<'t, &'static str, &'static [u8]>,
    messages: &'a mut Table<'t, u64, &'static [u8]>,
}

impl Tables<'_, '_> {
    /// Removes a queue row; a row that referred to a stored message releases its reference.
    fn remove_row(&mut self, client: &str, seq: u64) -> Result<(), redb::Error> {
        let key = self
            .queue
            .remove((client, seq))?
            .and_then(|v| message_key(v.value()));
        if let Some(key) = key {
            self.unref(key)?;
        }
        Ok(())
    }

    /// Drops one reference to a stored message; the message goes with the last one.
    fn unref(&mut self, key: u64) -> Result<(), redb::Error> {
        let row = self.messages.get(key)?.map(|v| v.value().to_vec());
        let Some(row) = row else { return Ok(()) };
        match message_refs(&row) {
            Some(n) if n > 1 => {
                self.messages.insert(key, with_refs(&row, n - 1).as_slice())?;
            }
            _ => {
                self.messages.remove(key)?;
            }
        }
        Ok(())
    }
}

fn apply(
    op: &Op,
    inflight: &mut HashMap<(Arc<str>, u16), u64>,
    t: &mut Tables<'_, '_>,
) -> Result<(), redb::Error> {
    match op {
        Op::Shared { key, message, rows } => {
            t.messages.insert(*key, message.as_slice())?;
            for (client, seq, row) in rows {
                t.queue.insert((&**client, *seq), row.as_slice())?;
            }
        }
        Op::Queue { client, seq, row } => {
            t.queue.insert((&**client, *seq), row.as_slice())?;
        }
        Op::Retain {
            topic,
            row: Some(row),
        } => {
            t.retained.insert(topic.as_str(), row.as_slice())?;
        }
        Op::Retain { topic, row: None } => {
            t.retained.remove(topic.as_str())?;
        }
        Op::InboundAdd { client, pid } => {
            t.inbound.insert((&**client, *pid), ())?;
        }
        Op::InboundRemove { client, pid } => {
            t.inbound.remove((&**client, *pid))?;
        }
        Op::Session { client, row } => {
            t.sessions.insert(&**client, row.as_slice())?;
        }
        Op::SessionRemoved { client } => {
            t.sessions.remove(&**client)?;
            let mut refs = Vec::new();
            for row in t.queue.range((&**client, 0)..=(&**client, u64::MAX))? {
                let (_, v) = row?;
                refs.extend(message_key(v.value()));
            }
            t.queue
                .retain_in((&**client, 0)..=(&**client, u64::MAX), |_, _| false)?;
            for key in refs {
                t.unref(key)?;
            }
            t.inbound
                .retain_in((&**client, 0)..=(&**client, u16::MAX), |_, _| false)?;
            inflight.retain(|(c, _), _| c != client);
        }
        Op::Sent { client, seq, pid } => {
            let row = t.queue.get((&**client, *seq))?.map(|v| v.value().to_vec());
            // A row that is not there was never stored (a non-durable delivery) or is already gone.
            if let Some(mut row) = row {
                if let Some(slot) = row.get_mut(PACKET_ID_AT..PACKET_ID_AT + 2) {
                    slot.copy_from_slice(&pid.to_be_bytes());
                }
                t.queue.insert((&**client, *seq), row.as_slice())?;
                inflight.insert((client.clone(), *pid), *seq);
            }
        }
        Op::Released { client, pid } => {
            if let Some(&seq) = inflight.get(&(client.clone(), *pid)) {
                let row = t.queue.get((&**client, seq))?.map(|v| v.value().to_vec());
                if let Some(mut row) = row {
                    if let Some(flag) = row.get_mut(RELEASED_AT) {
                        *flag = 1;
                    }
                    t.queue.insert((&**client, seq), row.as_slice())?;
                }
            }
        }
        Op::Acked { client, pid } => {
            if let Some(seq) = inflight.remove(&(client.clone(), *pid)) {
                t.remove_row(client, seq)?;
            }
        }
        Op::Dropped { client, seqs } => {
            for seq in seqs {
                t.remove_row(client, *seq)?;
            }
        }
        Op::Ticket(_) => {}
    }
    Ok(())
}

/// Drops the operations that would grow the store and fails their tickets.
fn refuse_growth(batch: &mut Vec<Op>) {
    batch.retain(|op| match op {
        Op::Shared { .. } | Op::Queue { .. } | Op::Retain { row: Some(_), .. } | Op::InboundAdd { .. } => {
            false
        }
        Op::Ticket(t) => {
            t.fail();
            false
        }
        _ => true,
    });
}

/// Creates every table so readers never meet a missing one.
pub(crate) fn create_tables(db: &Database) -> Result<(), redb::Error> {
    let txn = db.begin_write()?;
    {
        txn.open_table(QUEUE)?;
        txn.open_table(SESSIONS)?;
        txn.open_table(INBOUND)?;
        txn.open_table(RETAINED)?;
        txn.open_table(MESSAGES)?;
    }
    txn.commit()?;
    Ok(())
}
