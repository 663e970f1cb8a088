//! Decode and encode of PUBLISH (64 B and 64 KiB payloads) and of a 5.0 CONNECT; a 5.0 delivery with user
//! properties and a subscription identifier encoded the way a broker did (properties cloned into an owned
//! PUBLISH) against the borrowed `PublishRef`.
#![allow(missing_docs, reason = "criterion generates the entry point")]

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::num::NonZeroU16;
use tern_mqtt_codec::*;

const V5: ProtocolVersion = ProtocolVersion::V5;

fn publish(size: usize) -> Packet {
    let mut p = Publish::new(
        "sensors/building-1/floor-2/temperature",
        Bytes::from(vec![0x5Au8; size]),
    );
    p.qos = QoS::AtLeastOnce;
    p.packet_id = NonZeroU16::new(42);
    Packet::Publish(p)
}

fn connect() -> Packet {
    let mut c = Connect::new(V5, "bench-client-0001");
    c.username = Some("user".into());
    c.password = Some(Bytes::from_static(b"password"));
    c.properties.session_expiry_interval = Some(3600);
    c.properties.receive_maximum = Some(100);
    c.properties.user_properties = vec![("app".into(), "bench".into())];
    Packet::Connect(Box::new(c))
}

fn encoded(p: &Packet) -> Bytes {
    let mut buf = BytesMut::new();
    encode_packet(p, V5, &mut buf).expect("encodes");
    buf.freeze()
}

fn bench(c: &mut Criterion) {
    let cases = [
        ("publish_64B", publish(64)),
        ("publish_64KiB", publish(64 * 1024)),
        ("connect_v5", connect()),
    ];
    let mut g = c.benchmark_group("decode");
    for (name, p) in &cases {
        let wire = encoded(p);
        g.throughput(Throughput::Bytes(wire.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(name), &wire, |b, wire| {
            // The receive buffer is filled outside the measurement: only framing and parsing are timed.
            b.iter_batched_ref(
                || BytesMut::from(&wire[..]),
                |buf| black_box(decode_packet(buf, V5, u32::MAX).expect("decodes")),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
    let mut g = c.benchmark_group("encode");
    for (name, p) in &cases {
        let len = encoded_len(p, V5).expect("measures");
        g.throughput(Throughput::Bytes(len as u64));
        let mut buf = BytesMut::with_capacity(len);
        g.bench_with_input(BenchmarkId::from_parameter(name), p, |b, p| {
            b.iter(|| {
                buf.clear();
                encode_packet(black_box(p), V5, &mut buf).expect("encodes");
                black_box(buf.len())
            })
        });
    }
    g.finish();

    // A delivery: the shared message's properties plus this subscriber's expiry and subscription id.
    let Packet::Publish(mut msg) = publish(64) else {
        unreachable!("publish() builds a PUBLISH")
    };
    msg.properties.user_properties = vec![("site".into(), "lyon".into()), ("unit".into(), "celsius".into())];
    msg.properties.content_type = Some("application/json".into());
    msg.properties.correlation_data = Some(Bytes::from_static(b"request-0001"));
    let ids = [std::num::NonZeroU32::MIN];
    let mut buf = BytesMut::with_capacity(512);
    let mut g = c.benchmark_group("delivery_v5");
    g.bench_function("cloned_properties", |b| {
        b.iter(|| {
            buf.clear();
            let mut p = black_box(&msg).clone();
            p.properties.message_expiry_interval = Some(60);
            p.properties.subscription_identifiers.extend_from_slice(&ids);
            encode_packet(&Packet::Publish(p), V5, &mut buf).expect("encodes");
            black_box(buf.len())
        })
    });
    g.bench_function("borrowed", |b| {
        b.iter(|| {
            buf.clear();
            let m = black_box(&msg);
            let parts = PublishRef {
                message_expiry_interval: Some(60),
                subscription_identifiers: &ids,
                ..m.as_parts()
            };
            parts.encode(V5, &mut buf).expect("encodes");
            black_box(buf.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
