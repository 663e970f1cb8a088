#!/usr/bin/env bash
# Side-by-side load comparison: Tern, Mosquitto (Debian package) and rumqttd (crates.io) on loopback, with
# the same `tern bench` runs against each, interleaved (A B C A B C ...) over several rounds, then a table of
# medians with Tern's ratio to each peer and each broker's peak RSS.
#
# Pinned pass: each broker on CPU 0 (taskset -c 0), the load tool on CPU 1. Then an unpinned pass beside it.
# Every broker is started fresh for each run (so peak RSS is per run) and every process the script starts is
# stopped on exit (trap). Every run is bounded by its duration.
#
# Environment (all optional):
#   ROUNDS=3             interleaved rounds in the pinned pass (medians over them)
#   UNPINNED_ROUNDS=1    rounds in the unpinned pass (0 skips it)
#   BENCH_DURATION=10    seconds per run (flood, fan-out, fan-in, latency; conn holds this long)
#   FINDMAX_STEP=2       seconds per find-max step
#   SCENARIOS="tp-q0 tp-q1 flood fanout fanin latency latency20k conn"
#   BROKERS="tern mosquitto rumqttd"
#   CONNS=10000          connections for `conn`
#   OUT=target/bench-compare/<time>   where raw JSON lines and the table go
#   TERN_BIN=...         a prebuilt tern binary (default: cargo build --release -p tern)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-3}
UNPINNED_ROUNDS=${UNPINNED_ROUNDS:-1}
DUR=${BENCH_DURATION:-10}
STEP=${FINDMAX_STEP:-2}
SCENARIOS=${SCENARIOS:-"tp-q0 tp-q1 flood fanout fanin latency latency20k conn"}
BROKERS=${BROKERS:-"tern mosquitto rumqttd"}
CONNS=${CONNS:-10000}
OUT=${OUT:-$ROOT/target/bench-compare/$(date +%Y%m%d-%H%M%S)}
PEERS=$ROOT/target/peers
PORT=${PORT:-28830}
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl
: >"$RESULTS"

PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "compare: $*" >&2; }

# --- peers and Tern -----------------------------------------------------------------------------------------
if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then
    log "installing mosquitto from Debian"
    apt-get update -qq && apt-get install -y -qq mosquitto >/dev/null
fi
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
if [ ! -x "$PEERS/bin/rumqttd" ]; then
    # Not --locked: rumqttd's lock file pins metrics 0.22.1, which current rustc rejects; 0.22.4 builds.
    log "installing rumqttd from crates.io into $PEERS"
    cargo install rumqttd --root "$PEERS" >"$OUT/rumqttd-install.log" 2>&1
fi
if [ -z "${TERN_BIN:-}" ]; then
    (cd "$ROOT" && cargo build --release -p tern >"$OUT/tern-build.log" 2>&1)
    TERN_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/tern
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# --- broker configurations (loopback, anonymous, logs quiet, limits above every scenario) -------------------
cat >"$OUT/tern.toml" <<EOF
[log]
level = "warn"

[[listener]]
type = "tcp"
bind = "127.0.0.1:$PORT"
EOF
cat >"$OUT/mosquitto.conf" <<EOF
listener $PORT 127.0.0.1
allow_anonymous true
max_connections -1
persistence false
log_dest none
EOF
cat >"$OUT/rumqttd.toml" <<EOF
id = 0
[router]
id = 0
max_connections = 20010
max_outgoing_packet_count = 200
max_segment_size = 104857600
max_segment_count = 10

[v4.1]
name = "v4-1"
listen = "127.0.0.1:$PORT"
next_connection_delay_ms = 1
    [v4.1.connections]
    connection_timeout_ms = 60000
    max_payload_size = 20480
    max_inflight_count = 100
    dynamic_filters = true
EOF

