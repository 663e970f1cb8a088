//! Opening a store: format check (and migration), then reading every table back into the core's
//! [`Recovered`] picture. A row that does not decode is corruption: the store is refused, never skipped
//! over silently.

use crate::codec::PACKET_ID_AT;
use crate::codec::{RowError, decode_delivery, decode_message, decode_retained, decode_session, unix_ms_now};
use crate::error::StoreError;
use crate::tables::{FORMAT_KEY, INBOUND, MESSAGES, META, QUEUE, RETAINED, SESSIONS};
use crate::{FORMAT_VERSION, migrate};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tern_broker_core::persistence::QUEUE_HEAD;
use tern_broker_core::{Recovered, RecoveredDelivery, RecoveredSession};

/// The in-flight map the writer needs: (client id, packet id) → sequence number.
pub(crate) type InflightMap = HashMap<(Arc<str>, u16), u64>;

/// redb's page cache: bounded, so a long offline queue on disk does not come back as memory.
const CACHE_BYTES: usize = 32 * 1024 * 1024;

/// Opens (or creates) the file with Tern's settings.
pub(crate) fn create(path: &Path) -> Result<Database, redb::DatabaseError> {
    Database::builder().set_cache_size(CACHE_BYTES).create(path)
}

/// Opens (or creates) the database at `path` and checks its format version.
pub(crate) fn open_db(path: &Path) -> Result<Database, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let existed = std::fs::metadata(path).is_ok_and(|m| m.len() > 0);
    let db = create(path).map_err(|e| StoreError::from_redb(path, e))?;
    let found = {
        let txn = db.begin_read().map_err(|e| StoreError::from_redb(path, e))?;
        match txn.open_table(META) {
            Ok(t) => t
                .get(FORMAT_KEY)
                .map_err(|e| StoreError::from_redb(path, e))?
                .map(|v| v.value()),
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(StoreError::from_redb(path, e)),
        }
    };
    match found {
        Some(v) if v > FORMAT_VERSION => {
            return Err(StoreError::WrongVersion {
                path: path.to_path_buf(),
                found: v,
                supported: FORMAT_VERSION,
            });
        }
        Some(v) if v < FORMAT_VERSION => migrate::migrate(&db, path, v)?,
        Some(_) => {}
        None if existed && has_data(&db, path)? => {
            return Err(StoreError::Corrupt {
                path: path.to_path_buf(),
                detail: "tables without a format version".into(),
            });
        }
        None => {}
    }
    let init = || -> Result<(), redb::Error> {
        crate::writer::create_tables(&db)?;
        let txn = db.begin_write()?;
        txn.open_table(META)?.insert(FORMAT_KEY, FORMAT_VERSION)?;
        txn.commit()?;
        Ok(())
    };
    init().map_err(|e| StoreError::from_redb(path, e))?;
    Ok(db)
}

fn has_data(db: &Database, path: &Path) -> Result<bool, StoreError> {
    let txn = db.begin_read().map_err(|e| StoreError::from_redb(path, e))?;
    let any = txn
        .list_tables()
        .map_err(|e| StoreError::from_redb(path, e))?
        .next()
        .is_some();
    Ok(any)
}

