#!/usr/bin/env bash
# Runs every Tern test: unit, property and integration tests of the workspace, then the interop checks that
# drive real third-party clients (installed here if missing) against a freshly built broker.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked
bash conformance/interop/run.sh
bash crates/auth/tests/mosquitto_passwd.sh
bash conformance/browser/run.sh
bash conformance/mqttsn/run.sh
bash conformance/quic/run.sh
# The conformance suite against Tern (every transport) and Mosquitto (expected verdicts committed).
bash conformance/run.sh
