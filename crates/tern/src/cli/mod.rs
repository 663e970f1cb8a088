//! Client-side subcommands of `tern`: thin command lines over `tern-client`, no MQTT logic of their own.

pub mod passwd;
pub mod pubsub;
