//! The test registry: every test is a [`TestCase`], one normative statement of one protocol, and
//! [`all`] lists them. A test returns `Ok(())` for a pass or a [`Stop`] saying why it did not pass.

use crate::config::Protocol;
use crate::ctx::Ctx;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Why a test ended without passing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The broker broke the statement; the text is the one-line reason.
    Fail(String),
    /// The statement does not apply to this broker (it announced it lacks the feature, or the run has no
    /// fence the test needs); the text says which.
    NotApplicable(String),
}

impl From<tern_client::ClientError> for Stop {
    fn from(e: tern_client::ClientError) -> Stop {
        Stop::Fail(e.to_string())
    }
}

/// What a test returns.
pub type TestResult = Result<(), Stop>;

/// A boxed test future.
pub type TestFuture = Pin<Box<dyn Future<Output = TestResult> + Send>>;

/// One test: the statement it checks and how.
#[derive(Clone, Copy)]
pub struct TestCase {
    /// The protocol whose statement this is.
    pub protocol: Protocol,
    /// The normative statement's id, e.g. `MQTT-3.3.1-4`.
    pub id: &'static str,
    /// Runs the test.
    pub run: fn(Arc<Ctx>) -> TestFuture,
}

impl std::fmt::Debug for TestCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.protocol, self.id)
    }
}

/// Fails the test with a formatted reason.
#[macro_export]
macro_rules! fail {
    ($($arg:tt)*) => { return Err($crate::registry::Stop::Fail(format!($($arg)*))) };
}

/// Fails the test with a formatted reason unless the condition holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => { if !$cond { $crate::fail!($($arg)*); } };
}

/// Ends the test as not applicable, with a formatted reason.
#[macro_export]
macro_rules! not_applicable {
    ($($arg:tt)*) => { return Err($crate::registry::Stop::NotApplicable(format!($($arg)*))) };
}

/// Builds a list of [`TestCase`]s of one protocol: `cases!(Protocol::V5; "MQTT-3.1.0-2" => second_connect, ...)`.
#[macro_export]
macro_rules! cases {
    ($proto:expr; $($id:literal => $f:path),* $(,)?) => {
        vec![$($crate::registry::TestCase { protocol: $proto, id: $id, run: |c| Box::pin($f(c)) }),*]
    };
}

/// Sort key of a statement id: its numbers in order, so `MQTT-3.10.1-1` sorts after `MQTT-3.9.3-2`.
pub fn id_key(id: &str) -> Vec<u32> {
    id.split(|ch: char| !ch.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// Every test of every protocol, in catalogue order within a protocol.
pub fn all() -> Vec<TestCase> {
    let mut v = crate::mqtt311::tests();
    v.extend(crate::mqtt5::tests());
    v.extend(crate::mqttsn::tests());
    v
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_statement_has_one_test() {
        let mut seen = std::collections::HashSet::new();
        for t in super::all() {
            assert!(
                seen.insert((t.protocol, t.id)),
                "{} {} registered twice",
                t.protocol,
                t.id
            );
        }
    }
}
