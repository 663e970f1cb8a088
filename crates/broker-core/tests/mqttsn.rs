//! MQTT-SN gateway scenarios with simulated sensors on a fake clock: every flow `SnGateway` implements,
//! driven through datagrams, with MQTT clients on the same core where a flow crosses protocols.

#[path = "mqttsn/harness.rs"]
mod harness;

#[path = "mqttsn/connect.rs"]
mod connect;
#[path = "mqttsn/cross.rs"]
mod cross;
#[path = "mqttsn/durable.rs"]
mod durable;
#[path = "mqttsn/forwarder.rs"]
mod forwarder;
#[path = "mqttsn/hostile.rs"]
mod hostile;
#[path = "mqttsn/publish.rs"]
mod publish;
#[path = "mqttsn/sleep.rs"]
mod sleep;
#[path = "mqttsn/subscribe.rs"]
mod subscribe;
