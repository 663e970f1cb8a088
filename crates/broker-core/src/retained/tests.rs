//! Retained store rules and a proptest against a naive matcher.

use super::*;
use crate::router::tests::{filter_strategy, naive_matches, topic_strategy};
use bytes::Bytes;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::time::Duration;
use tern_mqtt_codec::QoS;

fn msg(topic: &str, payload: &'static str) -> Arc<Message> {
    Arc::new(Message {
        topic: topic.into(),
        payload: Bytes::from_static(payload.as_bytes()),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: Default::default(),
        expires_at: None,
        publisher: None,
    })
}

fn expiring(topic: &str, payload: &'static str, at: Instant) -> Arc<Message> {
    let mut m = Message::clone(&msg(topic, payload));
    m.expires_at = Some(at);
    Arc::new(m)
}

fn topics(store: &RetainedStore, filter: &str, now: Instant) -> Vec<String> {
    let mut out = Vec::new();
    store.matching(filter, now, &mut out);
    let mut t: Vec<String> = out.iter().map(|m| m.topic.to_string()).collect();
    t.sort();
    t
}

fn unlimited() -> RetainedStore {
    RetainedStore::new(usize::MAX, usize::MAX)
}

#[test]
fn set_replaces_and_empty_payload_deletes() {
    let now = Instant::now();
    let mut s = unlimited();
    assert!(s.is_empty());
    assert_eq!(s.set(msg("a/b", "one")), Ok(()));
    assert_eq!(s.set(msg("a/b", "three")), Ok(()));
    assert_eq!(s.len(), 1);
    assert_eq!(s.bytes(), 3 + 5);
    assert_eq!(
        s.get("a/b").map(|m| m.payload.clone()),
        Some(Bytes::from_static(b"three"))
    );
    assert_eq!(s.set(msg("a/b", "")), Ok(()));
    assert!(s.is_empty());
    assert_eq!(s.bytes(), 0);
    assert!(topics(&s, "#", now).is_empty());
    // Deleting a topic with no retained message is fine.
    assert_eq!(s.set(msg("x", "")), Ok(()));
    assert_eq!(s.node_count(), 1);
}

#[test]
fn limits_refuse_and_leave_store_unchanged() {
    let mut s = RetainedStore::new(2, 20);
    assert_eq!(s.set(msg("a", "1")), Ok(()));
    assert_eq!(s.set(msg("b", "2")), Ok(()));
    let full = Err(RetainedError::Full {
        max_messages: 2,
        max_bytes: 20,
    });
    assert_eq!(s.set(msg("c", "3")), full);
    // Replacing does not add a message, so it fits.
    assert_eq!(s.set(msg("a", "12345")), Ok(()));
    assert_eq!(s.set(msg("a", "1234567890123456789")), full);
    assert_eq!(s.get("a").map(|m| m.payload.len()), Some(5));
    assert_eq!((s.len(), s.bytes()), (2, 6 + 2));
    assert!(s.get("c").is_none());
    assert_eq!(s.node_count(), 3);
}

#[test]
fn matching_follows_4_7_and_dollar_rule() {
    let now = Instant::now();
    let mut s = unlimited();
    for t in [
        "sport",
        "sport/tennis",
        "sport/tennis/player1",
        "sport/",
        "/finance",
        "$SYS/load",
        "a//b",
    ] {
        assert_eq!(s.set(msg(t, "x")), Ok(()));
    }
    assert_eq!(
        topics(&s, "sport/#", now),
        ["sport", "sport/", "sport/tennis", "sport/tennis/player1"]
    );
    assert_eq!(topics(&s, "sport/+", now), ["sport/", "sport/tennis"]);
    assert_eq!(topics(&s, "+", now), ["sport"]);
    assert_eq!(topics(&s, "+/+", now), ["/finance", "sport/", "sport/tennis"]);
    assert_eq!(topics(&s, "#", now).len(), 6);
    assert_eq!(topics(&s, "$SYS/#", now), ["$SYS/load"]);
    assert_eq!(topics(&s, "+/load", now), Vec::<String>::new());
    assert_eq!(topics(&s, "a/+/b", now), ["a//b"]);
    assert_eq!(topics(&s, "sport/tennis", now), ["sport/tennis"]);
    assert_eq!(topics(&s, "Sport", now), Vec::<String>::new());
}

