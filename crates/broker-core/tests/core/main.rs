//! Core scenarios with simulated clients on a fake clock: every MQTT flow the broker core implements.

mod harness;

mod abuse;
mod auth;
mod backpressure;
mod connect;
mod hooks;
mod limits;
mod qos;
mod session;
mod shared;
mod subscribe;
mod will;
