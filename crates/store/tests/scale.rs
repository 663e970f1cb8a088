//! Figures for the README (on demand, release build):
//! `cargo test -p tern-store --release --test scale -- --ignored --nocapture`.
//! 100,000 QoS 1 messages (100-byte payloads) queued for one offline durable session: time to queue them
//! through the core with `sync` group commit, store size, and recovery time (open + restore).

use std::sync::Arc;
use std::time::Instant;
use tern_broker_core::Persistence;
use tern_broker_core::{
    AttachRequest, BrokerCore, CoreConfig, DetachKind, Fanout, Hooks, Identity, Message, SubscribeRequest,
};
use tern_mqtt_codec::{QoS, SubscriptionOptions};
use tern_store::{Durability, Store};

const N: usize = 100_000;

#[test]
#[ignore = "measurement; run on demand in release"]
fn recovery_time_and_size_for_100k_queued_messages() {
    let dir = std::env::temp_dir().join(format!("tern-store-scale-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("tern.redb");
    let now = Instant::now();
    let (store, rec) = Store::open(&path, Durability::Sync, now).expect("open");
    let config = CoreConfig {
        sys_interval: None,
        max_queued_messages: N * 2,
        max_queued_bytes: usize::MAX / 2,
        ..CoreConfig::default()
    };
    let hooks = Hooks {
        persistence: store.clone(),
        ..Hooks::default()
    };
    let core = BrokerCore::with_hooks(config.clone(), hooks, now);
    core.restore(rec, now);
    let a = core.attach(
        AttachRequest {
            client_id: Arc::from("sleeper"),
            clean_start: true,
            expiry_interval: u32::MAX,
            will: None,
            notifier: Arc::new(|| {}),
        },
        now,
    );
    let mut fanout = Fanout::default();
    let req = SubscribeRequest {
        filter: "t/#",
        options: SubscriptionOptions {
            qos: QoS::AtLeastOnce,
            ..Default::default()
        },
        subscription_id: None,
    };
    core.subscribe(&a.handle, &Identity::default(), req, now, &mut fanout)
        .expect("subscribe");
    core.detach(&a.handle, DetachKind::Normal, now);

    let payload = bytes::Bytes::from(vec![b'x'; 100]);
    let started = Instant::now();
    let mut last = None;
    for i in 0..N {
        let msg = Arc::new(Message {
            topic: format!("t/{}", i % 100).into(),
            payload: payload.clone(),
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: Default::default(),
            expires_at: None,
            publisher: None,
        });
        last = core
            .publish(msg, now, false, &mut fanout)
            .expect("publish")
            .commit;
    }
    store.flush();
    assert!(last.is_some_and(|t| t.is_done()));
    let queued = started.elapsed();
    store.close();
    drop(core);
    drop(store);
    let size = std::fs::metadata(&path).expect("file").len();

    let started = Instant::now();
    let (store, rec) = Store::open(&path, Durability::Sync, Instant::now()).expect("reopen");
    let core = BrokerCore::with_hooks(config, Hooks::default(), Instant::now());
    let counts = core.restore(rec, Instant::now());
    let recovery = started.elapsed();
    assert_eq!(counts.deliveries, N);

    // A spilled queue is read back 1,000 rows at a time, synchronously, on the task of the connection
    // that drains it: how long one such read takes.
    let mut after = 0;
    let mut reads = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let (rows, _) = store.load_queued("sleeper", after, 1000, Instant::now());
        reads.push(started.elapsed());
        assert_eq!(rows.len(), 1000);
        after = rows.last().map_or(after, |r| r.0);
    }
    reads.sort();
    let mean = reads.iter().sum::<std::time::Duration>() / reads.len() as u32;
    println!(
        "{N} queued QoS 1 messages (100 B payload, one offline session): queued through sync group commit in \
         {:.2} s ({:.0} msg/s); store {:.1} MiB ({:.0} B/message); recovery (open + restore) {:.2} s; \
         reading back 1,000 spilled rows: mean {} µs, max {} µs",
        queued.as_secs_f64(),
        N as f64 / queued.as_secs_f64(),
        size as f64 / (1024.0 * 1024.0),
        size as f64 / N as f64,
        recovery.as_secs_f64(),
        mean.as_micros(),
        reads.last().map_or(0, |d| d.as_micros()),
    );
    store.close();
    let _ = std::fs::remove_dir_all(&dir);
}
