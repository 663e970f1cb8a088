//! The incremental decoder fed as a socket would feed it: the same bytes
//! arriving in chunks of fuzzer-chosen sizes must decode to the same packets,
//! and end in the same error, as the bytes arriving all at once. `Ok(None)`
//! must leave the buffer untouched.
//!
//! Input layout: `[config, n, len_1 .. len_n, stream ..]`. `config` picks the
//! protocol level (bits 0-1) and the maximum packet size (bits 2-3); `n % 16`
//! chunk lengths follow (each `1..=256`, used cyclically); the rest is the
//! byte stream.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tern_fuzz::mqtt_stream(data);
});
