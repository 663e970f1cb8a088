//! Decode and encode throughput for the hot messages: PUBLISH (data path)
//! and CONNECT (session setup after every wake-up).

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use tern_mqttsn_codec::{Connect, Message, ProtocolVersion, Publish, QoS, Topic, Utf8Bytes};

/// A PUBLISH with a payload of `n` octets.
fn publish(n: usize) -> Message {
    Message::Publish(Publish {
        dup: false,
        qos: QoS::AtLeastOnce,
        retain: false,
        topic: Topic::Id(42),
        msg_id: 7,
        payload: Bytes::from(vec![0x5A; n]),
    })
}

/// A typical CONNECT.
fn connect() -> Message {
    Message::Connect(Connect {
        will: true,
        clean_session: true,
        version: ProtocolVersion::V1_2,
        duration: 60,
        client_id: Utf8Bytes::from_static("sensor-0042"),
    })
}

/// Encodes once, for the decode benchmarks.
fn encoded(m: &Message) -> Bytes {
    let mut buf = BytesMut::new();
    m.encode(&mut buf).expect("bench messages fit");
    buf.freeze()
}

fn bench(c: &mut Criterion) {
    let cases = [
        ("publish_32B", publish(32)),
        ("publish_1KiB", publish(1024)),
        ("connect", connect()),
    ];
    let mut group = c.benchmark_group("mqttsn");
    for (name, message) in &cases {
        let bytes = encoded(message);
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| tern_mqttsn_codec::decode(black_box(&bytes)))
        });
        let mut buf = BytesMut::with_capacity(4096);
        group.bench_function(format!("encode/{name}"), |b| {
            b.iter(|| {
                buf.clear();
                black_box(message).encode(&mut buf).expect("fits");
                black_box(buf.len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
