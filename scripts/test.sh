#!/usr/bin/env bash
# Runs every test: unit tests and property tests (no server), integration tests against throwaway
# servers on free loopback ports (Redis 7.0 and Valkey 8.1), and output compared byte for byte with
# each server's own cli (redis-cli, valkey-cli).
# Ends with one line that totals every test binary: "tests: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
# Valkey's binaries for the tests (setup.sh fetches them when missing; the tests fail without them
# when CI is set).
REDSH_VALKEY_BIN=$(scripts/setup.sh --print-valkey-bin)
export REDSH_VALKEY_BIN
export PATH="$HOME/.cargo/bin:$PATH"

cargo build --all-targets
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test -- --test-threads "${REDSH_TEST_THREADS:-4}" 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
