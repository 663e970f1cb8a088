#!/usr/bin/env bash
# Real-browser proof of MQTT over WebSocket: mqtt.js (bundled dist/mqtt.min.js) in headless Chromium against a
# freshly built Tern on ephemeral loopback ports, over ws:// and wss:// (self-signed development certificate),
# exchanging messages with TCP clients (tern pub/sub). Prints "browser: N passed, N failed" last.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../lib.sh"
fail() { echo "browser: setup failed: $*" >&2; echo "browser: 0 passed, 1 failed"; exit 1; }

ensure_debian chromium chromium chromium-driver || fail "apt-get install chromium"
command -v node >/dev/null || fail "node is not installed"
(cd "$here" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >/dev/null) || fail "npm ci"

tern="$(build_tern)" || fail "cargo build -p tern"
work="$(tern_workdir)"
p_tcp="$(free_port)"; p_ws="$(free_port)"; p_wss="$(free_port)"
cat > "$work/tern.toml" <<CONF
data_dir = "$work/data"
[log]
level = "warn"
[[listener]]
type = "tcp"
bind = "127.0.0.1:$p_tcp"
[[listener]]
type = "ws"
bind = "127.0.0.1:$p_ws"
[[listener]]
type = "wss"
bind = "127.0.0.1:$p_wss"
CONF
start_tern "$tern" "$work/tern.toml" "$work/tern.log" "$p_wss" || fail "tern did not start"

set +e
(cd "$here" && TERN="$tern" TCP_URL="mqtt://127.0.0.1:$p_tcp" WS_URL="ws://127.0.0.1:$p_ws/mqtt" \
  WSS_URL="wss://localhost:$p_wss/mqtt" timeout 180 node check.js)
status=$?
set -e
if [[ $status -ne 0 ]]; then
  echo "--- tern log ---" >&2; tail -20 "$work/tern.log" >&2
fi
exit $status
