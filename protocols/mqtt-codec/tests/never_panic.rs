//! The decoder never panics: arbitrary bytes and mutated valid encodings, at every level.

mod common;

use bytes::BytesMut;
use common::*;
use proptest::prelude::*;
use tern_mqtt_codec::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Arbitrary bytes: decode at every level with a small and a large limit; whatever decodes must round-trip.
    #[test]
    fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        tern_mqtt_codec::fuzzing::decode_any(&data);
        for v in VERSIONS {
            let mut buf = BytesMut::from(&data[..]);
            let _ = decode_packet(&mut buf, v, 64);
        }
    }

    /// Valid encodings with a few bytes changed, truncated or extended.
    #[test]
    fn mutated_valid_packets(
        (v, p) in versioned_packet(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut buf = BytesMut::new();
        prop_assume!(encode_packet(&p, v, &mut buf).is_ok());
        for (at, x) in edits {
            let i = at.index(buf.len());
            buf[i] ^= x;
        }
        if truncate {
            buf.truncate(cut.index(buf.len() + 1));
        }
        tern_mqtt_codec::fuzzing::decode_any(&buf);
    }
}
