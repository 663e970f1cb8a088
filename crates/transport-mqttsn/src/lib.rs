//! Tern's MQTT-SN 1.2 gateway UDP listener (being built).
