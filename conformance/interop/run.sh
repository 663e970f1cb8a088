#!/usr/bin/env bash
# Interop: drive real third-party clients (Python paho-mqtt from PyPI, mosquitto_pub/mosquitto_sub from
# Debian) against a freshly built Tern on a loopback port, at both protocol levels. Installs what is missing.
# Usage: conformance/interop/run.sh            (builds and starts Tern itself)
#        TERN_INTEROP_PORT=1883 conformance/interop/run.sh   (against a broker already listening on 127.0.0.1)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../lib.sh"

ensure_debian mosquitto_pub mosquitto-clients
venv="$tern_target/interop-venv"
ensure_venv "$venv" 'import paho.mqtt' 'paho-mqtt==2.2.0'

port="${TERN_INTEROP_PORT:-}"
if [ -z "$port" ]; then
  tern="$(build_tern)"
  port="$(free_port)"
  work="$(tern_workdir)"
  cat > "$work/tern.toml" <<CFG
data_dir = "$work/data"
[log]
level = "warn"
[sys]
interval = 1
[[listener]]
type = "tcp"
bind = "127.0.0.1:$port"
CFG
  start_tern "$tern" "$work/tern.toml" "$work/tern.log" "$port"
fi

"$venv/bin/python" "$here/interop.py" --port "$port"
