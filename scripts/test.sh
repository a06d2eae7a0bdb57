#!/usr/bin/env bash
# Runs every test: unit tests and property tests (no server), integration tests against throwaway
# redis-servers on free loopback ports, and output compared byte for byte with the real redis-cli.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

cargo build --all-targets --quiet
cargo test --quiet -- --test-threads "${REDSH_TEST_THREADS:-4}"
