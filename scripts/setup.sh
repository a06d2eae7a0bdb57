#!/usr/bin/env bash
# Installs what redsh needs to build, test and demo, when it is missing: redis-server and redis-tools
# (Debian/Ubuntu packages) and a Rust toolchain. Safe to run again: it only installs what is absent.
set -euo pipefail

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing redis-server and redis-tools" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
  else
    echo "setup: please install redis-server and redis-cli (Redis 7 or newer)" >&2
    exit 1
  fi
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "setup: Rust is missing; install it from https://rustup.rs (curl --proto '=https' -sSf https://sh.rustup.rs | sh)" >&2
    exit 1
  fi
fi
