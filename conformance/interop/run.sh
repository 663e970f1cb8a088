#!/usr/bin/env bash
# Interop: drive real third-party clients (Python paho-mqtt from PyPI, mosquitto_pub/mosquitto_sub from
# Debian) against a freshly built Tern on a loopback port, at both protocol levels. Installs what is missing.
# Usage: conformance/interop/run.sh            (builds and starts Tern itself)
#        TERN_INTEROP_PORT=1883 conformance/interop/run.sh   (against a broker already listening on 127.0.0.1)
#        (add TERN_INTEROP_SCRAM_USER and TERN_INTEROP_SCRAM_PASSWORD to run scram.py against it too)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

if ! command -v mosquitto_pub >/dev/null 2>&1; then
  echo "interop: installing mosquitto-clients from Debian"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq >/dev/null && apt-get install -y -qq mosquitto-clients >/dev/null
  else sudo apt-get update -qq >/dev/null && sudo apt-get install -y -qq mosquitto-clients >/dev/null; fi
fi

venv="$root/target/interop-venv"
if ! "$venv/bin/python" -c 'import paho.mqtt' 2>/dev/null; then
  echo "interop: installing paho-mqtt from PyPI into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'paho-mqtt==2.2.0'
fi

started=""
cleanup() { if [ -n "$started" ]; then kill "$started" 2>/dev/null || true; wait "$started" 2>/dev/null || true; fi; }
trap cleanup EXIT

port="${TERN_INTEROP_PORT:-}"
if [ -z "$port" ]; then
  cargo build -q -p tern
  port="$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  cfg="$(mktemp)"
  # A SCRAM-SHA-256 user for scram.py (anonymous loopback clients are still admitted for interop.py).
  passwd="$(mktemp)"
  rm -f "$passwd"
  TERN_INTEROP_SCRAM_USER="${TERN_INTEROP_SCRAM_USER:-interop}"
  TERN_INTEROP_SCRAM_PASSWORD="${TERN_INTEROP_SCRAM_PASSWORD:-interop-pw}"
  "$root/target/debug/tern" passwd add --scram "$passwd" "$TERN_INTEROP_SCRAM_USER" \
    --password "$TERN_INTEROP_SCRAM_PASSWORD"
  cat > "$cfg" <<CFG
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
  "$root/target/debug/tern" --config "$cfg" &
  started=$!
  for _ in $(seq 1 100); do
    if "$venv/bin/python" -c "import socket; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null; then break; fi
    sleep 0.1
  done
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
