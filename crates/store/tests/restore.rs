//! The store behind a real `BrokerCore`: what was acknowledged comes back after a restart, in order, with
//! in-flight deliveries re-sent as DUP under their ids; damaged files are refused with a clear message.

mod support;
use support::*;

use std::sync::Arc;
use std::time::{Duration, Instant};
use tern_broker_core::{
    BrokerCore, CoreConfig, DetachKind, Fanout, Identity, Outbound, SessionHandle, SubscribeRequest,
};
use tern_mqtt_codec::{QoS, SubscriptionOptions};
use tern_store::{Durability, Store, StoreError};

/// A core whose in-memory queues are long, so the tests see where the store starts.
fn core_with(store: &Arc<Store>, now: Instant) -> Arc<BrokerCore> {
    let config = CoreConfig {
        max_queued_messages: 100_000,
        ..quiet_config()
    };
    core_on(store, config, now)
}

#[test]
fn sessions_queues_inflight_and_retained_survive_a_restart() {
    let dir = temp_dir("restart");
    let path = dir.join("tern.redb");
    let now = Instant::now();
    {
        let (store, rec) = Store::open(&path, Durability::Sync, now).unwrap();
        assert!(rec.sessions.is_empty());
        let core = core_with(&store, now);
        core.restore(rec, now);
        let (sub, _) = attach(&core, "sub", true, 3600, now);
        let mut fanout = Fanout::default();
        for (filter, qos) in [("a/#", QoS::ExactlyOnce), ("b", QoS::AtLeastOnce)] {
            let req = SubscribeRequest {
                filter,
                options: SubscriptionOptions {
                    qos,
                    ..Default::default()
                },
                subscription_id: None,
            };
            core.subscribe(&sub, &Identity::default(), req, now, &mut fanout)
                .unwrap();
        }
        let mut tickets = Vec::new();
        for i in 0..5 {
            let out = core.publish(
                msg("a/x", format!("m{i}"), QoS::ExactlyOnce, false),
                now,
                false,
                &mut fanout,
            );
            tickets.extend(out.unwrap().commit);
        }
        let out = core.publish(msg("r", "kept", QoS::AtLeastOnce, true), now, false, &mut fanout);
        tickets.extend(out.unwrap().commit);
        // Two sent: m0 completes (PUBREC then PUBCOMP), m1 stays at PUBREC, m2.. are queued.
        // Stored copies are held until their message's commit; then they flow.
        store.flush();
        let mut pulled = Vec::new();
        sub.pull(now, 2, &mut pulled);
        assert_eq!(payloads(&pulled).len(), 2);
        let ids: Vec<_> = payloads(&pulled).iter().map(|p| p.2.unwrap()).collect();
        let first = tern_mqtt_codec::PacketId::new(ids[0]).unwrap();
        let second = tern_mqtt_codec::PacketId::new(ids[1]).unwrap();
        assert!(sub.pubrec(first, true));
        assert!(sub.pubcomp(first));
        assert!(sub.pubrec(second, true));
        store.flush();
        assert!(tickets.iter().all(|t| t.is_done()), "every publish committed");
        // kill -9 stand-in: the core is dropped without detaching; the store file is all that is left.
        store.close();
    }
    let later = now + Duration::from_secs(5);
    let (store, rec) = Store::open(&path, Durability::Sync, later).unwrap();
    assert_eq!(rec.sessions.len(), 1);
    assert_eq!(rec.retained.len(), 1);
    let core = core_with(&store, later);
    let counts = core.restore(rec, later);
    assert_eq!(counts.subscriptions, 2);
    assert_eq!(counts.deliveries, 4, "m1 in flight at PUBREL, m2..m4 queued");
    let (sub, present) = attach(&core, "sub", false, 3600, later);
    assert!(present);
    let mut out = Vec::new();
    sub.pull(later, 10, &mut out);
    assert!(
        matches!(out.first(), Some(Outbound::PubRel(_))),
        "m1's PUBREL is re-sent, not m1"
    );
    let got = payloads(&out);
    let names: Vec<_> = got.iter().map(|g| g.0.as_str()).collect();
    assert_eq!(names, ["m2", "m3", "m4"], "the rest in order, once");
    // Routing works again: the subscription is back in the router.
    let mut fanout = Fanout::default();
    let o = core
        .publish(
            msg("b", "new", QoS::AtLeastOnce, false),
            later,
            false,
            &mut fanout,
        )
        .unwrap();
    assert_eq!(o.matched, 1);
    core.detach(&sub, DetachKind::Normal, later);
    store.close();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn garbage_file_is_refused_naming_it() {
    let dir = temp_dir("corrupt");
    let path = dir.join("tern.redb");
    std::fs::write(
        &path,
        b"this is not a redb file, it is something an operator cares about",
    )
    .unwrap();
    let err = Store::open(&path, Durability::Sync, Instant::now()).unwrap_err();
    assert!(err.is_corrupt() || matches!(err, StoreError::Io { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains(&*path.to_string_lossy()), "{text}");
    assert!(
        std::fs::read(&path).unwrap().starts_with(b"this is not"),
        "the file is left untouched"
    );
    let aside = Store::move_aside(&path).unwrap();
    assert!(aside.exists());
    let (store, rec) = Store::open(&path, Durability::Sync, Instant::now()).unwrap();
    assert!(rec.sessions.is_empty());
    store.close();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn newer_format_is_refused_not_overwritten() {
    let dir = temp_dir("version");
    let path = dir.join("tern.redb");
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        let def: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("meta");
        txn.open_table(def).unwrap().insert("format", 99).unwrap();
        txn.commit().unwrap();
    }
    let err = Store::open(&path, Durability::Sync, Instant::now()).unwrap_err();
    assert!(matches!(err, StoreError::WrongVersion { found: 99, .. }), "{err}");
    assert!(err.to_string().contains("tern store recover"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn truncated_file_is_refused_or_repaired_never_silently_emptied() {
    let dir = temp_dir("truncated");
    let path = dir.join("tern.redb");
    let now = Instant::now();
    {
        let (store, rec) = Store::open(&path, Durability::Sync, now).unwrap();
        let core = core_with(&store, now);
        core.restore(rec, now);
        let mut fanout = Fanout::default();
        for i in 0..200 {
            let _ = core.publish(
                msg(&format!("r/{i}"), "kept", QoS::AtLeastOnce, true),
                now,
                false,
                &mut fanout,
            );
        }
        store.flush();
        store.close();
    }
    let len = std::fs::metadata(&path).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(len / 3).unwrap();
    drop(f);
    match Store::open(&path, Durability::Sync, Instant::now()) {
        Err(e) => assert!(e.is_corrupt() || matches!(e, StoreError::Io { .. }), "{e}"),
        Ok((store, rec)) => {
            // redb may recover an older consistent state; it must never be an empty store over data.
            assert!(!rec.retained.is_empty(), "a damaged store came back empty");
            store.close();
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn batched_acks_at_once_and_commits_on_the_interval() {
    let dir = temp_dir("batched");
    let path = dir.join("tern.redb");
    let now = Instant::now();
    {
        let (store, rec) = Store::open(&path, Durability::Batched(Duration::from_millis(20)), now).unwrap();
        let core = core_with(&store, now);
        core.restore(rec, now);
        let mut fanout = Fanout::default();
        let out = core
            .publish(msg("r", "v", QoS::AtLeastOnce, true), now, false, &mut fanout)
            .unwrap();
        assert!(out.commit.is_none(), "batched: the PUBACK does not wait");
        std::thread::sleep(Duration::from_millis(100));
        // kill -9 stand-in: no close, no flush; the interval commit already made it durable.
        std::mem::forget(store);
    }
    // The forgotten store still holds the file lock in this process, so the check reads a copy.
    let copy = dir.join("copy.redb");
    std::fs::copy(&path, &copy).unwrap();
    let (store, rec) = Store::open(&copy, Durability::Sync, now).unwrap();
    assert_eq!(rec.retained.len(), 1);
    store.close();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn offline_expiry_clock_keeps_counting_across_a_restart() {
    let dir = temp_dir("expiry");
    let path = dir.join("tern.redb");
    let now = Instant::now();
    {
        let (store, rec) = Store::open(&path, Durability::Sync, now).unwrap();
        let core = core_with(&store, now);
        core.restore(rec, now);
        let (h, _) = attach(&core, "short", true, 1, now);
        core.detach(&h, DetachKind::Abnormal, now);
        store.flush();
        store.close();
    }
    std::thread::sleep(Duration::from_millis(1200));
    let later = Instant::now();
    let (store, rec) = Store::open(&path, Durability::Sync, later).unwrap();
    let s = rec.sessions.first().expect("session stored");
    assert!(
        s.offline_for >= Duration::from_secs(1),
        "offline time counted: {:?}",
        s.offline_for
    );
    let core = core_with(&store, later);
    core.restore(rec, later);
    core.handle_timeout(later);
    let (_, present) = attach(&core, "short", false, 60, later);
    assert!(!present, "its expiry passed while the broker was down");
    store.close();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Pulls and acknowledges everything, returning the payloads in delivery order.
fn drain(store: &Store, h: &SessionHandle, now: Instant) -> Vec<String> {
    let mut got = Vec::new();
    for _ in 0..10_000 {
        let mut out = Vec::new();
        h.pull(now, 100, &mut out);
        if out.is_empty() {
            // The next part is read back once the store's sync point is reached.
            store.flush();
            h.pull(now, 100, &mut out);
            if out.is_empty() {
                break;
            }
        }
        for o in out {
            if let Outbound::Publish {
                packet_id: Some(id),
                delivery,
                ..
            } = o
            {
                got.push(String::from_utf8_lossy(&delivery.msg.payload).into_owned());
                assert!(h.puback(id));
            }
        }
    }
    got
}

#[test]
fn a_long_offline_queue_stays_on_disk_and_drains_in_order_also_after_a_restart() {
    const N: usize = 3500;
    let dir = temp_dir("spill");
    let path = dir.join("tern.redb");
    let now = Instant::now();
    let expected: Vec<String> = (0..N).map(|i| format!("m{i}")).collect();
    {
        let (store, rec) = Store::open(&path, Durability::Sync, now).unwrap();
        let core = core_with(&store, now);
        core.restore(rec, now);
        let (h, _) = attach(&core, "sleeper", true, 3600, now);
        let mut fanout = Fanout::default();
        subscribe(&core, &h, "q", now);
        core.detach(&h, DetachKind::Normal, now);
        for p in &expected[..N / 2] {
            core.publish(msg("q", p, QoS::AtLeastOnce, false), now, false, &mut fanout)
                .unwrap();
        }
        store.flush();
        let (h, _) = attach(&core, "sleeper", false, 3600, now);
        assert!(
            h.queued_len() <= 1000,
            "only the head is in memory: {}",
            h.queued_len()
        );
        // Back offline with nothing consumed; the second half arrives and the broker restarts.
        core.detach(&h, DetachKind::Normal, now);
        for p in &expected[N / 2..] {
            core.publish(msg("q", p, QoS::AtLeastOnce, false), now, false, &mut fanout)
                .unwrap();
        }
        store.flush();
        store.close();
    }
    let (store, rec) = Store::open(&path, Durability::Sync, now).unwrap();
    let core = core_with(&store, now);
    core.restore(rec, now);
    let (h, present) = attach(&core, "sleeper", false, 3600, now);
    assert!(present);
    assert!(h.queued_len() <= 1000, "after a restart too: {}", h.queued_len());
    assert_eq!(drain(&store, &h, now), expected, "every message once, in order");
    store.close();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_online_subscriber_that_stays_slow_gets_its_backlog_from_disk_not_dropped() {
    const N: usize = 3500;
    let dir = temp_dir("slow-online");
    let path = dir.join("tern.redb");
    let now = Instant::now();
    let (store, rec) = Store::open(&path, Durability::Sync, now).unwrap();
    // The default in-memory queue (1,000 messages); the rest must go to the store, not be dropped.
    let core = core_on(&store, quiet_config(), now);
    core.restore(rec, now);
    let (h, _) = attach(&core, "slow", true, 3600, now);
    let mut fanout = Fanout::default();
    subscribe(&core, &h, "q", now);
    let expected: Vec<String> = (0..N).map(|i| format!("m{i}")).collect();
    for p in &expected {
        core.publish(msg("q", p, QoS::AtLeastOnce, false), now, false, &mut fanout)
            .unwrap();
    }
    store.flush();
    assert_eq!(core.stats().dropped, 0, "nothing acknowledged was dropped");
    assert!(
        h.queued_len() <= 1000,
        "memory holds the queue limit: {}",
        h.queued_len()
    );
    assert_eq!(drain(&store, &h, now), expected, "every message once, in order");
    store.close();
    let _ = std::fs::remove_dir_all(&dir);
}
