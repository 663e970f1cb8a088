//! Any byte string as one MQTT-SN 1.2 datagram: decoding never panics, and
//! whatever decodes round-trips (the oracle is the codec's `fuzzing` module,
//! shared with the stable corpus-replay test).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tern_mqttsn_codec::fuzzing::decode_any(data);
});
