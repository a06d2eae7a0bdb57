#!/usr/bin/env bash
# Session expiry, live: on a private throwaway redis-server (--ephemeral), user 101 logs in twice,
# once for the day and once for one second; `events 3` listens while Redis removes the short
# session, prints who it belonged to and prunes its id from the user's index (the SREM is echoed);
# then `sessions`, `stats` and `fsck` show a store with nothing left over. Exits 0 when all went well.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
REDSH=$(scripts/build-release.sh)
# --enable-notifications: a fresh server has keyspace notifications off; redsh turns them on (echoed).
exec "$REDSH" --ephemeral --enable-notifications --no-color "$@" <<'REDSH'
# Two sessions of user 101: one for the day, one that expires after a second.
login 101 suhel teacher --id all-day --ttl 3600
login 101 suhel teacher --id short --ttl 1
# Listen for three seconds: Redis removes the short session and says so; redsh prunes its index entry.
events 3
# What is left: the all-day session, listed in its index, nothing stale.
sessions 101
stats
fsck
REDSH
