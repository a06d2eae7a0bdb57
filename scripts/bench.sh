#!/usr/bin/env bash
# redsh against redis-cli, side by side in one run, on private servers (free loopback ports, no
# persistence, stopped on exit): a single server and a 3-master cluster. Every measurement runs
# ROUNDS times from the same starting state; the table gives medians and ratios (Markdown).
#
# 1. Each session command in bulk (N of each): redsh runs them (pipelined); redis-cli then runs, line
#    by line, the very commands redsh echoed; redsh runs those same commands as plain lines too
#    (its raw path, echoed as well). Targets: ≤ 0.15× redis-cli, ≤ 2× redsh's raw path.
# 2. 60k raw lines, `--no-echo`, against `redis-cli --pipe` on the same commands: ≤ 1.25×.
# 3. `-c` on a 3-master cluster: 20k raw lines against `redis-cli -c` line by line, byte-identical
#    output: ≤ 0.2×. And each session command pipelined on the cluster, N of each, against
#    redis-cli -c running the commands redsh echoed: ≤ 0.15×, as on one server.
#
#   scripts/bench.sh                  ROUNDS=3 N=5000 by default
#   ROUNDS=1 N=1000 scripts/bench.sh  quicker
#   KINDS="renew login-id" PARTS=sessions scripts/bench.sh
#                                     only some session commands, only some parts (sessions raw cluster)
#
# Exit status: 0 when every output check passed (a missed target is reported, not fatal), 1 otherwise.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

ROUNDS=${ROUNDS:-3}
N=${N:-5000}
RAW=${RAW:-60000}
CLUSTER_LINES=${CLUSTER_LINES:-20000}
PARTS=" ${PARTS:-sessions raw cluster} "
part() { [[ $PARTS == *" $1 "* ]]; }

load=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench: building release" >&2
REDSH=$(scripts/build-release.sh)

tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() {
  echo "bench: FAILED: $*" >&2
  exit 1
}

# --- private servers on free loopback ports ---------------------------------------------------------
# shellcheck source=scripts/servers.sh
. scripts/servers.sh
read -r pid P < <(start_server "$tmp/single") || fail "could not start redis-server"
pids+=("$pid")

ports=()
if part cluster; then
  for i in 1 2 3; do
    read -r pid port < <(start_server "$tmp/node$i" --cluster-enabled yes --cluster-config-file "$tmp/node$i/nodes.conf") ||
      fail "could not start cluster node $i"
    pids+=("$pid")
    ports+=("$port")
  done
  redis-cli --cluster create "127.0.0.1:${ports[0]}" "127.0.0.1:${ports[1]}" "127.0.0.1:${ports[2]}" --cluster-yes \
    >"$tmp/cluster-create.log" 2>&1 || fail "redis-cli --cluster create: $(tail -3 "$tmp/cluster-create.log")"
  for _ in $(seq 200); do
    ok=yes
    for port in "${ports[@]}"; do
      redis-cli -p "$port" CLUSTER INFO | grep -q '^cluster_state:ok' || ok=no
    done
    [ "$ok" = yes ] && break
    sleep 0.05
  done
  [ "$ok" = yes ] || fail "the cluster did not come up"
  C=${ports[0]}
fi

# --- helpers ------------------------------------------------------------------------------------------
now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f\n", b - a }'; }
median() { sort -g "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# timed NAME INPUT OUTPUT COMMAND…: COMMAND < INPUT > OUTPUT; wall seconds appended to $tmp/t.NAME.
timed() {
  local name=$1 input=$2 output=$3
  shift 3
  local t0 t1
  t0=$EPOCHREALTIME
  "$@" <"$input" >"$output"
  t1=$EPOCHREALTIME
  elapsed "$t0" "$t1" >>"$tmp/t.$name"
}
# The commands redsh echoed (prompt, with or without (TX), taken off): what it sent, in order.
echoed() { sed -n "s/^127\.0\.0\.1:$P\(([A-Z]*)\)\{0,1\}> //p" "$1"; }

T0=$(date +%s)
# The starting state of the session-command runs: N sessions s0000001… of users 1000…, two each
# (N/2 users), written straight (not timed).
awk -v n="$N" -v t="$T0" 'BEGIN {
  for (i = 1; i <= n; i++) {
    u = 1000 + int((i - 1) / 2)
    printf "HSET session:s%07d user_id %d username user%d role student login_time %d ip 10.0.%d.%d\n", i, u, u, t, int(i / 256) % 256, i % 256
    printf "EXPIRE session:s%07d 1800\nSADD user_sessions:%d s%07d\nEXPIRE user_sessions:%d 1800\n", i, u, i, u
  }
}' >"$tmp/state.txt"
flush() { redis-cli -p "$P" FLUSHALL >/dev/null; }
restore() {
  flush
  if [ "$1" = sessions ]; then
    "$REDSH" -p "$P" --no-echo -f "$tmp/state.txt" >/dev/null || fail "could not write the starting state"
  fi
}

