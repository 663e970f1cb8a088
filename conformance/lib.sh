# Shared by the interop and conformance scripts (source it; bash only): installing third-party clients,
# building Tern, picking free loopback ports, starting a broker and stopping everything a script started.
# Each script used to carry its own copy of these; one copy keeps their behaviour (and fixes) in step.

tern_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tern_target="${CARGO_TARGET_DIR:-$tern_root/target}"
tern_pids=()
tern_work_dirs=()

# Kills every process registered with `tern_track` and removes every `tern_workdir`. Installed as the EXIT trap.
tern_cleanup() {
  local p
  for p in "${tern_pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  for p in "${tern_work_dirs[@]}"; do rm -rf "$p"; done
}
trap tern_cleanup EXIT

# Registers a background process to be stopped when the script exits.
tern_track() { tern_pids+=("$1"); }

# Prints a fresh temporary directory that is removed when the script exits.
tern_workdir() {
  local d
  d="$(mktemp -d)"
  tern_work_dirs+=("$d")
  echo "$d"
}

# Runs a command as root (directly, or through sudo when the script is not root).
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# ensure_debian COMMAND PACKAGE...: installs the Debian packages when COMMAND is missing.
ensure_debian() {
  local cmd="$1"; shift
  command -v "$cmd" >/dev/null 2>&1 && return 0
  echo "installing $* (Debian packages)" >&2
  as_root apt-get update -qq >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# ensure_venv DIR CHECK PACKAGE...: makes a venv in DIR holding the PyPI packages unless `python -c CHECK` works.
ensure_venv() {
  local venv="$1" check="$2"; shift 2
  if ! "$venv/bin/python" -c "$check" 2>/dev/null; then
    echo "installing $* from PyPI into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "$@"
  fi
}

# build_tern [PACKAGE...]: builds the broker (and any other packages named) and prints the tern binary's path.
build_tern() {
  local args=(-p tern) p
  for p in "$@"; do args+=(-p "$p"); done
  (cd "$tern_root" && cargo build -q "${args[@]}") >&2
  echo "$tern_target/debug/tern"
}

# free_port [tcp|udp]: a loopback port that was free a moment ago (bind port 0, read it, release it).
free_port() {
  local kind=SOCK_STREAM
  [ "${1:-tcp}" = udp ] && kind=SOCK_DGRAM
  python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.$kind); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"
}

# wait_port PORT: waits up to 10 s for a TCP listener on 127.0.0.1:PORT; fails (status 1) if none appears.
wait_port() {
  local _
  for _ in $(seq 1 100); do
    if (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on 127.0.0.1:$1 after 10 s" >&2
  return 1
}

# start_tern BINARY CONFIG LOG WAIT_PORT: starts the broker in the background, registers it for cleanup and
# waits for its TCP port; on failure prints the log and returns 1. Sets tern_pid.
start_tern() {
  "$1" --config "$2" >"$3" 2>&1 &
  tern_pid=$!
  tern_track "$tern_pid"
  if ! wait_port "$4" || ! kill -0 "$tern_pid" 2>/dev/null; then
    echo "tern did not start; its log:" >&2
    sed 's/\x1b\[[0-9;]*m//g' "$3" | tail -n 40 >&2
    return 1
  fi
}
