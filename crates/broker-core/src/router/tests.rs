//! Router rules, the spec's 4.7 examples, and a proptest against a naive matcher.

use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn entry(qos: QoS) -> SubscriptionEntry {
    SubscriptionEntry {
        qos,
        no_local: false,
        retain_as_published: false,
        subscription_id: None,
    }
}

fn q1() -> SubscriptionEntry {
    entry(QoS::AtLeastOnce)
}

fn id(n: u32) -> Option<NonZeroU32> {
    NonZeroU32::new(n)
}

fn sessions(router: &Router, topic: &str) -> Vec<SessionId> {
    let mut out = Vec::new();
    router.route(topic, None, |_| true, &mut out);
    let mut s: Vec<_> = out.iter().map(|r| r.session).collect();
    s.sort_unstable();
    s
}

fn matches(filter: &str, topic: &str) -> bool {
    let mut r = Router::new();
    r.subscribe(1, filter, q1());
    !sessions(&r, topic).is_empty()
}

#[test]
fn spec_4_7_1_2_multi_level_examples() {
    // "sport/tennis/player1/#" receives these three.
    for t in [
        "sport/tennis/player1",
        "sport/tennis/player1/ranking",
        "sport/tennis/player1/score/wimbledon",
    ] {
        assert!(matches("sport/tennis/player1/#", t), "{t}");
    }
    // "sport/#" also matches the singular "sport", since # includes the parent level.
    assert!(matches("sport/#", "sport"));
    assert!(matches("#", "sport/tennis"));
    assert!(!matches("sport/tennis/#", "sport/tennisx"));
}

#[test]
fn spec_4_7_1_3_single_level_examples() {
    assert!(matches("sport/tennis/+", "sport/tennis/player1"));
    assert!(matches("sport/tennis/+", "sport/tennis/player2"));
    assert!(!matches("sport/tennis/+", "sport/tennis/player1/ranking"));
    assert!(!matches("sport/+", "sport"));
    assert!(matches("sport/+", "sport/"));
    assert!(matches("+/+", "/finance"));
    assert!(matches("/+", "/finance"));
    assert!(!matches("+", "/finance"));
    assert!(matches("+/tennis/#", "sport/tennis/player1"));
    assert!(matches("+", "sport"));
    assert!(matches("+/#", "sport"));
}