# kind NAME STATE SCRIPT-LINE-AWK: one session command kind; its N-line script from awk's `i`.
kinds=()
kind() {
  local name=$1 state=$2 line=$3
  [[ " ${KINDS:-$name} " == *" $name "* ]] || return 0
  echo "$state" >"$tmp/$name.state"
  awk -v n="$N" "BEGIN { for (i = 1; i <= n; i++) { u = 1000 + int((i - 1) / 2); $line } }" >"$tmp/$name.redsh"
  if part sessions; then kinds+=("$name"); fi
}
kind login empty 'printf "login %d user%d student --ip 10.0.%d.%d\n", 2000 + i, i, int(i / 256) % 256, i % 256'
kind login-id empty 'printf "login %d user%d student --ip 10.0.%d.%d --id n%07d\n", 2000 + i, i, int(i / 256) % 256, i % 256, i'
kind whoami sessions 'printf "whoami s%07d\n", i'
kind touch sessions 'printf "touch s%07d\n", i'
kind logout sessions 'printf "logout s%07d\n", i'
kind renew sessions 'printf "renew s%07d\n", i'
kind sessions sessions 'printf "sessions %d\n", u'
kind logout-all sessions 'if (i % 2) printf "logout-all %d\n", u; else printf "logout-all %d\n", 5000 + i'

for round in $(seq "$ROUNDS"); do
  [ ${#kinds[@]} -gt 0 ] || break
  echo "bench: session commands, round $round of $ROUNDS" >&2
  for k in "${kinds[@]}"; do
    state=$(cat "$tmp/$k.state")
    restore "$state"
    timed "$k.redsh" "$tmp/$k.redsh" "$tmp/$k.out" "$REDSH" -p "$P" --no-raw
    grep -q '^# ' "$tmp/$k.out" || fail "$k printed no summary"
    echoed "$tmp/$k.out" >"$tmp/$k.cmds"
    [ -s "$tmp/$k.cmds" ] || fail "$k echoed nothing"
    restore "$state"
    timed "$k.cli" "$tmp/$k.cmds" /dev/null redis-cli -p "$P" --no-raw
    restore "$state"
    timed "$k.raw" "$tmp/$k.cmds" /dev/null "$REDSH" -p "$P" --no-raw
  done
done

# --- raw lines against redis-cli --pipe -------------------------------------------------------------
awk -v n="$RAW" 'BEGIN {
  for (i = 1; i <= n / 3; i++) {
    u = 100 + i % 500
    printf "HSET session:r%07d user_id %d username user%d role student login_time 1795873823 ip 10.0.%d.%d\n", i, u, i, int(i / 256) % 256, i % 256
    printf "EXPIRE session:r%07d 1800\nSADD user_sessions:%d r%07d\n", i, u, i
  }
}' >"$tmp/raw.txt"
raw_lines=$(wc -l <"$tmp/raw.txt")
for round in $(seq "$ROUNDS"); do
  part raw || break
  echo "bench: $raw_lines raw lines, round $round of $ROUNDS" >&2
  flush
  timed pipe "$tmp/raw.txt" "$tmp/pipe.out" redis-cli -p "$P" --pipe
  grep -q "^errors: 0, replies: $raw_lines\$" "$tmp/pipe.out" || fail "redis-cli --pipe: $(tail -1 "$tmp/pipe.out")"
  flush
  timed noecho "$tmp/raw.txt" "$tmp/noecho.out" "$REDSH" -p "$P" --no-echo
  [ "$(wc -l <"$tmp/noecho.out")" = "$raw_lines" ] || fail "redsh --no-echo did not answer every line"
done

# --- -c on a 3-master cluster -----------------------------------------------------------------------
awk -v n="$CLUSTER_LINES" 'BEGIN {
  srand(7)
  for (i = 1; i <= n; i++) {
    k = int(rand() * 5000)
    r = i % 4
    if (r == 0) printf "SET key:%d v%d\n", k, i
    else if (r == 1) printf "GET key:%d\n", k
    else if (r == 2) printf "INCR n:%d\n", k
    else printf "HSET h:%d f %d\n", k, i
  }
}' >"$tmp/cluster.txt"
cflush() { for port in "${ports[@]}"; do redis-cli -p "$port" FLUSHALL >/dev/null; done; }
for round in $(seq "$ROUNDS"); do
  part cluster || break
  echo "bench: -c, $CLUSTER_LINES lines, round $round of $ROUNDS" >&2
  cflush
  timed ccli "$tmp/cluster.txt" "$tmp/ccli.out" redis-cli -c -p "$C" --no-raw
  cflush
  timed credsh "$tmp/cluster.txt" "$tmp/credsh.out" "$REDSH" -c -p "$C" --no-echo --no-raw
  cmp -s "$tmp/ccli.out" "$tmp/credsh.out" || fail "redsh -c output differs from redis-cli -c (round $round)"
