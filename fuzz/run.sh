#!/usr/bin/env bash
# Runs every fuzz target (or the ones named as arguments) for FUZZ_SECONDS
# seconds each on the stable toolchain. Exits non-zero if any target crashed,
# and prints where the crashing input was saved.
#
#   fuzz/run.sh                       # all targets, 20 s each
#   FUZZ_SECONDS=300 fuzz/run.sh mqtt_decode
#
# The committed seeds (fuzz/corpus/<target>) are only read: new inputs go to
# a scratch corpus under fuzz/target/fuzz-corpus/<target>, which persists
# between local runs (delete it to start over). Crashes go to
# fuzz/artifacts/<target>/ (ignored by git; see README.md to keep one).
set -euo pipefail

CARGO_FUZZ_VERSION=0.13.2
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
# Per-input time limit: an input that takes longer is reported as a hang.
FUZZ_INPUT_TIMEOUT=${FUZZ_INPUT_TIMEOUT:-10}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

# libFuzzer needs -Zsanitizer and friends; RUSTC_BOOTSTRAP lets the stable
# compiler accept them. Cargo caches rustc's answers in target/.rustc_info.json
# without keying on RUSTC_BOOTSTRAP, so a cached "needs nightly" failure from a
# run without it would stick: don't use the cache.
export RUSTC_BOOTSTRAP=1
export CARGO_CACHE_RUSTC_INFO=0

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "run.sh: installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi
echo "run.sh: $(cargo fuzz --version), $(rustc --version)"

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

# Build everything first (no time limit: the run limit is for fuzzing only).
for t in "${targets[@]}"; do
    cargo fuzz build "$t"
done

# Seeds for targets without a committed corpus of their own.
seed_mqtt_stream() {
    # mqtt_stream reads [config, n, n chunk lengths, stream]: wrap each MQTT
    # seed at every protocol level, whole and in 1- and 3/7-octet chunks.
    local out=$1 f name
    for f in corpus/mqtt_decode/*; do
        [ -f "$f" ] || continue
        name=$(basename "$f")
        { printf '\x00\x00'; cat "$f"; } >"$out/seed-$name-v31-whole"
        { printf '\x01\x01\x00'; cat "$f"; } >"$out/seed-$name-v311-by1"
        { printf '\x02\x02\x02\x06'; cat "$f"; } >"$out/seed-$name-v5-by3-7"
    done
}

failed=()
for t in "${targets[@]}"; do
    scratch="target/fuzz-corpus/$t"
    mkdir -p "$scratch" "artifacts/$t"
    dirs=("$scratch")
    [ -d "corpus/$t" ] && dirs+=("corpus/$t")
    if [ "$t" = mqtt_stream ]; then
        seed_mqtt_stream "$scratch"
    fi
    log="target/fuzz-$t.log"
    echo "run.sh: $t for ${FUZZ_SECONDS}s over ${dirs[*]} (log: fuzz/$log)"
    set +e
    # -max_total_time stops libFuzzer; `timeout` is the backstop should
    # the process itself wedge.
    timeout --kill-after=30 "$((FUZZ_SECONDS + FUZZ_INPUT_TIMEOUT + 60))" \
        cargo fuzz run "$t" "${dirs[@]}" -- \
        -max_total_time="$FUZZ_SECONDS" -timeout="$FUZZ_INPUT_TIMEOUT" \
        -print_final_stats=1 >"$log" 2>&1
    status=$?
    set -e
    grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' "$log" | sed "s/^/run.sh: $t: /" || true
    if [ "$status" -ne 0 ]; then
        failed+=("$t")
        echo "run.sh: $t FAILED (exit $status); last lines of the log:" >&2
        tail -n 40 "$log" >&2
        crash=$(grep -oE 'Test unit written to [^ ]+' "$log" | sed 's/^Test unit written to //' | tail -n 1 || true)
        if [ -n "$crash" ]; then
            echo "run.sh: $t: crash input: $crash" >&2
            echo "run.sh: reproduce: (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run $t $crash)" >&2
        fi
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "run.sh: crashed: ${failed[*]}" >&2
    exit 1
fi
echo "run.sh: no crashes in ${targets[*]}"
