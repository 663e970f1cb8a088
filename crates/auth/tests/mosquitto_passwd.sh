#!/usr/bin/env bash
# A password file made by Mosquitto's own mosquitto_passwd ($7$ PBKDF2-SHA512 and $6$ SHA-512 entries), used
# by a running Tern over a real socket with mosquitto_pub/mosquitto_sub, edited by `tern passwd` (picked up
# by the broker without a restart), then edited again by mosquitto_passwd. Also: an ACL denial seen by a
# real client, and a JWT whose claim picks the ACL rule. Installs Debian's mosquitto and mosquitto-clients if missing. Run by scripts/test.sh.
set -euo pipefail
source "$(dirname "$0")/../../../conformance/lib.sh"
root="$tern_root"
cd "$root"

ensure_debian mosquitto_passwd mosquitto mosquitto-clients
ensure_debian mosquitto_pub mosquitto-clients
tern="$(build_tern)"
work="$(tern_workdir)"
passed=0
failed=0
check() { # check NAME CMD...: the command must succeed
  local name="$1"; shift
  if "$@" >"$work/out" 2>&1; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $name"; cat "$work/out"; fi
}
refuse() { # refuse NAME CMD...: the command must fail
  local name="$1"; shift
  if "$@" >"$work/out" 2>&1; then failed=$((failed + 1)); echo "FAIL (succeeded): $name"; cat "$work/out"; else passed=$((passed + 1)); fi
}

pw="$work/passwd"
mosquitto_passwd -c -b "$pw" alice alice-pw
mosquitto_passwd -b "$pw" bob bob-pw
mosquitto_passwd -H sha512 -b "$pw" carol carol-pw
check "mosquitto_passwd wrote \$7\$ and \$6\$ entries" grep -q '^carol:\$6\$' "$pw"
check "alice is \$7\$" grep -q '^alice:\$7\$' "$pw"
check "tern passwd verify (\$7\$)" "$tern" passwd verify "$pw" alice --password alice-pw
refuse "tern passwd verify, wrong password" "$tern" passwd verify "$pw" alice --password nope

