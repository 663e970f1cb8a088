//! Tests of the MQTT 3.1.1 statements, one file per spec section.

pub mod connect;

use crate::registry::TestCase;

/// Every MQTT 3.1.1 test.
pub fn tests() -> Vec<TestCase> {
    let mut v = connect::tests();
    v.sort_by_key(|t| t.id);
    v
}
