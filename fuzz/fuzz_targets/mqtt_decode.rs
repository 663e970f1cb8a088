//! Any byte string as a stream of MQTT control packets at 3.1, 3.1.1 and 5.0:
//! decoding never panics, and whatever decodes round-trips (the oracle is the
//! codec's `fuzzing` module, shared with the stable corpus-replay test).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tern_mqtt_codec::fuzzing::decode_any(data);
});