BROKER_PID=
start_broker() { # name pinned(0/1)
    local pin=()
    [ "$2" = 1 ] && pin=(taskset -c 0)
    case $1 in
        tern) "${pin[@]}" "$TERN_BIN" --config "$OUT/tern.toml" >>"$OUT/tern.log" 2>&1 & ;;
        mosquitto) "${pin[@]}" "$MOSQUITTO" -c "$OUT/mosquitto.conf" >>"$OUT/mosquitto.log" 2>&1 & ;;
        rumqttd) RUST_LOG=error "${pin[@]}" "$PEERS/bin/rumqttd" -c "$OUT/rumqttd.toml" >>"$OUT/rumqttd.log" 2>&1 & ;;
    esac
    BROKER_PID=$!
    PIDS+=("$BROKER_PID")
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
            sleep 0.2
            return 0
        fi
        sleep 0.1
    done
    log "$1 did not open port $PORT"
    return 1
}

stop_broker() {
    kill "$BROKER_PID" 2>/dev/null || true
    wait "$BROKER_PID" 2>/dev/null || true
    BROKER_PID=
}

status_kib() { # field
    awk -v f="$1:" '$1 == f { print $2 }' "/proc/$BROKER_PID/status" 2>/dev/null || echo 0
}

# `tern bench` arguments of each scenario (MQTT 3.1.1: the level all three brokers serve on one listener).
scenario_args() {
    case $1 in
        tp-q0) echo "find-max -p 4 -s 4 -t prefix/%i -q 0 -r 20000 -d $STEP" ;;
        tp-q1) echo "find-max -p 4 -s 4 -t prefix/%i -q 1 -w 100 -r 20000 -d $STEP" ;;
        flood) echo "throughput -p 4 -s 4 -t prefix/%i -q 0 -d $DUR" ;;
        fanout) echo "fanout --clients 500 -t fan/topic -q 0 -d $DUR" ;;
        fanin) echo "fanin --clients 500 -t fanin/%i -q 0 -d $DUR" ;;
        latency) echo "latency -r 1000 -d $DUR" ;;
        latency20k) echo "latency -r 20000 -d $DUR" ;;
        conn) echo "conn --clients $CONNS -d $DUR" ;;
    esac
}

run_one() { # mode round scenario broker
    local mode=$1 round=$2 sc=$3 broker=$4 pinned=0 tool=()
    [ "$mode" = pinned ] && pinned=1 && tool=(taskset -c 1)
    start_broker "$broker" "$pinned" || return 0
    local base
    base=$(status_kib VmRSS)
    local json
    # shellcheck disable=SC2046
    json=$("${tool[@]}" "$TERN_BIN" bench $(scenario_args "$sc") -V 3 --url "mqtt://127.0.0.1:$PORT" --json \
        2>>"$OUT/bench-stderr.log") || json='{"failed":true}'
    local hwm
    hwm=$(status_kib VmHWM)
    stop_broker
    printf '{"mode":"%s","round":%s,"case":"%s","broker":"%s","base_rss_kib":%s,"peak_rss_kib":%s,"run":%s}\n' \
        "$mode" "$round" "$sc" "$broker" "${base:-0}" "${hwm:-0}" "$json" >>"$RESULTS"
    log "$mode round $round $sc $broker: peak RSS ${hwm:-?} KiB"
}

pass() { # mode rounds
    for round in $(seq "$2"); do
        for sc in $SCENARIOS; do
            for broker in $BROKERS; do
                run_one "$1" "$round" "$sc" "$broker"
            done
        done
    done
}

log "tern: $TERN_BIN; mosquitto: $("$MOSQUITTO" -h 2>/dev/null | head -1); rumqttd: $PEERS/bin/rumqttd"
log "load: $(uptime)"
pass pinned "$ROUNDS"
[ "$UNPINNED_ROUNDS" -gt 0 ] && pass unpinned "$UNPINNED_ROUNDS"
python3 "$ROOT/bench/table.py" "$RESULTS" | tee "$OUT/table.md"
log "raw results: $RESULTS"
