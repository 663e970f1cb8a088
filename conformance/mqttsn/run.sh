#!/usr/bin/env bash
# MQTT-SN interop: drive a third-party MQTT-SN 1.2 client (mqtt-sn-12 from PyPI, with paho-mqtt as the MQTT
# side) against a freshly built Tern whose gateway listens on an ephemeral UDP port. Installs what is missing
# into a venv under target/. Prints `mqttsn-interop: N passed, N failed`.
# Usage: conformance/mqttsn/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../lib.sh"

venv="$tern_target/mqttsn-venv"
ensure_venv "$venv" 'import mqttsn12, paho.mqtt' 'mqtt-sn-12==1.0.9' 'paho-mqtt==2.2.0'
tern="$(build_tern)"
tcp_port="$(free_port tcp)"
sn_port="$(free_port udp)"
work="$(tern_workdir)"
cat > "$work/tern.toml" <<CFG
data_dir = "$work/data"
[log]
level = "warn"
[sys]
interval = 0
[[listener]]
type = "tcp"
bind = "127.0.0.1:$tcp_port"
[[listener]]
type = "mqttsn"
bind = "127.0.0.1:$sn_port"
[listener.mqttsn]
retry_interval = 1
max_retries = 2
[listener.mqttsn.predefined_topics]
"7" = "interop/predefined"
CFG
start_tern "$tern" "$work/tern.toml" "$work/tern.log" "$tcp_port" || { echo "mqttsn-interop: 0 passed, 1 failed"; exit 1; }

timeout 300 "$venv/bin/python" "$here/interop.py" --sn-port "$sn_port" --tcp-port "$tcp_port"
