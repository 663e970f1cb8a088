//! Fan-out to several durable sessions stores the payload once (format 2): queue rows refer to one message
//! row, which goes with its last reference; a format 1 file is migrated when opened.

mod support;
use support::*;

use redb::{Database, ReadableDatabase, ReadableTableMetadata, TableDefinition};
use std::path::Path;
use std::time::{Duration, Instant};
use tern_broker_core::{BrokerCore, DetachKind, Fanout, Outbound, SessionHandle};
use tern_mqtt_codec::QoS;
use tern_store::{Durability, FORMAT_VERSION, Store};

// The store's table names, as a reader of the file sees them.
const MESSAGES: TableDefinition<u64, &[u8]> = TableDefinition::new("messages");
const QUEUE: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("queue");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

fn publish(core: &BrokerCore, payload: Vec<u8>, now: Instant) {
    let m = msg("t", payload, QoS::AtLeastOnce, false);
    core.publish(m, now, false, &mut Fanout::default()).unwrap();
}

/// (message rows, queue rows, bytes of all message rows) in the file.
fn counts(path: &Path) -> (u64, u64, usize) {
    let db = Database::open(path).unwrap();
    let txn = db.begin_read().unwrap();
    let messages = txn.open_table(MESSAGES).unwrap();
    let queue = txn.open_table(QUEUE).unwrap();
    let bytes = redb::ReadableTable::iter(&messages)
        .unwrap()
        .map(|r| r.unwrap().1.value().len())
        .sum();
    (messages.len().unwrap(), queue.len().unwrap(), bytes)
}

/// Acknowledges everything the session has to send; returns the payload sizes.
fn ack_all(h: &SessionHandle, now: Instant) -> Vec<usize> {
    let mut out = Vec::new();
    h.pull(now, 100, &mut out);
    let mut sizes = Vec::new();
    for o in out {
        if let Outbound::Publish {
            packet_id: Some(id),
            delivery,
            ..
        } = o
        {
            sizes.push(delivery.msg.payload.len());
            h.puback(id);
        }
    }
    sizes
}

#[test]
fn fan_out_stores_the_payload_once_and_frees_it_with_the_last_reference() {
    let dir = temp_dir("dedup");
    let path = dir.join("tern.redb");
    let now = Instant::now();
    {
        let (store, rec) = Store::open(&path, Durability::Sync, now).unwrap();
        let core = core_with(&store, now);
        core.restore(rec, now);
        for id in ["a", "b", "c"] {
            let h = attach(&core, id, true, 3600, now).0;
            subscribe(&core, &h, "t", now);
            core.detach(&h, DetachKind::Normal, now);
        }
        publish(&core, vec![b'x'; 10_000], now);
        publish(&core, vec![b'y'; 10_000], now);
        store.close();
    }
    let (messages, queued, bytes) = counts(&path);
    assert_eq!(
        (messages, queued),
        (2, 6),
        "two messages stored once each, six queue rows"
    );
    assert!(bytes < 2 * 10_200, "each payload once: {bytes} bytes");

    // After a restart the rows resolve to their message; as the sessions take them the message rows go.
    let later = now + Duration::from_secs(1);
    {
        let (store, rec) = Store::open(&path, Durability::Sync, later).unwrap();
        let core = core_with(&store, later);
        assert_eq!(core.restore(rec, later).deliveries, 6);
        let a = attach(&core, "a", false, 3600, later).0;
        assert_eq!(ack_all(&a, later), vec![10_000, 10_000]);
        let b = attach(&core, "b", false, 3600, later).0;
        assert_eq!(ack_all(&b, later), vec![10_000, 10_000]);
        store.flush();
        store.close();
    }
    assert_eq!(counts(&path).0, 2, "c still refers to both");
    {
        let (store, rec) = Store::open(&path, Durability::Sync, later).unwrap();
        let core = core_with(&store, later);
        core.restore(rec, later);
        // c ends its session (clean start): its rows and the last references go.
        let c = attach(&core, "c", true, 3600, later).0;
        core.detach(&c, DetachKind::Normal, later);
        store.close();
    }
    assert_eq!(counts(&path).0, 0, "no message row outlives its last reference");
    assert_eq!(counts(&path).1, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_format_1_store_is_migrated_and_its_inline_rows_still_read() {
    let dir = temp_dir("migrate-1");
    let path = dir.join("tern.redb");
    let now = Instant::now();
    {
        let (store, rec) = Store::open(&path, Durability::Sync, now).unwrap();
        let core = core_with(&store, now);
        core.restore(rec, now);
        let h = attach(&core, "only", true, 3600, now).0;
        subscribe(&core, &h, "t", now);
        core.detach(&h, DetachKind::Normal, now);
        publish(&core, b"old".to_vec(), now);
        store.close();
    }
    // Turn the file into what format 1 wrote: no messages table, version 1 (one subscriber: inline rows).
    {
        let db = Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        assert!(txn.delete_table(MESSAGES).unwrap());
        txn.open_table(META).unwrap().insert("format", 1).unwrap();
        txn.commit().unwrap();
    }
    let (store, rec) = Store::open(&path, Durability::Sync, now).unwrap();
    let core = core_with(&store, now);
    assert_eq!(core.restore(rec, now).deliveries, 1);
    let h = attach(&core, "only", false, 3600, now).0;
    assert_eq!(ack_all(&h, now), vec![3]);
    store.close();
    let db = Database::open(&path).unwrap();
    let format = db
        .begin_read()
        .unwrap()
        .open_table(META)
        .unwrap()
        .get("format")
        .unwrap()
        .map(|v| v.value());
    assert_eq!(format, Some(FORMAT_VERSION));
    let _ = std::fs::remove_dir_all(&dir);
}
