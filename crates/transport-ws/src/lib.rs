//! Tern's MQTT-over-WebSocket listener (ws and wss) (being built).