#[test]
fn spec_4_7_2_dollar_topics() {
    // [MQTT-4.7.2-1]: no wildcard at the first level matches a `$` topic.
    assert!(!matches("#", "$SYS/monitor/Clients"));
    assert!(!matches("+/monitor/Clients", "$SYS/monitor/Clients"));
    assert!(matches("$SYS/#", "$SYS/monitor/Clients"));
    assert!(matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
    assert!(!matches("+", "$SYS"));
    // Only the first level is special.
    assert!(matches("a/+", "a/$b"));
    assert!(matches("a/#", "a/$b/c"));
}

#[test]
fn spec_4_7_3_case_and_empty_levels() {
    assert!(!matches("ACCOUNTS", "Accounts"));
    assert!(matches("a//b", "a//b"));
    assert!(matches("a/+/b", "a//b"));
    assert!(!matches("a/b", "a/b/"));
    assert!(matches("+/+", "/"));
    assert!(matches("/", "/"));
    assert!(matches("Accounts payable", "Accounts payable"));
}

#[test]
fn subscribe_reports_replacement_and_counts() {
    let mut r = Router::new();
    assert!(!r.subscribe(1, "a/b", q1()));
    assert!(r.subscribe(1, "a/b", entry(QoS::ExactlyOnce)));
    assert!(!r.subscribe(2, "a/b", q1()));
    assert!(!r.subscribe(1, "$share/g/a/b", q1()));
    assert!(r.subscribe(1, "$share/g/a/b", q1()));
    assert_eq!(r.subscription_count(), 3);
    let mut out = Vec::new();
    r.route("a/b", None, |_| true, &mut out);
    let plain = out.iter().find(|x| x.session == 1 && x.shared.is_none());
    assert_eq!(plain.map(|x| x.qos), Some(QoS::ExactlyOnce));
    assert!(r.unsubscribe(1, "a/b"));
    assert!(!r.unsubscribe(1, "a/b"));
    assert!(!r.unsubscribe(1, "$share/h/a/b"));
    assert!(!r.unsubscribe(1, "x/y"));
    assert!(r.unsubscribe(1, "$share/g/a/b"));
    assert!(r.unsubscribe(2, "a/b"));
    assert_eq!(r.subscription_count(), 0);
    assert_eq!(r.node_count(), 1);
}

#[test]
fn overlapping_subscriptions_collapse() {
    let mut r = Router::new();
    r.subscribe(
        1,
        "a/+",
        SubscriptionEntry {
            subscription_id: id(1),
            ..entry(QoS::AtMostOnce)
        },
    );
    r.subscribe(
        1,
        "a/#",
        SubscriptionEntry {
            subscription_id: id(2),
            ..entry(QoS::ExactlyOnce)
        },
    );
    r.subscribe(
        1,
        "a/b",
        SubscriptionEntry {
            retain_as_published: true,
            subscription_id: None,
            ..entry(QoS::AtLeastOnce)
        },
    );
    r.subscribe(
        1,
        "#",
        SubscriptionEntry {
            subscription_id: id(4),
            ..entry(QoS::AtMostOnce)
        },
    );
    r.subscribe(2, "a/b", entry(QoS::AtMostOnce));
    let mut out = Vec::new();
    r.route("a/b", None, |_| true, &mut out);
    assert_eq!(out.len(), 2);
    let one = out.iter().find(|x| x.session == 1).cloned();
    let Some(one) = one else {
        panic!("session 1 not routed")
    };
    assert_eq!(one.qos, QoS::ExactlyOnce);
    assert!(one.retain_as_published);
    let mut ids: Vec<u32> = one.subscription_ids.as_slice().iter().map(|i| i.get()).collect();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2, 4]);
    // A topic only one subscription matches keeps its single identifier inline.
    out.clear();
    r.route("x", None, |_| true, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(
        out.first().map(|x| x.subscription_ids.clone()),
        Some(SubscriptionIds::One(NonZeroU32::MIN.saturating_add(3)))
    );
}

#[test]
fn route_appends_after_existing_content() {
    let mut r = Router::new();
    r.subscribe(1, "a/+", q1());
    r.subscribe(1, "a/b", q1());
    let sentinel = Route {
        session: 99,
        qos: QoS::AtMostOnce,
        retain_as_published: false,
        subscription_ids: SubscriptionIds::None,
        shared: None,
    };
    let mut out = vec![sentinel.clone()];
    r.route("a/b", None, |_| true, &mut out);
    assert_eq!(out.len(), 2);
    assert_eq!(out.first(), Some(&sentinel));
}

#[test]
fn no_local_skips_own_publications() {
    let mut r = Router::new();
    r.subscribe(
        1,
        "a",
        SubscriptionEntry {
            no_local: true,
            ..q1()
        },
    );
    r.subscribe(1, "+", q1());
    r.subscribe(
        2,
        "a",
        SubscriptionEntry {
            no_local: true,
            ..q1()
        },
    );
    let mut out = Vec::new();
    r.route("a", Some(2), |_| true, &mut out);
    assert_eq!(out.iter().map(|x| x.session).collect::<Vec<_>>(), [1]);
    out.clear();
    r.route("a", Some(1), |_| true, &mut out);
    // Session 1 still receives through its `+` subscription, which lacks No Local.
    let mut got: Vec<_> = out.iter().map(|x| x.session).collect();
    got.sort_unstable();
    assert_eq!(got, [1, 2]);
    out.clear();
    r.route("a", None, |_| true, &mut out);
    assert_eq!(out.len(), 2);
}

