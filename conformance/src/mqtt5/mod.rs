//! Tests of the MQTT 5.0 statements, one file per spec section.

pub mod connack;
pub mod connect;
pub mod properties;
pub mod publish;
pub mod retain;
pub mod subscribe;
pub mod will;

use crate::registry::TestCase;

/// Every MQTT 5.0 test.
pub fn tests() -> Vec<TestCase> {
    let mut v = connect::tests();
    v.extend(connack::tests());
    v.extend(connack::more_tests());
    v.extend(publish::tests());
    v.extend(properties::tests());
    v.extend(retain::tests());
    v.extend(subscribe::tests());
    v.extend(will::tests());
    v.sort_by_key(|t| crate::registry::id_key(t.id));
    v
}
