#!/usr/bin/env bash
# The session store walkthrough on a private throwaway redis-server: installs what is missing,
# builds redsh, plays scripts/walkthrough.redsh. On a terminal it then leaves you in the
# interactive shell on the same server (type `help`; Ctrl-D or `quit` to leave); piped, it exits.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
REDSH=$(scripts/build-release.sh)
if [ -t 0 ] && [ -t 1 ]; then
  exec "$REDSH" --ephemeral -f scripts/walkthrough.redsh --interactive "$@"
fi
exec "$REDSH" --ephemeral -f scripts/walkthrough.redsh "$@"