#[test]
fn shared_group_round_robin_prefers_online() {
    let mut r = Router::new();
    for s in 1..=3 {
        r.subscribe(s, "$share/g/t/+", q1());
    }
    r.subscribe(9, "$share/other/t/+", q1());
    r.subscribe(1, "t/x", q1());
    let mut counts = BTreeMap::new();
    for _ in 0..30 {
        let mut out = Vec::new();
        r.route("t/x", None, |_| true, &mut out);
        // One plain route for session 1, one per group.
        assert_eq!(out.len(), 3);
        for route in out
            .iter()
            .filter(|x| x.shared.as_ref().is_some_and(|k| k.group() == "g"))
        {
            *counts.entry(route.session).or_insert(0) += 1;
        }
    }
    assert_eq!(counts.into_values().collect::<Vec<_>>(), [10, 10, 10]);
    // Only session 3 online: it gets every message.
    for _ in 0..5 {
        let mut out = Vec::new();
        r.route("t/x", None, |s| s == 3, &mut out);
        let g = out
            .iter()
            .find(|x| x.shared.as_ref().is_some_and(|k| k.group() == "g"));
        assert_eq!(g.map(|x| x.session), Some(3));
    }
    // Nobody online: still delivered to someone.
    let mut out = Vec::new();
    r.route("t/x", None, |_| false, &mut out);
    assert_eq!(out.iter().filter(|x| x.shared.is_some()).count(), 2);
}

#[test]
fn pick_shared_excludes_departed_member() {
    let mut r = Router::new();
    r.subscribe(1, "$share/g/a/#", q1());
    r.subscribe(2, "$share/g/a/#", entry(QoS::ExactlyOnce));
    let key = SharedGroupKey::new("g", "a/#");
    for _ in 0..4 {
        assert_eq!(r.pick_shared(&key, 1, |_| true).map(|p| p.0), Some(2));
    }
    assert_eq!(
        r.pick_shared(&key, 1, |_| true).map(|p| p.1.qos),
        Some(QoS::ExactlyOnce)
    );
    assert_eq!(r.shared_members(&key).map(|m| m.0).collect::<Vec<_>>(), [1, 2]);
    r.unsubscribe(2, "$share/g/a/#");
    assert_eq!(r.pick_shared(&key, 1, |_| true), None);
    assert_eq!(r.pick_shared(&SharedGroupKey::new("h", "a/#"), 1, |_| true), None);
    r.unsubscribe(1, "$share/g/a/#");
    assert_eq!(r.shared_members(&key).count(), 0);
    assert_eq!(r.node_count(), 1);
}

#[test]
fn router_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Router>();
    assert_send_sync::<Route>();
}

#[test]
fn deep_filters_do_not_overflow_the_stack() {
    let mut r = Router::new();
    let deep = "+/".repeat(40_000) + "x";
    let topic = "a/".repeat(40_000) + "x";
    r.subscribe(1, &deep, q1());
    r.subscribe(2, &topic, q1());
    assert_eq!(sessions(&r, &topic), [1, 2]);
    assert!(r.unsubscribe(1, &deep));
    assert!(r.unsubscribe(2, &topic));
    assert_eq!(r.node_count(), 1);
    r.subscribe(3, &deep, q1());
    drop(r);
}

