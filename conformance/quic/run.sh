#!/usr/bin/env bash
# MQTT-over-QUIC interop with an independent QUIC stack: aioquic (PyPI) as the client, speaking MQTT 5 on one
# bidirectional stream, against a freshly built Tern with a TCP and a QUIC listener on ephemeral loopback
# ports; mosquitto_pub and paho-mqtt are the TCP peers. Installs what is missing (a venv under target/,
# mosquitto-clients from Debian). Prints `quic-interop: N passed, N failed`.
# Usage: conformance/quic/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

venv="$root/target/quic-venv"
if ! "$venv/bin/python" -c 'import aioquic, paho.mqtt; assert aioquic.__version__ == "1.7.2"' 2>/dev/null; then
  echo "quic-interop: installing aioquic and paho-mqtt from PyPI into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'aioquic==1.7.2' 'paho-mqtt==2.2.0'
fi
if ! command -v mosquitto_pub >/dev/null; then
  echo "quic-interop: installing mosquitto-clients"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto-clients >/dev/null
fi

cargo build -q -p tern
free_port() { "$venv/bin/python" -c "import socket; s=socket.socket(socket.AF_INET, socket.$1); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
tcp_port="$(free_port SOCK_STREAM)"
quic_port="$(free_port SOCK_DGRAM)"
work="$(mktemp -d)"
cfg="$work/tern.toml"
log="$work/tern.log"
cat > "$cfg" <<CFG
data_dir = "$work/data"
[log]
level = "info"
[sys]
interval = 0
[[listener]]
type = "tcp"
bind = "127.0.0.1:$tcp_port"
[[listener]]
type = "quic"
bind = "127.0.0.1:$quic_port"
CFG
"$root/target/debug/tern" --config "$cfg" 2>"$log" &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  if "$venv/bin/python" -c "import socket; socket.create_connection(('127.0.0.1',$tcp_port),0.2)" 2>/dev/null; then break; fi
  sleep 0.1
done
cafile="$work/data/tls/dev-cert.pem"
if ! kill -0 "$pid" 2>/dev/null || [ ! -s "$cafile" ]; then
  echo "quic-interop: tern did not start (or wrote no $cafile):"; cat "$log"
  echo "quic-interop: 0 passed, 1 failed"
  exit 1
fi

status=0
timeout 60 "$venv/bin/python" "$here/quic_interop.py" --quic-port "$quic_port" --tcp-port "$tcp_port" \
  --cafile "$cafile" || status=$?
if [ "$status" -ne 0 ]; then
  if [ "$status" -eq 124 ]; then echo "quic-interop: timed out after 60 s"; echo "quic-interop: 0 passed, 1 failed"; fi
  echo "quic-interop: tern log (warnings and up):"
  sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -v ' INFO ' | tail -n 40 || true
fi
exit "$status"
