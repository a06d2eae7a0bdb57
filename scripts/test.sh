#!/usr/bin/env bash
# Runs every test: unit tests and property tests (no server), integration tests against throwaway
# redis-servers on free loopback ports, and output compared byte for byte with the real redis-cli.
# Ends with one line that totals every test binary: "tests: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

cargo build --all-targets
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test -- --test-threads "${REDSH_TEST_THREADS:-4}" 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