/// Reads everything back; `now` is the core's clock, so deadlines become `Instant`s on it.
pub(crate) fn read_all(
    db: &Database,
    path: &Path,
    now: Instant,
) -> Result<(Recovered, InflightMap), StoreError> {
    let now_ms = unix_ms_now();
    let corrupt = |detail: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    let redb_err = |e: redb::Error| StoreError::from_redb(path, e);
    let txn = db.begin_read().map_err(|e| redb_err(e.into()))?;
    let sessions_t = txn.open_table(SESSIONS).map_err(|e| redb_err(e.into()))?;
    let queue_t = txn.open_table(QUEUE).map_err(|e| redb_err(e.into()))?;
    let inbound_t = txn.open_table(INBOUND).map_err(|e| redb_err(e.into()))?;
    let retained_t = txn.open_table(RETAINED).map_err(|e| redb_err(e.into()))?;
    let messages_t = txn.open_table(MESSAGES).map_err(|e| redb_err(e.into()))?;
    // Every queue row of a shared message gets the same `Arc`, so restore does not copy payloads either.
    let mut cache: HashMap<u64, Arc<tern_broker_core::Message>> = HashMap::new();
    let mut resolve =
        |key: u64, expires_at: Option<Instant>| resolver(&messages_t, &mut cache, key, expires_at);

    let mut recovered = Recovered {
        next_seq: 1,
        ..Recovered::default()
    };
    let mut index: HashMap<Arc<str>, usize> = HashMap::new();
    for row in sessions_t.iter().map_err(|e| redb_err(e.into()))? {
        let (k, v) = row.map_err(|e| redb_err(e.into()))?;
        let client = k.value();
        let (record, saved_at) =
            decode_session(client, v.value()).map_err(|e| corrupt(format!("session {client:?}: {e}")))?;
        let offline_for = if record.online {
            Duration::ZERO
        } else {
            Duration::from_millis(now_ms.saturating_sub(saved_at))
        };
        index.insert(record.client_id.clone(), recovered.sessions.len());
        recovered.sessions.push(RecoveredSession {
            record,
            offline_for,
            deliveries: Vec::new(),
            inbound_qos2: Vec::new(),
            spilled: 0,
        });
    }
    let mut inflight = InflightMap::new();
    for row in queue_t.iter().map_err(|e| redb_err(e.into()))? {
        let (k, v) = row.map_err(|e| redb_err(e.into()))?;
        let (client, seq) = k.value();
        recovered.next_seq = recovered.next_seq.max(seq.saturating_add(1));
        let Some(&i) = index.get(client) else { continue };
        let Some(s) = recovered.sessions.get_mut(i) else {
            continue;
        };
        // Past the head, unsent rows stay on disk: counted, not read (the core reads them back later).
        let sent = v
            .value()
            .get(PACKET_ID_AT..PACKET_ID_AT + 2)
            .is_some_and(|b| b != [0, 0]);
        if !sent
            && s.deliveries.len()
                >= QUEUE_HEAD + s.deliveries.iter().filter(|d| d.packet_id.is_some()).count()
        {
            s.spilled += 1;
            continue;
        }
        let decoded = decode_delivery(v.value(), now, now_ms, &mut resolve)
            .map_err(|e| corrupt(format!("queue row {client:?}/{seq}: {e}")))?;
        // Expired while the broker was down: dropped as it would have been at delivery.
        let Some((delivery, packet_id, released)) = decoded else {
            continue;
        };
        if let Some(pid) = packet_id {
            inflight.insert((s.record.client_id.clone(), pid.get()), seq);
        }
        s.deliveries.push(RecoveredDelivery {
            seq,
            delivery,
            packet_id,
            released,
        });
    }
    // A stored message's key is the sequence number of its first copy: new ones must not reuse it.
    if let Some((k, _)) = messages_t.last().map_err(|e| redb_err(e.into()))? {
        recovered.next_seq = recovered.next_seq.max(k.value().saturating_add(1));
    }
    for row in inbound_t.iter().map_err(|e| redb_err(e.into()))? {
        let (k, _) = row.map_err(|e| redb_err(e.into()))?;
        let (client, pid) = k.value();
        if let Some(s) = index.get(client).and_then(|&i| recovered.sessions.get_mut(i)) {
            s.inbound_qos2.push(pid);
        }
    }
    for row in retained_t.iter().map_err(|e| redb_err(e.into()))? {
        let (k, v) = row.map_err(|e| redb_err(e.into()))?;
        let msg = decode_retained(v.value(), now, now_ms)
            .map_err(|e| corrupt(format!("retained {:?}: {e}", k.value())))?;
        recovered.retained.extend(msg.map(Arc::new));
    }
    // Sent rows first, in sequence order, then the queued ones: the in-flight window is re-sent first.
    for s in &mut recovered.sessions {
        s.deliveries.sort_by_key(|d| (d.packet_id.is_none(), d.seq));
    }
    Ok((recovered, inflight))
}

