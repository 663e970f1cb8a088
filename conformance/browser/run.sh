#!/usr/bin/env bash
# Real-browser proof of MQTT over WebSocket: mqtt.js (bundled dist/mqtt.min.js) in headless Chromium against a
# freshly built Tern on ephemeral loopback ports, over ws:// and wss:// (self-signed development certificate),
# exchanging messages with TCP clients (tern pub/sub). Prints "browser: N passed, N failed" last.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$(mktemp -d)"
tern_pid=""
cleanup() {
  if [[ -n "$tern_pid" ]]; then kill "$tern_pid" 2>/dev/null || true; wait "$tern_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "browser: setup failed: $*" >&2; echo "browser: 0 passed, 1 failed"; exit 1; }

if ! command -v chromium >/dev/null; then
  echo "installing chromium (Debian packages)" >&2
  timeout 600 apt-get update -qq >/dev/null || fail "apt-get update"
  DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq chromium chromium-driver >/dev/null || fail "apt-get install chromium"
fi
command -v node >/dev/null || fail "node is not installed"
(cd "$here" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >/dev/null) || fail "npm ci"

(cd "$root" && timeout 900 cargo build -q -p tern) || fail "cargo build -p tern"
tern="${CARGO_TARGET_DIR:-$root/target}/debug/tern"

# Free loopback ports: bind port 0, read the port, release it (tern binds them right after).
read -r p_tcp p_ws p_wss < <(python3 -c '
import socket
s=[socket.socket() for _ in range(3)]
[x.bind(("127.0.0.1",0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
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
"$tern" --config "$work/tern.toml" >"$work/tern.log" 2>&1 &
tern_pid=$!
for _ in $(seq 1 50); do
  (echo >/dev/tcp/127.0.0.1/"$p_wss") 2>/dev/null && break
  sleep 0.1
done

set +e
(cd "$here" && TERN="$tern" TCP_URL="mqtt://127.0.0.1:$p_tcp" WS_URL="ws://127.0.0.1:$p_ws/mqtt" \
  WSS_URL="wss://localhost:$p_wss/mqtt" timeout 180 node check.js)
status=$?
set -e
if [[ $status -ne 0 ]]; then
  echo "--- tern log ---" >&2; tail -20 "$work/tern.log" >&2
fi
exit $status
