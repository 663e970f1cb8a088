//! Tern's MQTT-over-QUIC listener (EMQX-compatible) (being built).
