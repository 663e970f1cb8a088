#!/usr/bin/env bash
# QoS 1 throughput into durable subscribers (session expiry 3600) with Tern's durability sync / batched / none,
# and Mosquitto with persistence on, in one run with `tern bench`. Loopback, fresh data directories, bounded.
# Usage: scripts/bench-durability.sh [seconds per run, default 5]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-5}"
cargo build --release -q -p tern --locked
tern="${CARGO_TARGET_DIR:-target}/release/tern"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
port=$((20000 + RANDOM % 20000))
bench() {
  "$tern" bench throughput --url "mqtt://127.0.0.1:$port" -q 1 -p 4 -s 4 -w 100 --size 64 \
    --session-expiry 3600 -d "$secs" --client-prefix "$1-" --json
}
wait_port() { for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && return; sleep 0.1; done; exit 1; }
for mode in sync batched none; do
  dir="$work/$mode"; mkdir -p "$dir"
  printf 'data_dir = "%s"\n[log]\nlevel = "warn"\n[[listener]]\ntype = "tcp"\nbind = "127.0.0.1:%s"\n[store]\ndurability = "%s"\n' \
    "$dir" "$port" "$mode" > "$dir/tern.toml"
  "$tern" --config "$dir/tern.toml" & pid=$!
  wait_port
  echo "tern durability=$mode: $(bench "$mode")"
  [ -f "$dir/tern.redb" ] && echo "  store: $(du -h "$dir/tern.redb" | cut -f1)"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
if command -v mosquitto >/dev/null; then
  dir="$work/mosquitto"; mkdir -p "$dir"
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\nautosave_interval 1\nmax_queued_messages 0\nmax_inflight_messages 0\n' \
    "$port" "$dir" > "$dir/mosquitto.conf"
  mosquitto -c "$dir/mosquitto.conf" 2>/dev/null & pid=$!
  wait_port
  echo "mosquitto persistence=true (autosave_interval 1 s): $(bench mosq)"
  kill "$pid"; wait "$pid" 2>/dev/null || true
fi
