//! Oracles for fuzz targets that have no home in a codec's own `fuzzing`
//! module. They live in this library, not in the target, so the stable test
//! `tests/replay.rs` replays their corpus without libFuzzer.
#![forbid(unsafe_code)]
#![allow(
    clippy::panic,
    reason = "a fuzz oracle reports a broken invariant by panicking"
)]

use bytes::BytesMut;
use tern_mqtt_codec::{DecodeError, Packet, ProtocolVersion, decode_packet};

/// Packets decoded in order, then the error that stopped decoding, if any.
type Outcome = (Vec<Packet>, Option<DecodeError>);

/// The `mqtt_stream` oracle: the incremental decoder fed as a socket would
/// feed it. The same bytes arriving in chunks of fuzzer-chosen sizes must
/// decode to the same packets, and end in the same error, as the bytes
/// arriving all at once; `Ok(None)` must leave the buffer untouched. Panics
/// when either breaks.
///
/// Input layout: `[config, n, len_1 .. len_n, stream ..]`. `config` picks the
/// protocol level (bits 0-1) and the maximum packet size (bits 2-3); `n % 16`
/// chunk lengths follow (each `1..=256`, used cyclically); the rest is the
/// byte stream.
pub fn mqtt_stream(data: &[u8]) {
    let [config, n, rest @ ..] = data else {
        return;
    };
    let version = match config & 0b11 {
        0 => ProtocolVersion::V3_1,
        1 => ProtocolVersion::V3_1_1,
        _ => ProtocolVersion::V5,
    };
    let max = match (config >> 2) & 0b11 {
        0 => u32::MAX,
        1 => 16,
        2 => 128,
        _ => 1024,
    };
    let (lens, stream) = rest.split_at(usize::from(n % 16).min(rest.len()));

    let whole = decode_all(stream, &[], version, max);
    let chunked = decode_all(stream, lens, version, max);
    assert_eq!(whole, chunked, "chunking changed what decodes");
}

/// Feeds `stream` to `decode_packet` in chunks of `lens` (cycled; all at once
/// when empty), draining every complete packet after each chunk.
fn decode_all(stream: &[u8], lens: &[u8], version: ProtocolVersion, max: u32) -> Outcome {
    let mut packets = Vec::new();
    let mut buf = BytesMut::new();
    let mut rest = stream;
    let mut sizes = lens.iter().map(|&l| usize::from(l) + 1).cycle();
    while !rest.is_empty() {
        let size = sizes.next().unwrap_or(rest.len()).min(rest.len());
        let (chunk, tail) = rest.split_at(size);
        buf.extend_from_slice(chunk);
        rest = tail;
        loop {
            let before = buf.clone();
            match decode_packet(&mut buf, version, max) {
                Ok(Some(packet)) => packets.push(packet),
                Ok(None) => {
                    assert_eq!(buf, before, "Ok(None) consumed bytes");
                    break;
                }
                Err(e) => return (packets, Some(e)),
            }
        }
    }
    (packets, None)
}

/// Wraps one MQTT seed (a `corpus/mqtt_decode` file) as `mqtt_stream` inputs:
/// at each protocol level, whole, in 1-octet chunks and in 3/7-octet chunks.
/// `run.sh` seeds the fuzzer the same way; the replay test uses this.
pub fn mqtt_stream_seeds(mqtt: &[u8]) -> Vec<Vec<u8>> {
    let headers: [&[u8]; 3] = [&[0x00, 0x00], &[0x01, 0x01, 0x00], &[0x02, 0x02, 0x02, 0x06]];
    headers.iter().map(|h| [*h, mqtt].concat()).collect()
}