#[test]
fn expiry_hides_then_removes() {
    let t0 = Instant::now();
    let mut s = unlimited();
    assert_eq!(s.set(expiring("a", "1", t0 + Duration::from_secs(10))), Ok(()));
    assert_eq!(s.set(expiring("b", "1", t0 + Duration::from_secs(5))), Ok(()));
    assert_eq!(s.set(msg("c", "1")), Ok(()));
    assert_eq!(s.next_expiry(), Some(t0 + Duration::from_secs(5)));
    assert_eq!(topics(&s, "#", t0 + Duration::from_secs(5)), ["a", "c"]);
    assert_eq!(s.remove_expired(t0 + Duration::from_secs(4)), 0);
    assert_eq!(s.remove_expired(t0 + Duration::from_secs(5)), 1);
    assert_eq!(s.next_expiry(), Some(t0 + Duration::from_secs(10)));
    // Replacing an expiring message drops its old deadline.
    assert_eq!(s.set(msg("a", "2")), Ok(()));
    assert_eq!(s.next_expiry(), None);
    assert_eq!(s.remove_expired(t0 + Duration::from_secs(60)), 0);
    assert_eq!(s.len(), 2);
    // Re-setting with the same deadline keeps exactly one entry.
    let at = t0 + Duration::from_secs(7);
    assert_eq!(s.set(expiring("d", "1", at)), Ok(()));
    assert_eq!(s.set(expiring("d", "2", at)), Ok(()));
    assert_eq!(s.remove_expired(at), 1);
    assert_eq!(s.next_expiry(), None);
    // Deleting an expiring message drops its deadline too.
    assert_eq!(s.set(expiring("e", "1", at)), Ok(()));
    assert_eq!(s.set(msg("e", "")), Ok(()));
    assert_eq!(s.next_expiry(), None);
}

#[test]
fn iter_yields_every_message() {
    let mut s = unlimited();
    for t in ["a", "a/b", "c/d/e", "$SYS/x"] {
        assert_eq!(s.set(msg(t, "p")), Ok(()));
    }
    let mut all: Vec<String> = s.iter().map(|m| m.topic.to_string()).collect();
    all.sort();
    assert_eq!(all, ["$SYS/x", "a", "a/b", "c/d/e"]);
}

#[test]
fn deep_topics_do_not_overflow_the_stack() {
    let now = Instant::now();
    let mut s = unlimited();
    let topic = "a/".repeat(40_000) + "x";
    assert_eq!(s.set(msg(&topic, "p")), Ok(()));
    assert_eq!(topics(&s, "#", now).len(), 1);
    assert_eq!(topics(&s, &topic, now).len(), 1);
    assert!(s.remove(&topic).is_some());
    assert_eq!(s.node_count(), 1);
    assert_eq!(s.set(msg(&topic, "p")), Ok(()));
    drop(s);
}

#[test]
fn plus_filter_does_not_walk_the_whole_store() {
    let now = Instant::now();
    let mut s = unlimited();
    for i in 0..1000 {
        assert_eq!(s.set(msg(&format!("x/{i}/y"), "p")), Ok(()));
    }
    assert_eq!(s.set(msg("a/b/c", "p")), Ok(()));
    assert_eq!(topics(&s, "a/b/+", now), ["a/b/c"]);
}

proptest! {
    #[test]
    fn matching_agrees_with_naive_matcher(
        ops in prop::collection::vec((topic_strategy(), any::<bool>(), 0u64..3), 0..40),
        filters in prop::collection::vec(filter_strategy(), 1..10),
    ) {
        let t0 = Instant::now();
        let now = t0 + Duration::from_secs(1);
        let mut store = unlimited();
        let mut model: BTreeMap<String, Arc<Message>> = BTreeMap::new();
        for (topic, delete, expiry) in ops {
            let mut m = Message::clone(&msg(&topic, if delete { "" } else { "p" }));
            m.expires_at = (expiry > 0).then(|| t0 + Duration::from_secs(expiry - 1));
            let m = Arc::new(m);
            prop_assert_eq!(store.set(Arc::clone(&m)), Ok(()));
            if delete { model.remove(&topic); } else { model.insert(topic, m); }
        }
        prop_assert_eq!(store.len(), model.len());
        prop_assert_eq!(store.bytes(), model.values().map(|m| m.size()).sum::<usize>());
        for filter in filters {
            let expected: Vec<String> = model
                .iter()
                .filter(|(t, m)| naive_matches(&filter, t) && !m.is_expired(now))
                .map(|(t, _)| t.clone())
                .collect();
            prop_assert_eq!(topics(&store, &filter, now), expected, "filter {:?}", filter);
        }
        let expired = model.values().filter(|m| m.is_expired(now)).count();
        prop_assert_eq!(store.remove_expired(now), expired);
        for topic in model.keys() {
            store.remove(topic);
        }
        prop_assert_eq!(store.node_count(), 1);
        prop_assert!(store.is_empty());
    }
}
