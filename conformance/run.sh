#!/usr/bin/env bash
# Runs the conformance suite (tern-conformance) in CI:
#   1. against Tern, built from this tree, on every transport it has (ephemeral loopback ports) and its MQTT-SN
#      gateway: every applicable statement must pass;
#   2. against Mosquitto from Debian (installed if missing): its verdicts must equal the committed expected results
#      (conformance/expected/mosquitto-<version>.json), so a change in what the suite reports is noticed.
# Ends with "conformance: N passed, N failed" (Tern's run). Non-zero exit on any failure or difference.
# Set CONFORMANCE_SKIP_MOSQUITTO=1 to run only against Tern; CONFORMANCE_UPDATE_EXPECTED=1 rewrites the expected file.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
root="$tern_root"
cd "$root"
work="$(tern_workdir)"

tern="$(build_tern tern-conformance)"
suite="$tern_target/debug/tern-conformance"
denied="tern-conformance-denied/x"

status=0
passed=0
failed=0

# --- Tern -------------------------------------------------------------------------------------------------------
# One listener per transport; TLS-based ones use Tern's development certificate (generated into data_dir).
if [ "${CONFORMANCE_SKIP_TERN:-0}" != 1 ]; then
tcp_port="$(free_port)"; tls_port="$(free_port)"; ws_port="$(free_port)"; wss_port="$(free_port)"
quic_port="$(free_port udp)"; sn_port="$(free_port udp)"
cat > "$work/tern.toml" <<CFG
data_dir = "$work/tern-data"
[log]
level = "error"
[subscribe]
denied_filters = ["$denied"]
[[listener]]
type = "tcp"
bind = "127.0.0.1:$tcp_port"
[[listener]]
type = "tls"
bind = "127.0.0.1:$tls_port"
[[listener]]
type = "ws"
bind = "127.0.0.1:$ws_port"
path = "/mqtt"
[[listener]]
type = "wss"
bind = "127.0.0.1:$wss_port"
path = "/mqtt"
[[listener]]
type = "quic"
bind = "127.0.0.1:$quic_port"
[[listener]]
type = "mqttsn"
bind = "127.0.0.1:$sn_port"
CFG
start_tern "$tern" "$work/tern.toml" "$work/tern.log" "$tcp_port"
for p in "$tls_port" "$ws_port" "$wss_port"; do wait_port "$p"; done
ca="$work/tern-data/tls/dev-cert.pem"
for _ in $(seq 1 50); do [ -s "$ca" ] && break; sleep 0.1; done

for url in "mqtt://127.0.0.1:$tcp_port" "mqtts://localhost:$tls_port" "ws://127.0.0.1:$ws_port/mqtt" \
           "wss://localhost:$wss_port/mqtt" "quic://localhost:$quic_port"; do
  name="$(echo "$url" | cut -d: -f1)"
  echo "conformance: Tern at $url"
  if ! "$suite" "$url" --cafile "$ca" --denied-filter "$denied" --jobs 12 \
       --json "$work/tern-$name.json" --junit "$work/tern-$name-junit.xml"; then
    status=1
  fi
  read -r p f < <(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["totals"]; print(t["pass"], t["fail"])' "$work/tern-$name.json")
  passed=$((passed + p)); failed=$((failed + f))
done

echo "conformance: Tern's MQTT-SN gateway at mqttsn://127.0.0.1:$sn_port"
if ! "$suite" "mqttsn://127.0.0.1:$sn_port" --mqtt-url "mqtt://127.0.0.1:$tcp_port" \
     --json "$work/tern-sn.json" --junit "$work/tern-sn-junit.xml"; then
  status=1
fi
read -r p f < <(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["totals"]; print(t["pass"], t["fail"])' "$work/tern-sn.json")
passed=$((passed + p)); failed=$((failed + f))
fi

# --- Mosquitto --------------------------------------------------------------------------------------------------
if [ "${CONFORMANCE_SKIP_MOSQUITTO:-0}" != 1 ]; then
  [ -x /usr/sbin/mosquitto ] || ensure_debian mosquitto mosquitto
  mosquitto_bin="$(command -v mosquitto || echo /usr/sbin/mosquitto)"
  version="$( ("$mosquitto_bin" -h 2>/dev/null || true) | sed -n "s/^mosquitto version \([0-9.]*\).*/\1/p" | head -1)"
  expected="$here/expected/mosquitto-$version.json"
  m_port="$(free_port)"
  cat > "$work/mosquitto.conf" <<CFG
listener $m_port 127.0.0.1
allow_anonymous true
persistence false
log_dest none
CFG
  # Mosquitto 2.0 grants every SUBSCRIBE and applies its ACL at delivery, so it has no refused filter to offer:
  # the SUBACK failure statements are "not applicable" there (no --denied-filter).
  # Mosquitto 2.0 checks keep alives only every few seconds, so whether it closes a silent client within the
  # suite's bound (1.5 x keep alive + the step timeout) depends on timing: those statements are skipped for it.
  mosq_args=(--skip 5.0:MQTT-3.1.2-22 --skip 5.0:MQTT-3.2.2-22 --skip 3.1.1:MQTT-3.1.2-24)
  # Run as root, Mosquitto drops to its own user: it must be able to read the files.
  chmod a+rx "$work"; chmod a+r "$work/mosquitto.conf"
  "$mosquitto_bin" -c "$work/mosquitto.conf" &
  tern_track $!
  wait_port "$m_port"
  echo "conformance: Mosquitto $version at mqtt://127.0.0.1:$m_port (expected results: ${expected#$root/})"
  if [ "${CONFORMANCE_UPDATE_EXPECTED:-0}" = 1 ] || [ ! -f "$expected" ]; then
    "$suite" "mqtt://127.0.0.1:$m_port" "${mosq_args[@]}" --json "$work/m.json" >/dev/null || true
    python3 - "$work/m.json" "$expected" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r["target"] = "mosquitto (Debian)"
for x in r["results"]:
    x["ms"] = 0
json.dump(r, open(sys.argv[2], "w"), indent=2)
open(sys.argv[2], "a").write("\n")
PY
    echo "conformance: wrote $expected; review and commit it"
  elif ! "$suite" "mqtt://127.0.0.1:$m_port" "${mosq_args[@]}" --expect "$expected" >"$work/m.txt"; then
    cat "$work/m.txt"
    echo "conformance: Mosquitto's verdicts differ from ${expected#$root/}" >&2
    status=1
  fi
fi

echo "conformance: $passed passed, $failed failed"
exit "$status"