done

# Session commands on the cluster: the same scripts and starting state as on one server.
ckinds=()
for k in login login-id whoami touch logout renew sessions logout-all; do
  [ -f "$tmp/$k.redsh" ] && ckinds+=("$k")
done
crestore() {
  cflush
  if [ "$1" = sessions ]; then
    "$REDSH" -c -p "$C" --no-echo -f "$tmp/state.txt" >/dev/null || fail "could not write the starting state on the cluster"
  fi
}
# What redsh echoed on the cluster, whichever node each command went to.
cechoed() { sed -n 's/^127\.0\.0\.1:[0-9]*\(([A-Z]*)\)\{0,1\}> //p' "$1"; }
for round in $(seq "$ROUNDS"); do
  part cluster && [ ${#ckinds[@]} -gt 0 ] || break
  echo "bench: session commands on the cluster, round $round of $ROUNDS" >&2
  for k in "${ckinds[@]}"; do
    state=$(cat "$tmp/$k.state")
    crestore "$state"
    timed "c$k.redsh" "$tmp/$k.redsh" "$tmp/c$k.out" "$REDSH" -c -p "$C" --no-raw
    grep -q '^# ' "$tmp/c$k.out" || fail "$k on the cluster printed no summary"
    cechoed "$tmp/c$k.out" >"$tmp/c$k.cmds"
    crestore "$state"
    timed "c$k.cli" "$tmp/c$k.cmds" /dev/null redis-cli -c -p "$C" --no-raw
  done
done

# --- the table --------------------------------------------------------------------------------------
cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || commit="$commit+uncommitted"
echo
echo "Machine: $(nproc) cores, ${cpu:-unknown CPU}, Linux $(uname -r); $(redis-server --version | awk '{print $1, $2, $3}'), redis-cli $(redis-cli --version | awk '{print $2}'); redsh $commit"
echo "Loopback, private servers without persistence; medians of $ROUNDS rounds from the same starting state; load average before the run: $load."
echo
echo "| measurement | redsh | compared with | ratio | target | met |"
echo "|---|---:|---:|---:|---:|:---:|"
met=0
rows=0
row() {
  local what=$1 a=$2 b=$3 target=$4
  local line
  line=$(awk -v what="$what" -v a="$a" -v b="$b" -v t="$target" 'BEGIN {
    r = a / b
    printf "%d| %s | %.3f s | %.3f s | %.3f× | ≤ %s× | %s |\n", (r <= t), what, a, b, r, t, (r <= t) ? "yes" : "**no**"
  }')
  met=$((met + ${line%%|*}))
  rows=$((rows + 1))
  echo "|${line#*|}"
}
for k in "${kinds[@]}"; do
  r=$(median "$tmp/t.$k.redsh")
  c=$(median "$tmp/t.$k.cli")
  w=$(median "$tmp/t.$k.raw")
  n=$(wc -l <"$tmp/$k.cmds")
  row "$N \`$k\`: vs redis-cli running its $n echoed commands line by line" "$r" "$c" 0.15
  row "$N \`$k\`: vs redsh running those $n commands as plain lines" "$r" "$w" 2
done
part raw && row "$raw_lines raw lines, \`--no-echo\`, vs \`redis-cli --pipe\`" "$(median "$tmp/t.noecho")" "$(median "$tmp/t.pipe")" 1.25
part cluster && row "\`-c\`, 3 masters: $CLUSTER_LINES raw lines vs \`redis-cli -c\` (output byte-identical)" "$(median "$tmp/t.credsh")" "$(median "$tmp/t.ccli")" 0.2
if part cluster; then
  for k in "${ckinds[@]}"; do
    n=$(wc -l <"$tmp/c$k.cmds")
    row "\`-c\`, 3 masters: $N \`$k\` vs redis-cli -c running its $n echoed commands line by line" "$(median "$tmp/t.c$k.redsh")" "$(median "$tmp/t.c$k.cli")" 0.15
  done
fi
echo
checks="every kind printed its summaries"
part raw && checks="$checks; redis-cli --pipe saw no error"
part cluster && checks="$checks; redsh -c printed byte for byte what redis-cli -c printed"
echo "Targets met: $met of $rows. Checks passed: $checks."
