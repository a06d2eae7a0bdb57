#!/usr/bin/env bash
# redsh against redis-cli, side by side in one run, on a private redis-server (free loopback port, no
# persistence, stopped on exit). Generates its inputs, runs every measurement ROUNDS times (FLUSHALL
# before each run), prints medians and ratios as a Markdown table, and checks that the outputs agree:
# `redsh --no-echo` must print byte for byte what `redis-cli --no-raw` prints.
#
#   scripts/bench.sh                              ROUNDS=5 STARTS=50 SESSIONS=20000 by default
#   ROUNDS=3 STARTS=20 scripts/bench.sh           quicker
#
# Exit status: 0 when every output check passed (a missed target is reported, not fatal), 1 otherwise.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

ROUNDS=${ROUNDS:-5}
STARTS=${STARTS:-50}
SESSIONS=${SESSIONS:-20000}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
if [ ! -x /usr/bin/time ]; then
  echo "bench: installing GNU time (for peak memory)" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi

load=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench: building release" >&2
REDSH=$(scripts/build-release.sh)

tmp=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "bench: FAILED: $*" >&2
  exit 1
}

# --- a private server on a free loopback port ------------------------------------------------------
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 20); do
  port=$((20000 + RANDOM % 30000))
  port_in_use "$port" && continue
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    --dir "$tmp" --logfile "$tmp/redis.log" &
  server_pid=$!
  for _ in $(seq 100); do
    redis-cli -p "$port" PING >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  redis-cli -p "$port" PING >/dev/null 2>&1 && break
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
done
[ -n "$server_pid" ] || fail "could not start redis-server on a free port"
P=$port

# --- inputs ----------------------------------------------------------------------------------------
echo "bench: generating inputs in $tmp" >&2
users=$((SESSIONS < 500 ? SESSIONS : 500))
# The seed's three commands per session: HSET, EXPIRE, SADD.
awk -v n="$SESSIONS" -v users="$users" 'BEGIN {
  for (i = 1; i <= n; i++) {
    u = 100 + i % users
    printf "HSET session:s%07d user_id %d username user%d role student login_time 1795873823 ip 10.0.%d.%d\n", i, u, i, int(i / 256) % 256, i % 256
    printf "EXPIRE session:s%07d 1800\n", i
    printf "SADD user_sessions:%d s%07d\n", u, i
  }
}' >"$tmp/raw.txt"
# The same sessions as session commands: one `login` each (MULTI, HSET, EXPIRE, SADD, 2×EXPIRE, EXEC).
awk -v n="$SESSIONS" -v users="$users" 'BEGIN {
  for (i = 1; i <= n; i++)
    printf "login %d user%d student --ip 10.0.%d.%d\n", 100 + i % users, i, int(i / 256) % 256, i % 256
}' >"$tmp/login.txt"
# Memory: the same mix of commands, 10k lines and 1M lines (the keys stay few, so the server stays small).
mem_script() {
  awk -v n="$1" 'BEGIN {
    for (i = 0; i < n; i++) {
      k = i % 100
      if (i % 4 == 0) printf "SET mem:%d value%d\n", k, i
      else if (i % 4 == 1) printf "GET mem:%d\n", k
      else if (i % 4 == 2) printf "HSET memh:%d f%d %d\n", k, i % 10, i
      else printf "HGETALL memh:%d\n", k
    }
  }'
}
mem_script 10000 >"$tmp/mem10k.txt"
mem_script 1000000 >"$tmp/mem1m.txt"
raw_lines=$(wc -l <"$tmp/raw.txt")
keys_expected=$((SESSIONS + users))

# --- measuring -------------------------------------------------------------------------------------
flush() { redis-cli -p "$P" FLUSHALL >/dev/null; }
dbsize() { redis-cli -p "$P" DBSIZE; }
now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f\n", b - a }'; }