#[test]
fn churn_leaves_no_nodes_behind() {
    let levels = ["a", "b", "+", "#", "", "$SYS"];
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n as u64) as usize
    };
    let mut r = Router::new();
    let mut live = std::collections::BTreeSet::new();
    for _ in 0..10_000 {
        let depth = 1 + next(4);
        let mut filter: Vec<&str> = (0..depth).map(|_| levels[next(levels.len())]).collect();
        if let Some(pos) = filter.iter().position(|l| *l == "#") {
            filter.truncate(pos + 1);
        }
        let mut filter = filter.join("/");
        if next(4) == 0 {
            filter = format!("$share/g{}/{filter}", next(2));
        }
        let session = next(8) as SessionId;
        if next(2) == 0 {
            let existed = r.subscribe(session, &filter, q1());
            assert_eq!(existed, !live.insert((session, filter)));
        } else {
            let existed = r.unsubscribe(session, &filter);
            assert_eq!(existed, live.remove(&(session, filter)));
        }
        assert_eq!(r.subscription_count(), live.len());
    }
    for (session, filter) in std::mem::take(&mut live) {
        assert!(r.unsubscribe(session, &filter));
    }
    assert_eq!(r.subscription_count(), 0);
    assert_eq!(r.node_count(), 1);
}

/// The spec's matching rules written the obvious way, level by level.
pub(crate) fn naive_matches(filter: &str, topic: &str) -> bool {
    let f: Vec<&str> = filter.split('/').collect();
    let t: Vec<&str> = topic.split('/').collect();
    if topic.starts_with('$') && (f[0] == "+" || f[0] == "#") {
        return false;
    }
    let mut i = 0;
    loop {
        match (f.get(i), t.get(i)) {
            (Some(&"#"), _) => return i + 1 == f.len(),
            (Some(&"+"), Some(_)) => {}
            (Some(fl), Some(tl)) if fl == tl => {}
            (None, None) => return true,
            _ => return false,
        }
        i += 1;
    }
}

/// Filters and topics over a small alphabet, so random ones collide often.
pub(crate) fn filter_strategy() -> impl Strategy<Value = String> {
    let level = prop_oneof![Just("a"), Just("b"), Just(""), Just("$SYS"), Just("+"), Just("#")];
    prop::collection::vec(level, 1..5).prop_map(|mut levels| {
        if let Some(pos) = levels.iter().position(|l| *l == "#") {
            levels.truncate(pos + 1);
        }
        levels.join("/")
    })
}

/// Topic names over the same alphabet, without wildcards.
pub(crate) fn topic_strategy() -> impl Strategy<Value = String> {
    let level = prop_oneof![Just("a"), Just("b"), Just(""), Just("$SYS"), Just("$x")];
    prop::collection::vec(level, 1..5).prop_map(|levels| levels.join("/"))
}

