//! Core scenarios with simulated clients on a fake clock: every MQTT flow the broker core implements.

mod harness;

mod connect;
mod session;
mod will;