/// Looks up a stored message for the queue rows that refer to it, once per read.
fn resolver(
    messages: &redb::ReadOnlyTable<u64, &'static [u8]>,
    cache: &mut HashMap<u64, Arc<tern_broker_core::Message>>,
    key: u64,
    expires_at: Option<Instant>,
) -> Result<Arc<tern_broker_core::Message>, RowError> {
    if let Some(m) = cache.get(&key) {
        return Ok(m.clone());
    }
    let row = messages
        .get(key)
        .map_err(|e| RowError::new("message", e))?
        .ok_or_else(|| RowError::new("message", format!("message {key} referred to but missing")))?;
    let msg = Arc::new(decode_message(row.value(), expires_at)?);
    cache.insert(key, msg.clone());
    Ok(msg)
}

/// Rows read back for a session (sequence number, delivery) and the expired rows skipped.
pub(crate) type Loaded = (Vec<(u64, tern_broker_core::Delivery)>, Vec<u64>);

/// Up to `limit` unsent queue rows of `client` after `after`, in order, plus the expired rows skipped.
pub(crate) fn load_queued(
    db: &Database,
    client: &str,
    after: u64,
    limit: usize,
    now: Instant,
) -> Result<Loaded, String> {
    let now_ms = unix_ms_now();
    let txn = db.begin_read().map_err(|e| e.to_string())?;
    let queue = txn.open_table(QUEUE).map_err(|e| e.to_string())?;
    let messages = txn.open_table(MESSAGES).map_err(|e| e.to_string())?;
    let mut cache = HashMap::new();
    let mut resolve =
        |key: u64, expires_at: Option<Instant>| resolver(&messages, &mut cache, key, expires_at);
    let mut rows = Vec::new();
    let mut expired = Vec::new();
    let range = queue
        .range((client, after.saturating_add(1))..=(client, u64::MAX))
        .map_err(|e| e.to_string())?;
    for row in range {
        if rows.len() >= limit {
            break;
        }
        let (k, v) = row.map_err(|e| e.to_string())?;
        let seq = k.value().1;
        match decode_delivery(v.value(), now, now_ms, &mut resolve)
            .map_err(|e| format!("queue row {client:?}/{seq}: {e}"))?
        {
            Some((d, None, _)) => rows.push((seq, d)),
            Some(_) => {}
            None => expired.push(seq),
        }
    }
    Ok((rows, expired))
}

/// Rebuilds the in-flight map from disk (after a failed commit).
pub(crate) fn inflight_map(db: &Database) -> Result<InflightMap, redb::Error> {
    let txn = db.begin_read()?;
    let queue = txn.open_table(QUEUE)?;
    let mut map = InflightMap::new();
    for row in queue.iter()? {
        let (k, v) = row?;
        let (client, seq) = k.value();
        let pid = v
            .value()
            .get(crate::codec::PACKET_ID_AT..crate::codec::PACKET_ID_AT + 2)
            .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
        if pid != 0 {
            map.insert((Arc::from(client), pid), seq);
        }
    }
    Ok(map)
}

/// Row counts of a store, for `tern store check`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreSummary {
    /// Sessions.
    pub sessions: u64,
    /// Queued and in-flight deliveries.
    pub queued: u64,
    /// Retained messages.
    pub retained: u64,
    /// Inbound QoS 2 ids awaiting PUBREL.
    pub inbound_qos2: u64,
}

pub(crate) fn summary(db: &Database, path: &Path) -> Result<StoreSummary, StoreError> {
    let f = || -> Result<StoreSummary, redb::Error> {
        let txn = db.begin_read()?;
        Ok(StoreSummary {
            sessions: txn.open_table(SESSIONS)?.len()?,
            queued: txn.open_table(QUEUE)?.len()?,
            retained: txn.open_table(RETAINED)?.len()?,
            inbound_qos2: txn.open_table(INBOUND)?.len()?,
        })
    };
    f().map_err(|e| StoreError::from_redb(path, e))
}
