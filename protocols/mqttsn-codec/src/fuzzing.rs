//! Entry points for fuzz targets and the corpus-replay test.
//!
//! Small and always compiled so `fuzz/` and stable tests share one oracle.
#![allow(
    clippy::panic,
    clippy::expect_used,
    reason = "a fuzz oracle reports a broken invariant by panicking"
)]

use crate::message::Message;
use bytes::{Bytes, BytesMut};

/// Decodes `data` as an MQTT-SN 1.2 datagram; if that succeeds, checks that
/// the message re-encodes to exactly `encoded_len()` octets, decodes back to
/// an equal message, and that encoding is then stable byte for byte.
///
/// Panics only when one of those invariants breaks (that is the bug a fuzzer
/// is looking for); malformed input is simply rejected.
pub fn decode_any(data: &[u8]) {
    let input = Bytes::copy_from_slice(data);
    let Ok(message) = crate::v1_2::decode(&input) else {
        return;
    };
    let first = encode_checked(&message);
    let again =
        crate::v1_2::decode(&first).unwrap_or_else(|e| panic!("re-encoded {message:?} fails to decode: {e}"));
    assert_eq!(again, message, "round trip changed the message");
    let second = encode_checked(&again);
    assert_eq!(first, second, "encoding is not stable");
}

/// Encodes `message`, asserting the length matches `encoded_len()`.
fn encode_checked(message: &Message) -> Bytes {
    let mut buf = BytesMut::new();
    message
        .encode(&mut buf)
        .expect("a decoded message always fits the length field");
    assert_eq!(
        buf.len(),
        message.encoded_len(),
        "encoded_len disagrees with encode"
    );
    buf.freeze()
}
