//! Entry points for fuzz targets (`fuzz/`) and the corpus replay test: decode arbitrary bytes at every protocol
//! level and check that whatever decodes survives an encode/decode round trip unchanged.

use crate::{ProtocolVersion, decode_one, decode_packet, encode_packet};
use bytes::BytesMut;

/// Tries `data` as a stream of packets at each protocol level. Panics (the fuzzer's signal) if a decoded packet
/// does not re-encode, or decodes differently after re-encoding.
#[allow(
    clippy::panic,
    clippy::expect_used,
    reason = "a panic is how a fuzz target reports a bug"
)]
pub fn decode_any(data: &[u8]) {
    for version in [
        ProtocolVersion::V3_1,
        ProtocolVersion::V3_1_1,
        ProtocolVersion::V5,
    ] {
        let mut buf = BytesMut::from(data);
        while let Ok(Some(packet)) = decode_packet(&mut buf, version, u32::MAX) {
            let mut out = BytesMut::new();
            encode_packet(&packet, version, &mut out).expect("a decoded packet re-encodes");
            let again = decode_one(out.freeze(), version, u32::MAX).expect("a re-encoded packet decodes");
            if again != packet {
                panic!("round trip changed the packet at {version:?}:\n{packet:?}\n{again:?}");
            }
        }
    }
}
