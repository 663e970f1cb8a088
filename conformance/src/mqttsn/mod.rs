//! MQTT-SN 1.2 gateway tests: the behaviours of the specification's section 6, with ids `SN-<section>-<n>`
//! (see `statements/mqtt-sn-1.2.toml`). The target is `mqttsn://host:port`; cross-checks with the MQTT side use
//! `--mqtt-url` (MQTT 5.0 clients).

pub mod peer;
pub mod tests;

use crate::registry::TestCase;

/// Every MQTT-SN test.
pub fn tests() -> Vec<TestCase> {
    tests::tests()
}
