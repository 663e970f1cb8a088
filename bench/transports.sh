#!/usr/bin/env bash
# Tern over every transport, no peer to compare (issue #10): the 4 -> 4 QoS 0 find-max over mqtt://,
# mqtts://, ws://, wss:// and quic://, and MQTT-SN QoS 0 publishers (UDP) into MQTT subscribers on TCP.
# One broker with all six listeners on loopback, pinned to CPU 0 (taskset), `tern bench` on CPU 1; prints a
# Markdown table (highest rate sustained without loss and with p99 under 50 ms, its p99, the broker's peak
# RSS) and stops the broker on exit. Every run is bounded by its steps.
# Environment: FINDMAX_STEP=2 (seconds per step), START_RATE=20000, TERN_BIN (default: release build),
#              OUT=target/bench-transports/<time>.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/conformance/lib.sh"
STEP=${FINDMAX_STEP:-2}
START=${START_RATE:-20000}
OUT=${OUT:-$tern_target/bench-transports/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
if [ -z "${TERN_BIN:-}" ]; then
    (cd "$ROOT" && cargo build --release --locked -q -p tern)
    TERN_BIN=$tern_target/release/tern
fi
work=$(tern_workdir)
tcp=$(free_port); tls=$(free_port); ws=$(free_port); wss=$(free_port); quic=$(free_port udp); sn=$(free_port udp)
cat >"$work/tern.toml" <<CFG
data_dir = "$work/data"
[log]
level = "warn"
[[listener]]
type = "tcp"
bind = "127.0.0.1:$tcp"
[[listener]]
type = "tls"
bind = "127.0.0.1:$tls"
[[listener]]
type = "ws"
bind = "127.0.0.1:$ws"
[[listener]]
type = "wss"
bind = "127.0.0.1:$wss"
[[listener]]
type = "quic"
bind = "127.0.0.1:$quic"
[[listener]]
type = "mqttsn"
bind = "127.0.0.1:$sn"
[listener.mqttsn]
# The default flood control (2,000 datagrams/s per sensor) would be the limit, not the gateway.
rate_per_client = 10000000
CFG
taskset -c 0 "$TERN_BIN" --config "$work/tern.toml" >"$OUT/tern.log" 2>&1 &
pid=$!
tern_track "$pid"
wait_port "$tcp"
ca="$work/data/tls/dev-cert.pem"
for _ in $(seq 50); do [ -s "$ca" ] && break; sleep 0.1; done

bench() { # label, bench arguments...
    local label=$1; shift
    taskset -c 1 "$TERN_BIN" bench find-max -p 4 -q 0 -r "$START" -d "$STEP" -V 3 --cafile "$ca" --json \
        --client-prefix "$label" "$@" >"$OUT/$label.json" 2>>"$OUT/bench-stderr.log" || echo '{"failed":true}' >"$OUT/$label.json"
    echo "$label" >>"$OUT/order"
}
bench mqtt -s 4 -t 'tp/%i' -f 'tp/+' --url "mqtt://127.0.0.1:$tcp"
bench mqtts -s 4 -t 'tp/%i' -f 'tp/+' --url "mqtts://localhost:$tls"
bench ws -s 4 -t 'tp/%i' -f 'tp/+' --url "ws://127.0.0.1:$ws/mqtt"
bench wss -s 4 -t 'tp/%i' -f 'tp/+' --url "wss://localhost:$wss/mqtt"
bench quic -s 4 -t 'tp/%i' -f 'tp/+' --url "quic://localhost:$quic"
bench mqttsn -t 'sn/%i' -f 'sn/+' -s 1 --url "mqtt://127.0.0.1:$tcp" --pub-url "mqttsn://127.0.0.1:$sn"
peak=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$pid/status")

python3 - "$OUT" "$peak" <<'PY' | tee "$OUT/table.md"
import json, sys, os
out, peak = sys.argv[1], int(sys.argv[2] or 0)
print("| transport | max sustained pub/s (QoS 0) | deliveries/s | p99 µs at that rate |")
print("|---|---|---|---|")
for label in open(os.path.join(out, "order")).read().split():
    r = json.load(open(os.path.join(out, label + ".json")))
    if r.get("failed"):
        print(f"| {label} | failed (see bench-stderr.log) | | |")
        continue
    name = label if label != "mqttsn" else "mqttsn -> mqtt (4 sensors, 1 subscriber)"
    lat = r.get("latency_us") or {}
    print(f"| {name} | {r.get('target_rate', 0):,} | {r.get('delivery_rate', 0):,.0f} | {lat.get('p99', 0):,} |")
print(f"\nbroker peak RSS over all runs: {peak / 1024:.1f} MiB")
PY
