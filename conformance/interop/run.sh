#!/usr/bin/env bash
# Interop: drive real third-party clients (Python paho-mqtt from PyPI, mosquitto_pub/mosquitto_sub from
# Debian) against a freshly built Tern on a loopback port, at both protocol levels. Installs what is missing.
# Usage: conformance/interop/run.sh            (builds and starts Tern itself)
#        TERN_INTEROP_PORT=1883 conformance/interop/run.sh   (against a broker already listening on 127.0.0.1)
#        (add TERN_INTEROP_SCRAM_USER and TERN_INTEROP_SCRAM_PASSWORD to run scram.py against it too)
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
  # A SCRAM-SHA-256 user for scram.py (anonymous loopback clients are still admitted for interop.py).
  passwd="$work/passwd"
  TERN_INTEROP_SCRAM_USER="${TERN_INTEROP_SCRAM_USER:-interop}"
  TERN_INTEROP_SCRAM_PASSWORD="${TERN_INTEROP_SCRAM_PASSWORD:-interop-pw}"
  "$tern" passwd add --scram "$passwd" "$TERN_INTEROP_SCRAM_USER" --password "$TERN_INTEROP_SCRAM_PASSWORD"
  cat > "$work/tern.toml" <<CFG
data_dir = "$work/data"
[log]
level = "warn"
[auth]
password_file = "$passwd"
[sys]
interval = 1
[[listener]]
type = "tcp"
bind = "127.0.0.1:$port"
CFG
  start_tern "$tern" "$work/tern.toml" "$work/tern.log" "$port"
fi

status=0
"$venv/bin/python" "$here/interop.py" --port "$port" || status=1
# SCRAM-SHA-256 enhanced authentication by an independent implementation (standard library only); against an
# external broker only when it was given a SCRAM user.
if [ -n "${TERN_INTEROP_SCRAM_USER:-}" ]; then
  "$venv/bin/python" "$here/scram.py" --port "$port" --user "$TERN_INTEROP_SCRAM_USER" \
    --password "${TERN_INTEROP_SCRAM_PASSWORD:?set TERN_INTEROP_SCRAM_PASSWORD too}" || status=1
fi
exit "$status"
