//! `tern-conformance`: a conformance suite for MQTT brokers, any broker, reached through a URL.
//!
//! What it owns: one test per broker-side normative statement of MQTT 3.1.1 and MQTT 5.0, named by the
//! statement's id (`MQTT-3.3.1-4`) and registered per protocol ([`registry`]); the statement catalogue
//! (`statements/*.toml`, [`catalogue`]) that says which statements exist, which side of the connection they
//! bind and why an uncovered one cannot be tested from outside; a parallel runner with a timeout on every step
//! and every test ([`runner`]); and the reports: a human table, JSON, JUnit XML, and a comparison against a
//! committed expected-results file ([`report`]).
//!
//! What it does not own: the wire format (`tern-mqtt-codec`) and the transports (`tern-client`'s
//! [`open`](tern_client::open)): every URL scheme the client learns (`mqtts://`, `ws://`, `wss://`, `quic://`)
//! works here unchanged. It has no dependency on the broker: Tern is tested like any other broker.
//!
//! Tests are independent: each gets its own client identifiers and topics (unique per run and per test),
//! removes the retained messages and sessions it created, and is bounded in time, so a broker that never
//! answers yields a failure naming the step that timed out.

pub mod catalogue;
pub mod cli;
pub mod config;
pub mod ctx;
pub mod mqtt311;
pub mod mqtt5;
pub mod mqttsn;
pub mod peer;
pub mod registry;
pub mod report;
pub mod runner;
pub mod wire;

pub use cli::{Args, execute, main_with_args, run};
pub use config::{Config, Protocol};
pub use registry::{Stop, TestCase, TestResult};
