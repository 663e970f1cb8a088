#!/usr/bin/env bash
# MQTT-SN interop: drive a third-party MQTT-SN 1.2 client (mqtt-sn-12 from PyPI, with paho-mqtt as the MQTT
# side) against a freshly built Tern whose gateway listens on an ephemeral UDP port. Installs what is missing
# into a venv under target/. Prints `mqttsn-interop: N passed, N failed`.
# Usage: conformance/mqttsn/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

venv="$root/target/mqttsn-venv"
if ! "$venv/bin/python" -c 'import mqttsn12, paho.mqtt' 2>/dev/null; then
  echo "mqttsn-interop: installing mqtt-sn-12 and paho-mqtt from PyPI into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'mqtt-sn-12==1.0.9' 'paho-mqtt==2.2.0'
fi

cargo build -q -p tern
free_port() { "$venv/bin/python" -c "import socket; s=socket.socket(socket.AF_INET, socket.$1); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
tcp_port="$(free_port SOCK_STREAM)"
sn_port="$(free_port SOCK_DGRAM)"
work="$(mktemp -d)"
cfg="$work/tern.toml"
log="$work/tern.log"
cat > "$cfg" <<CFG
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
"$root/target/debug/tern" --config "$cfg" 2>"$log" &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  if "$venv/bin/python" -c "import socket; socket.create_connection(('127.0.0.1',$tcp_port),0.2)" 2>/dev/null; then break; fi
  sleep 0.1
done
if ! kill -0 "$pid" 2>/dev/null; then
  echo "mqttsn-interop: tern did not start:"; cat "$log"; exit 1
fi

timeout 300 "$venv/bin/python" "$here/interop.py" --sn-port "$sn_port" --tcp-port "$tcp_port"