cat > "$work/acl.toml" <<ACL
default = "deny"
[[rule]]
permission = "deny"
action = "subscribe"
topics = ["secret/#"]
[[rule]]
permission = "allow"
action = "subscribe"
topics = ["tenants/%{claim:tenant}/#"]
[[rule]]
permission = "deny"
action = "subscribe"
topics = ["tenants/#"]
[[rule]]
permission = "allow"
topics = ["#"]
ACL
printf '0123456789abcdef0123456789abcdef\n' > "$work/jwt.secret"
# token SECONDS_TO_EXPIRY [KEY]: an HS256 JWT for user svc of tenant acme.
token() {
  python3 - "$1" "${2:-0123456789abcdef0123456789abcdef}" <<'PY'
import base64, hashlib, hmac, json, sys, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = b64(json.dumps({"sub": "svc", "aud": "tern", "tenant": "acme", "exp": int(time.time()) + int(sys.argv[1])}).encode())
sig = b64(hmac.new(sys.argv[2].encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
print(f"{head}.{body}.{sig}")
PY
}
port="$(free_port)"
cat > "$work/tern.toml" <<CFG
[log]
level = "info"
[auth]
password_file = "$pw"
acl_file = "$work/acl.toml"
ban_file = "$work/bans.toml"
reload_interval = 1
[auth.jwt]
algorithm = "HS256"
key_file = "$work/jwt.secret"
audience = ["tern"]
leeway = 0
[[listener]]
type = "tcp"
bind = "127.0.0.1:$port"
CFG
printf 'client_ids = ["bad-device-17"]\nusernames = []\nnetworks = []\n' > "$work/bans.toml"
start_tern "$tern" "$work/tern.toml" "$work/tern.log" "$port"
check "start-up line says what is open to whom" grep -q "security: tcp:127.0.0.1:$port: anonymous from loopback only" "$work/tern.log"

pub() { timeout 10 mosquitto_pub -h 127.0.0.1 -p "$port" -t t -m x "$@"; }
check "alice (\$7\$), MQTT 5" pub -V mqttv5 -u alice -P alice-pw
check "alice (\$7\$), MQTT 3.1.1" pub -V mqttv311 -u alice -P alice-pw
check "carol (\$6\$)" pub -u carol -P carol-pw
refuse "wrong password" pub -u alice -P wrong
refuse "unknown user" pub -u mallory -P x
refuse "user name without password" pub -u alice
check "anonymous from loopback" pub

# tern passwd edits the Mosquitto-made file; the broker reloads it.
check "tern passwd update" "$tern" passwd update "$pw" alice --password alice-new
check "tern passwd add (stdin)" sh -c "echo dave-pw | '$tern' passwd add '$pw' dave"
check "tern passwd delete" "$tern" passwd delete "$pw" bob
printf 'erin:erin-pw\nfrank:frank-pw\n' > "$work/batch"
check "tern passwd batch" "$tern" passwd batch "$pw" "$work/batch"
check "untouched \$6\$ entry kept byte for byte" grep -q '^carol:\$6\$' "$pw"
for _ in $(seq 1 50); do pub -u dave -P dave-pw >/dev/null 2>&1 && break; sleep 0.2; done
check "dave (added, argon2id)" pub -u dave -P dave-pw
check "alice, new password" pub -u alice -P alice-new
refuse "alice, old password" pub -u alice -P alice-pw
refuse "bob, deleted" pub -u bob -P bob-pw
check "erin (batch)" pub -u erin -P erin-pw
check "carol still (\$6\$)" pub -u carol -P carol-pw

# Mosquitto still reads and edits the file Tern wrote.
check "mosquitto_passwd edits tern's file" mosquitto_passwd -b "$pw" grace grace-pw
for _ in $(seq 1 50); do pub -u grace -P grace-pw >/dev/null 2>&1 && break; sleep 0.2; done
check "grace (added by mosquitto_passwd after tern)" pub -u grace -P grace-pw
check "tern passwd list" sh -c "'$tern' passwd list '$pw' | grep -q '^dave	argon2'"

# ACL: a denied subscription is refused (SUBACK 0x87 on MQTT 5); an allowed one gets the message.
check "subscribe denied by the ACL" sh -c "timeout 10 mosquitto_sub -h 127.0.0.1 -p $port -V mqttv5 -u alice \
  -P alice-new -t secret/x -C 1 -W 3 2>&1 | grep -q 'All subscription requests were denied'"
check "denial logged" grep -q "ACL denied" "$work/tern.log"

# JWT in the password field; its tenant claim in an ACL pattern.
check "JWT (HS256), MQTT 5" pub -V mqttv5 -P "$(token 60)"
check "JWT with its own user name" pub -u svc -P "$(token 60)"
refuse "JWT with another user name" pub -u alice -P "$(token 60)"
refuse "expired JWT" pub -P "$(token -5)"
refuse "JWT signed with another key" pub -P "$(token 60 another-key-of-thirty-two-bytes!!)"
check "retained for the tenant" timeout 10 mosquitto_pub -h 127.0.0.1 -p "$port" -u alice -P alice-new -r \
  -t tenants/acme/x -m hello
check "tenant subscribes to its own topics (%{claim:tenant})" sh -c "timeout 10 mosquitto_sub -h 127.0.0.1 -p $port \
  -V mqttv5 -P '$(token 60)' -t tenants/acme/# -C 1 -W 5 | grep -q hello"
check "tenant refused elsewhere" sh -c "timeout 10 mosquitto_sub -h 127.0.0.1 -p $port -V mqttv5 -P '$(token 60)' \
  -t tenants/other/# -C 1 -W 3 2>&1 | grep -q 'All subscription requests were denied'"

# Ban list: refused by client id (0x8A Banned on 5.0), then unbanned at runtime by editing the file.
refuse "banned client id refused (MQTT 5)" pub -V mqttv5 -i bad-device-17 -u alice -P alice-new
check "ban logged as Banned" sh -c "timeout 10 mosquitto_pub -h 127.0.0.1 -p $port -V mqttv5 -i bad-device-17 \
  -u alice -P alice-new -t t -m x 2>&1 | grep -qi 'banned'"
check "other client ids unaffected" pub -V mqttv5 -i good-device -u alice -P alice-new
printf 'client_ids = []\nusernames = ["alice"]\nnetworks = []\n' > "$work/bans.toml"
sleep 2.5
check "unbanned client id after the file changed" pub -V mqttv5 -i bad-device-17 -u dave -P dave-pw
refuse "banned user name after the file changed" pub -V mqttv5 -u alice -P alice-new

echo "auth (mosquitto_passwd round trip): $passed passed, $failed failed"
if [ "$failed" != 0 ]; then echo "--- tern log (last 30 lines)"; tail -n 30 "$work/tern.log"; fi
[ "$failed" = 0 ]
