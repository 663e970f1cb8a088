//! Deliveries that do not come from a plain publish still survive a crash: a retained message sent at
//! SUBSCRIBE to a durable session, and a shared-subscription delivery (which keeps its group, so it can
//! still move to another member after the restart).

mod support;
use support::*;

use std::time::{Duration, Instant};
use tern_broker_core::{Fanout, SessionHandle};
use tern_mqtt_codec::QoS;
use tern_store::{Durability, Store};

/// (payload, DUP, packet id) of every PUBLISH pulled.
fn pull(h: &SessionHandle, now: Instant) -> Vec<(String, bool, Option<u16>)> {
    let mut out = Vec::new();
    h.pull(now, 100, &mut out);
    payloads(&out)
}

#[test]
fn retained_message_sent_at_subscribe_to_a_durable_session_survives_a_crash_before_its_puback() {
    let dir = temp_dir("retained-at-subscribe");
    let path = dir.join("tern.redb");
    let now = Instant::now();
    let first_id;
    {
        let (store, rec) = Store::open(&path, Durability::Sync, now).unwrap();
        let core = core_with(&store, now);
        core.restore(rec, now);
        core.publish(
            msg("r", "kept", QoS::AtLeastOnce, true),
            now,
            false,
            &mut Fanout::default(),
        )
        .unwrap();
        let (sub, _) = attach(&core, "sub", true, 3600, now);
        subscribe(&core, &sub, "r", now);
        store.flush();
        let got = pull(&sub, now);
        assert_eq!(
            got.len(),
            1,
            "the retained message is sent once its row is committed"
        );
        assert_eq!(got[0].0, "kept");
        first_id = got[0].2;
        assert!(first_id.is_some());
        store.flush();
        // kill -9 stand-in before the subscriber's PUBACK: only the file is left.
        store.close();
    }
    let later = now + Duration::from_secs(1);
    let (store, rec) = Store::open(&path, Durability::Sync, later).unwrap();
    let core = core_with(&store, later);
    let counts = core.restore(rec, later);
    assert_eq!(
        counts.deliveries, 1,
        "the unacknowledged retained delivery is in the session's queue"
    );
    let (sub, present) = attach(&core, "sub", false, 3600, later);
    assert!(present);
    assert_eq!(
        pull(&sub, later),
        vec![("kept".to_owned(), true, first_id)],
        "re-sent with DUP under its id"
    );
    store.close();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_restored_shared_delivery_keeps_its_group_and_moves_to_another_member() {
    let dir = temp_dir("shared-restore");
    let path = dir.join("tern.redb");
    let now = Instant::now();
    {
        let (store, rec) = Store::open(&path, Durability::Sync, now).unwrap();
        let core = core_with(&store, now);
        core.restore(rec, now);
        let (b, _) = attach(&core, "b", true, 3600, now);
        subscribe(&core, &b, "$share/g/s", now);
        core.detach(&b, tern_broker_core::DetachKind::Normal, now);
        let (a, _) = attach(&core, "a", true, 3600, now);
        subscribe(&core, &a, "$share/g/s", now);
        // b is offline, so the group picks a, which crashes before reading it.
        core.publish(
            msg("s", "m1", QoS::AtLeastOnce, false),
            now,
            false,
            &mut Fanout::default(),
        )
        .unwrap();
        store.flush();
        store.close();
    }
    let later = now + Duration::from_secs(1);
    let (store, rec) = Store::open(&path, Durability::Sync, later).unwrap();
    let a_rec = rec
        .sessions
        .iter()
        .find(|s| &*s.record.client_id == "a")
        .expect("a restored");
    assert_eq!(a_rec.deliveries.len(), 1);
    let key = a_rec.deliveries[0]
        .delivery
        .shared
        .as_ref()
        .expect("the group is kept");
    assert_eq!((key.group(), key.filter()), ("g", "s"));
    let core = core_with(&store, later);
    core.restore(rec, later);
    let (b, _) = attach(&core, "b", false, 3600, later);
    // a comes back with a clean start: its session ends and its group message goes to b, not to waste.
    let (_a, present) = attach(&core, "a", true, 3600, later);
    assert!(!present);
    store.flush();
    let got = pull(&b, later);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "m1");
    store.close();
    let _ = std::fs::remove_dir_all(&dir);
}
