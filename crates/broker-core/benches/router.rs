//! Router and retained-store lookups at realistic sizes: `route()` over 10k subscriptions (exact and
//! wildcard filters mixed) and retained lookups in a store of 100k messages.

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;
use tern_broker_core::Message;
use tern_broker_core::retained::RetainedStore;
use tern_broker_core::router::{Route, Router, SubscriptionEntry};
use tern_mqtt_codec::QoS;

/// 10k subscriptions over `site/{0..10}/dev/{0..100}/{temp|hum|...}` topics: 8k exact filters, 2k wildcard
/// ones (`+` levels and `#` tails), 100 shared-group members.
fn router_10k() -> Router {
    let mut router = Router::new();
    let entry = SubscriptionEntry {
        qos: QoS::AtLeastOnce,
        no_local: false,
        retain_as_published: false,
        subscription_id: None,
    };
    let metrics = ["temp", "hum", "co2", "lux", "volt", "amp", "door", "fan"];
    let mut session = 0u64;
    for site in 0..10 {
        for dev in 0..100 {
            for metric in metrics {
                session += 1;
                router.subscribe(session, &format!("site/{site}/dev/{dev}/{metric}"), entry);
            }
        }
    }
    for i in 0..1000u64 {
        session += 1;
        router.subscribe(
            session,
            &format!("site/{}/dev/+/{}", i % 10, metrics[(i % 8) as usize]),
            entry,
        );
    }
    for i in 0..900u64 {
        session += 1;
        router.subscribe(session, &format!("site/{}/dev/{}/#", i % 10, i % 100), entry);
    }
    for i in 0..100u64 {
        router.subscribe(
            session + 1 + i,
            &format!("$share/g{}/site/+/dev/+/temp", i % 4),
            entry,
        );
    }
    assert_eq!(router.subscription_count(), 10_000);
    router
}

fn bench_route(c: &mut Criterion) {
    let router = router_10k();
    let mut out: Vec<Route> = Vec::with_capacity(64);
    let mut group = c.benchmark_group("route_10k_subs");
    group.bench_function("exact_plus_wildcards_and_shared", |b| {
        b.iter(|| {
            out.clear();
            router.route(black_box("site/3/dev/42/temp"), None, |_| true, &mut out);
            black_box(out.len())
        })
    });
    group.bench_function("no_match", |b| {
        b.iter(|| {
            out.clear();
            router.route(black_box("other/3/dev/42/temp"), None, |_| true, &mut out);
            black_box(out.len())
        })
    });
    let topics: Vec<String> = (0..1000)
        .map(|i| format!("site/{}/dev/{}/hum", i % 10, (i * 7) % 100))
        .collect();
    group.bench_function("rotating_topics", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % topics.len();
            out.clear();
            router.route(&topics[i], None, |_| true, &mut out);
            black_box(out.len())
        })
    });
    group.finish();
}

fn bench_retained(c: &mut Criterion) {
    let mut store = RetainedStore::new(usize::MAX, usize::MAX);
    for i in 0..100_000u32 {
        let msg = Message {
            topic: format!("fleet/{}/truck/{}/pos", i % 100, i / 100).into(),
            payload: Bytes::from_static(b"52.1,4.3"),
            qos: QoS::AtMostOnce,
            retain: true,
            properties: Default::default(),
            expires_at: None,
            publisher: None,
        };
        assert!(store.set(Arc::new(msg)).is_ok());
    }
    assert_eq!(store.len(), 100_000);
    let now = Instant::now();
    let mut out = Vec::with_capacity(1024);
    let mut group = c.benchmark_group("retained_100k");
    for filter in [
        "fleet/42/truck/7/pos",
        "fleet/42/truck/+/pos",
        "fleet/+/truck/7/pos",
        "nothing/+/here",
    ] {
        group.bench_function(filter, |b| {
            b.iter(|| {
                out.clear();
                store.matching(black_box(filter), now, &mut out);
                black_box(out.len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_route, bench_retained);
criterion_main!(benches);