# timed NAME INPUT OUTPUT COMMAND…: a FLUSHALL, then COMMAND < INPUT > OUTPUT; wall seconds go to NAME.
timed() {
  local name=$1 input=$2 output=$3
  shift 3
  flush
  local t0 t1
  t0=$EPOCHREALTIME
  "$@" <"$input" >"$output"
  t1=$EPOCHREALTIME
  elapsed "$t0" "$t1" >>"$tmp/t.$name"
}

median() { sort -g "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo_prompt="127.0.0.1:$P> "
for round in $(seq "$ROUNDS"); do
  echo "bench: round $round of $ROUNDS" >&2
  timed cli "$tmp/raw.txt" "$tmp/cli.out" redis-cli -p "$P" --no-raw
  [ "$(dbsize)" = "$keys_expected" ] || fail "redis-cli left $(dbsize) keys, expected $keys_expected"
  timed noecho "$tmp/raw.txt" "$tmp/noecho.out" "$REDSH" -p "$P" --no-echo
  [ "$(dbsize)" = "$keys_expected" ] || fail "redsh --no-echo left $(dbsize) keys, expected $keys_expected"
  cmp -s "$tmp/noecho.out" "$tmp/cli.out" || fail "redsh --no-echo differs from redis-cli --no-raw (round $round)"
  timed echo "$tmp/raw.txt" "$tmp/echo.out" "$REDSH" -p "$P"
  grep -v -F -- "$echo_prompt" "$tmp/echo.out" | cmp -s - "$tmp/cli.out" ||
    fail "redsh with echo, less its echo lines, differs from redis-cli --no-raw (round $round)"
  [ "$(grep -c -F -- "$echo_prompt" "$tmp/echo.out")" = "$raw_lines" ] || fail "redsh did not echo every command"
  timed pipe "$tmp/raw.txt" "$tmp/pipe.out" redis-cli -p "$P" --pipe
  grep -q "^errors: 0, replies: $raw_lines\$" "$tmp/pipe.out" || fail "redis-cli --pipe: $(tail -1 "$tmp/pipe.out")"
  [ "$(dbsize)" = "$keys_expected" ] || fail "redis-cli --pipe left $(dbsize) keys, expected $keys_expected"
  timed login "$tmp/login.txt" "$tmp/login.out" "$REDSH" -p "$P"
  [ "$(dbsize)" = "$keys_expected" ] || fail "$SESSIONS logins left $(dbsize) keys, expected $keys_expected"
  [ "$(grep -c '^# session ' "$tmp/login.out")" = "$SESSIONS" ] || fail "not every login printed its summary"
  flush
  /usr/bin/time -f %M -a -o "$tmp/t.rss10k" "$REDSH" -p "$P" -f "$tmp/mem10k.txt" >/dev/null
  /usr/bin/time -f %M -a -o "$tmp/t.rss1m" "$REDSH" -p "$P" -f "$tmp/mem1m.txt" >/dev/null
done

# Pipelined output equals one-at-a-time output (once: one round trip per command is slow).
if "$REDSH" --help | grep -q -- --no-pipeline; then
  echo "bench: redsh --no-pipeline, once" >&2
  timed sequential "$tmp/raw.txt" "$tmp/sequential.out" "$REDSH" -p "$P" --no-echo --no-pipeline
  cmp -s "$tmp/sequential.out" "$tmp/noecho.out" || fail "redsh --no-pipeline differs from pipelined redsh"
fi

echo "bench: startup, $STARTS runs each" >&2
for _ in $(seq "$STARTS"); do
  t0=$EPOCHREALTIME
  out=$("$REDSH" -p "$P" --no-echo PING)
  t1=$EPOCHREALTIME
  [ "$out" = PONG ] || fail "redsh PING printed '$out'"
  elapsed "$t0" "$t1" >>"$tmp/t.start_redsh"
  t0=$EPOCHREALTIME
  out=$(redis-cli -p "$P" PING)
  t1=$EPOCHREALTIME
  [ "$out" = PONG ] || fail "redis-cli PING printed '$out'"
  elapsed "$t0" "$t1" >>"$tmp/t.start_cli"
done

# --- the table -------------------------------------------------------------------------------------
cli=$(median "$tmp/t.cli")
noecho=$(median "$tmp/t.noecho")
with_echo=$(median "$tmp/t.echo")
pipe=$(median "$tmp/t.pipe")
login=$(median "$tmp/t.login")
start_redsh=$(median "$tmp/t.start_redsh")
start_cli=$(median "$tmp/t.start_cli")
rss10k=$(median "$tmp/t.rss10k")
rss1m=$(median "$tmp/t.rss1m")

cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || commit="$commit+uncommitted"
echo
echo "Machine: $(nproc) cores, ${cpu:-unknown CPU}, Linux $(uname -r); $(redis-server --version | awk '{print $1, $2, $3}'), redis-cli $(redis-cli --version | awk '{print $2}'); redsh $commit"
echo "Loopback, private server without persistence; medians of $ROUNDS rounds (startup: of $STARTS runs), FLUSHALL before each run; load average before the run: $load."
echo
awk -v n="$SESSIONS" -v lines="$raw_lines" -v cli="$cli" -v noecho="$noecho" -v with_echo="$with_echo" \
  -v pipe="$pipe" -v login="$login" -v sr="$start_redsh" -v sc="$start_cli" -v r10k="$rss10k" \
  -v r1m="$rss1m" 'BEGIN {
  print "| measurement | redsh | compared with | ratio | target | met |"
  print "|---|---:|---:|---:|---:|:---:|"
  row(sprintf("%d raw seed commands, `--no-echo` vs `redis-cli --no-raw`", lines), noecho, cli, "s", 0.2)
  row(sprintf("%d raw seed commands, echoed vs `redis-cli --no-raw`", lines), with_echo, cli, "s", 0.3)
  row(sprintf("%d `login` lines vs redis-cli running the %d raw commands", n, lines), login, cli, "s", 0.2)
  row(sprintf("%d raw seed commands, `--no-echo` vs `redis-cli --pipe`", lines), noecho, pipe, "s", 2)
  row("startup: `redsh -p P PING` vs `redis-cli -p P PING`", sr * 1000, sc * 1000, "ms", 1.5)
  row("peak RSS: 1M-line script vs 10k-line script (redsh both)", r1m / 1024, r10k / 1024, "MiB", 2)
  printf "\nTargets met: %d of %d.\n", met, rows
}
function row(what, a, b, unit, target,   ratio, ok) {
  ratio = a / b
  ok = ratio <= target
  met += ok
  rows++
  printf "| %s | %s %s | %s %s | %.3f× | ≤ %s× | %s |\n", what, num(a), unit, num(b), unit, ratio, target, ok ? "yes" : "**no**"
}
function num(x) { return x >= 100 ? sprintf("%.0f", x) : x >= 10 ? sprintf("%.1f", x) : sprintf("%.3f", x) }'
rounds() { sort -g "$1" | awk -v scale="$2" '{ printf "%s%.3g", (NR > 1 ? " " : ""), $1 * scale }'; }
echo
echo "Every round, sorted: redis-cli --no-raw $(rounds "$tmp/t.cli" 1) s; redsh --no-echo $(rounds "$tmp/t.noecho" 1) s;" \
  "echoed $(rounds "$tmp/t.echo" 1) s; logins $(rounds "$tmp/t.login" 1) s; redis-cli --pipe $(rounds "$tmp/t.pipe" 1) s;" \
  "peak RSS 10k $(rounds "$tmp/t.rss10k" 0.0009765625) MiB, 1M $(rounds "$tmp/t.rss1m" 0.0009765625) MiB."
if [ -s "$tmp/t.sequential" ]; then
  printf '\nredsh --no-pipeline (one round trip per command) on the %d raw commands: %.3f s, output identical to pipelined.\n' \
    "$raw_lines" "$(median "$tmp/t.sequential")"
fi
echo "Checks passed: redsh --no-echo output is byte-identical to redis-cli --no-raw output; echoed output less its echo lines is too; every run left the same $keys_expected keys."
