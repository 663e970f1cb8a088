//! Tests of the MQTT 5.0 statements, one file per spec section.

pub mod connect;
pub mod publish;

use crate::registry::TestCase;

/// Every MQTT 5.0 test.
pub fn tests() -> Vec<TestCase> {
    let mut v = connect::tests();
    v.extend(publish::tests());
    v.sort_by_key(|t| t.id);
    v
}
