#!/usr/bin/env bash
# Builds redsh's release binary and prints its path, wherever cargo puts it: CARGO_TARGET_DIR, a
# target-dir in .cargo/config.toml, or ./target. Cargo's progress goes to stderr as usual, so a long
# first build is never silent; only the path goes to stdout:   REDSH=$(scripts/build-release.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release >&2
dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
echo "${dir:-${CARGO_TARGET_DIR:-$PWD/target}}/release/redsh"