proptest! {
    #[test]
    fn route_agrees_with_naive_matcher(
        subs in prop::collection::vec(
            (0u64..6, filter_strategy(), 0u8..3, any::<bool>(), 0u32..4, 0u8..4, any::<prop::sample::Index>()),
            0..40,
        ),
        topics in prop::collection::vec(topic_strategy(), 1..10),
        publisher in prop::option::of(0u64..6),
    ) {
        let mut router = Router::new();
        let mut table: BTreeMap<(SessionId, String), SubscriptionEntry> = BTreeMap::new();
        for (session, filter, qos, no_local, sid, op, pick) in subs {
            match op {
                // Unsubscribe an existing subscription.
                0 if !table.is_empty() => {
                    let key = table.keys().nth(pick.index(table.len())).cloned();
                    if let Some((session, filter)) = key {
                        prop_assert!(router.unsubscribe(session, &filter));
                        table.remove(&(session, filter));
                    }
                }
                // Unsubscribe a random filter, which may or may not exist.
                1 => {
                    let existed = table.remove(&(session, filter.clone())).is_some();
                    prop_assert_eq!(router.unsubscribe(session, &filter), existed);
                }
                _ => {
                    let e = SubscriptionEntry {
                        qos: QoS::from_u8(qos).unwrap_or_default(),
                        no_local,
                        retain_as_published: sid == 1,
                        subscription_id: NonZeroU32::new(sid),
                    };
                    let existed = table.insert((session, filter.clone()), e).is_some();
                    prop_assert_eq!(router.subscribe(session, &filter, e), existed);
                }
            }
        }
        prop_assert_eq!(router.subscription_count(), table.len());
        for topic in topics {
            let mut expected: BTreeMap<SessionId, (QoS, bool, Vec<u32>)> = BTreeMap::new();
            for ((session, filter), e) in &table {
                if !naive_matches(filter, &topic) || (e.no_local && publisher == Some(*session)) {
                    continue;
                }
                let slot = expected.entry(*session).or_insert((QoS::AtMostOnce, false, Vec::new()));
                slot.0 = slot.0.max(e.qos);
                slot.1 |= e.retain_as_published;
                slot.2.extend(e.subscription_id.map(NonZeroU32::get));
            }
            let mut out = Vec::new();
            router.route(&topic, publisher, |_| true, &mut out);
            let mut got = BTreeMap::new();
            for route in out {
                let mut ids: Vec<u32> = route.subscription_ids.as_slice().iter().map(|i| i.get()).collect();
                ids.sort_unstable();
                prop_assert!(got.insert(route.session, (route.qos, route.retain_as_published, ids)).is_none());
            }
            for slot in expected.values_mut() {
                slot.2.sort_unstable();
            }
            prop_assert_eq!(got, expected, "topic {:?}", topic);
        }
        for (session, filter) in table.keys() {
            prop_assert!(router.unsubscribe(*session, filter));
        }
        prop_assert_eq!(router.node_count(), 1);
    }

    #[test]
    fn shared_groups_route_once_per_matching_group(
        subs in prop::collection::vec((0u64..6, 0u8..3, filter_strategy()), 0..30),
        topic in topic_strategy(),
    ) {
        let mut router = Router::new();
        let mut groups: BTreeMap<(String, String), Vec<SessionId>> = BTreeMap::new();
        for (session, group, filter) in subs {
            if filter.is_empty() {
                continue; // `$share/g/` is no share; empty filters are invalid anyway.
            }
            router.subscribe(session, &format!("$share/g{group}/{filter}"), entry(QoS::AtLeastOnce));
            let members = groups.entry((format!("g{group}"), filter)).or_default();
            if !members.contains(&session) {
                members.push(session);
            }
        }
        let mut out = Vec::new();
        router.route(&topic, None, |_| true, &mut out);
        let expected: Vec<_> = groups.iter().filter(|((_, f), _)| naive_matches(f, &topic)).collect();
        prop_assert_eq!(out.len(), expected.len());
        for route in &out {
            let key = route.shared.clone();
            prop_assert!(key.is_some());
            let key = key.unwrap_or_else(|| SharedGroupKey::new("", ""));
            let members = groups.get(&(key.group().to_owned(), key.filter().to_owned()));
            prop_assert!(members.is_some_and(|m| m.contains(&route.session)));
        }
    }
}

#[test]
fn concurrent_readers_share_the_round_robin() {
    let mut r = Router::new();
    for s in 1..=3 {
        r.subscribe(s, "$share/g/t", q1());
    }
    let lock = std::sync::RwLock::new(r);
    let counts: Vec<BTreeMap<SessionId, usize>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let mut counts = BTreeMap::new();
                    let mut out = Vec::new();
                    for _ in 0..3000 {
                        out.clear();
                        if let Ok(router) = lock.read() {
                            router.route("t", None, |_| true, &mut out);
                        }
                        for route in &out {
                            *counts.entry(route.session).or_insert(0) += 1;
                        }
                    }
                    counts
                })
            })
            .collect();
        workers.into_iter().filter_map(|w| w.join().ok()).collect()
    });
    let mut total = BTreeMap::new();
    for c in counts {
        for (s, n) in c {
            *total.entry(s).or_insert(0) += n;
        }
    }
    assert_eq!(total.values().sum::<usize>(), 12_000);
    // Races only skew fairness a little: every member gets a fair share.
    assert!(total.values().all(|&n| n > 3000), "{total:?}");
}
