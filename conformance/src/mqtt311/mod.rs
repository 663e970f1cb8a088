//! Tests of the MQTT 3.1.1 statements, one file per spec section.

pub mod connect;
pub mod packets;

use crate::registry::TestCase;

/// Every MQTT 3.1.1 test.
pub fn tests() -> Vec<TestCase> {
    let mut v = connect::tests();
    v.extend(packets::tests());
    v.sort_by_key(|t| crate::registry::id_key(t.id));
    v
}
