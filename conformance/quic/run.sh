#!/usr/bin/env bash
# MQTT-over-QUIC interop with an independent QUIC stack: aioquic (PyPI) as the client, speaking MQTT 5 on one
# bidirectional stream, against a freshly built Tern with a TCP and a QUIC listener on ephemeral loopback
# ports; mosquitto_pub and paho-mqtt are the TCP peers. Installs what is missing (a venv under target/,
# mosquitto-clients from Debian). Prints `quic-interop: N passed, N failed`.
# Usage: conformance/quic/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../lib.sh"

venv="$tern_target/quic-venv"
ensure_venv "$venv" 'import aioquic, paho.mqtt; assert aioquic.__version__ == "1.7.2"' 'aioquic==1.7.2' 'paho-mqtt==2.2.0'
ensure_debian mosquitto_pub mosquitto-clients
tern="$(build_tern)"
tcp_port="$(free_port tcp)"
quic_port="$(free_port udp)"
work="$(tern_workdir)"
log="$work/tern.log"
cat > "$work/tern.toml" <<CFG
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
cafile="$work/data/tls/dev-cert.pem"
if ! start_tern "$tern" "$work/tern.toml" "$log" "$tcp_port" || [ ! -s "$cafile" ]; then
  echo "quic-interop: tern did not start (or wrote no $cafile)"
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
