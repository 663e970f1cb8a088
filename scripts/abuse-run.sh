#!/usr/bin/env bash
# The abuse run (issue #9): starts `tern serve` on loopback with limits set, measures a normal client's
# end-to-end latency alone (baseline), then again while `tern bench abuse` opens SILENT connections that never
# send CONNECT, floods malformed and oversize packets, publishes far over the rate and stops reading as a
# subscriber; samples the broker's RSS from /proc during both, prints a report with the broker's
# $SYS/broker/limits/ counters, and stops every process it started.
#
# Knobs (environment): DURATION (seconds per run, default 20), SILENT (default 10000), RATE (normal client's
# publishes/s, default 200), CONNECT_TIMEOUT (the broker's CONNECT deadline in seconds, default 5: silent
# connections are closed and reopened every 5 s; above DURATION they are only held), PORT (default 21883),
# OUT (directory for logs and JSON, default a temp dir).
set -euo pipefail

DURATION=${DURATION:-20}
SILENT=${SILENT:-10000}
RATE=${RATE:-200}
CONNECT_TIMEOUT=${CONNECT_TIMEOUT:-5}
PORT=${PORT:-21883}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$(mktemp -d /tmp/tern-abuse.XXXXXX)}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
TERN=$TARGET/release/tern
mkdir -p "$OUT"

pids=()
cleanup() {
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT

(cd "$ROOT" && cargo build --release --locked -q -p tern)

# 10,000 silent connections need that many descriptors in the broker and in the tool.
want=$((SILENT + 2000))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then
    echo "warning: the hard fd limit is $hard; SILENT=$SILENT needs about $want (lowering SILENT)" >&2
    SILENT=$((hard - 2000))
    want=$hard
fi
ulimit -n "$want"

cat >"$OUT/tern.toml" <<EOF
data_dir = "$OUT/data"
[log]
level = "warn"
[store]
durability = "none"
[limits]
connect_timeout = $CONNECT_TIMEOUT
write_timeout = 5
max_packet_size = 65536
publish_rate = 1000
max_connections_per_ip = 1000
max_connections = 50000
[sys]
interval = 1
[[listener]]
type = "tcp"
bind = "127.0.0.1:$PORT"
connection_rate = 5000
handshake_timeout = 5
max_connections = 50000
EOF
"$TERN" check-config "$OUT/tern.toml" >/dev/null

"$TERN" --config "$OUT/tern.toml" 2>"$OUT/broker.log" &
broker=$!
pids+=("$broker")
for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    sleep 0.05
done

# Samples the broker's RSS (KiB) every 0.5 s into $1 until killed.
sample_rss() {
    while true; do
        awk '/^VmRSS/ {print $2}' "/proc/$broker/status" >>"$1" 2>/dev/null || return
        sleep 0.5
    done
}
peak() { sort -n "$1" | tail -1; }

url="mqtt://127.0.0.1:$PORT"
common=(--url "$url" -r "$RATE" -d "$DURATION" --size 64 -q 1 --json)

echo "baseline: normal client alone, $RATE/s for ${DURATION}s" >&2
sample_rss "$OUT/rss-baseline" & s=$!; pids+=("$s")
"$TERN" bench latency "${common[@]}" >"$OUT/baseline.json"
kill "$s"; wait "$s" 2>/dev/null || true

echo "abuse: the same client with $SILENT silent connections and the rest, ${DURATION}s" >&2
sample_rss "$OUT/rss-abuse" & s=$!; pids+=("$s")
"$TERN" bench abuse "${common[@]}" --clients "$SILENT" --source-addrs 127.0.0.2-127.0.0.41 >"$OUT/abuse.json"
kill "$s"; wait "$s" 2>/dev/null || true
sleep 2
"$TERN" sub -u "$url" -t '$SYS/broker/limits/#' -t '$SYS/broker/clients/connected' -t '$SYS/broker/messages/dropped' \
    -v -C 6 -W 5 >"$OUT/sys.txt" || true

field() { grep -o "\"$2\":[0-9.a-z]*" "$1" | head -1 | cut -d: -f2; }
lat() { grep -o '"latency_us":{[^}]*}' "$1" | sed 's/"latency_us"://'; }
echo
echo "== tern abuse run: $(date -u +%F), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) =="
echo "normal client: $RATE/s QoS 1 64 B, end-to-end latency µs"
echo "  baseline: $(lat "$OUT/baseline.json")  lost $(field "$OUT/baseline.json" lost)"
echo "  abuse:    $(lat "$OUT/abuse.json")  lost $(field "$OUT/abuse.json" lost)"
echo "broker RSS: baseline peak $(($(peak "$OUT/rss-baseline") / 1024)) MiB, abuse peak $(($(peak "$OUT/rss-abuse") / 1024)) MiB"
echo "abuse: $(grep -o '"abuse":{[^}]*}' "$OUT/abuse.json" | sed 's/"abuse"://')"
echo "broker counters:"
sed 's/^/  /' "$OUT/sys.txt"
echo "broker log: $(grep -c 'connection_rate' "$OUT/broker.log" || true) connection_rate lines, $(grep -c 'stopped reading' "$OUT/broker.log" || true) write_timeout closes, $(grep -ci 'panic' "$OUT/broker.log" || true) panics"
echo "files: $OUT"
