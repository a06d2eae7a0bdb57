#!/usr/bin/env bash
# Torture: the store's promises under concurrency and a failover (issue 13, "Done when").
#
# Phase 1, one server (no persistence): NW redsh processes at once, each driven command by command
# by a worker of this script with random session commands (login with and without --id, touch,
# renew, logout, logout-all, sessions, whoami) over 6 users and a shared pool of 10 ids, with short
# timeouts (--ttl 5 --absolute-ttl 8) so that sessions expire during the run. Half of the workers
# run with --max-sessions 3 and are the only ones that log in users 1-3 (the "limited" users).
# Phase 2, the same on a 3-master cluster with one replica each (`-c`); midway one master
# is killed with kill -9, the script waits (bounded) for its replica's promotion, the workers go on.
#
# After each phase the workers stop (no client writes any more: from then on keys only vanish, which
# is what makes the checks exact), and redis-cli checks:
#  (a) every live session:<id> is a member of user_sessions:<its user_id>;
#  (b) the index never expires before the session: PEXPIRETIME idx >= PEXPIRETIME session (absolute
#      times, so no race between two PTTLs). An index without a TTL (-1) fails too: every write that
#      creates an index sets its TTL in the same transaction (EXPIRE/PEXPIREAT … NX) and nothing
#      PERSISTs it, so a TTL-less index would be a leak that never expires;
#  (c) a limited user (1-3) has at most 3 live sessions;
#  (d) every session has a TTL and PEXPIRETIME session <= (login_time + 8) * 1000;
#  (e) no acknowledged login is lost: see e_check below for the exact rule.
# A session seen by SCAN is judged only if it still exists after its index was read (EXISTS last):
# with no writer left, a key that exists then existed at every earlier read, so no expiry in between
# can fake a failure.
#
#   scripts/torture.sh               NW=8 workers, up to CMDS=3000 commands or SECS=20 s each, per phase
#   RUNS=3 scripts/torture.sh        three rounds in a row
# Takes about 50 s per round on 2 cores (two phases of 20 s plus set-up and checks). Exit status 1 if any invariant failed in any round.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
[ -x "${REDSH:-}" ] || REDSH=$(scripts/build-release.sh)
export REDSH

NW=${NW:-8}
CMDS=${CMDS:-3000}
SECS=${SECS:-20}
RUNS=${RUNS:-1}
TTL=5
ABS=8
LIMIT=3

tmp=$(mktemp -d)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  # redsh processes the workers started (their pids are written to files)
  for f in "$tmp"/redsh.*.pid; do [ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "${KEEP:-}" ]; then echo "torture: files kept in $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() {
  echo "torture: cannot run: $*" >&2
  exit 2
}
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# --- private servers on free loopback ports (as scripts/bench.sh) ------------------------------------
# shellcheck source=scripts/servers.sh
. scripts/servers.sh

# --- a worker: one redsh process, fed one command at a time ------------------------------------------
# Each command is followed by `help use`, which redsh answers itself (no server involved, so it works
# when the node in use is dead); its last line ends the command's output. The
# log gets one line per command: write time (before it was written to redsh), reply time (after its
# output ended; "inf" if it never ended), worker, kind, target (id or user), user, outcome, new id.
# The write time is a lower bound on when Redis ran the command, the reply time an upper bound.
worker() {
  local w=$1 port=$2 phase=$3 secs=$4
  shift 4
  local dir=$tmp/$phase
  local log=$dir/w$w.log out=$dir/w$w.out
  local limited=0
  [ "$w" -le $((NW / 2)) ] && limited=1
  local args=(-p "$port" --no-echo --ttl $TTL --absolute-ttl $ABS "$@")
  [ $limited = 1 ] && args+=(--max-sessions $LIMIT)
  RANDOM=$((w * 7919 + ${SEED:-$$}))
  mkfifo "$dir/in.$w" "$dir/out.$w"
  "$REDSH" "${args[@]}" <"$dir/in.$w" >"$dir/out.$w" 2>&1 &
  echo $! >"$tmp/redsh.${phase//\//-}.$w.pid"
  local IN OUT
  exec {IN}>"$dir/in.$w" {OUT}<"$dir/out.$w"
  local mine=() t_end=$((SECONDS + secs)) n=0
  while [ $n -lt "$CMDS" ] && [ $SECONDS -lt $t_end ]; do
    n=$((n + 1))
    local r=$((RANDOM % 100)) kind target user=- cmd id u
    u=$((RANDOM % 3 + 1))
    [ $limited = 1 ] || u=$((u + 3))
    if [ ${#mine[@]} -gt 0 ] && [ $((RANDOM % 10)) -lt 7 ]; then
      id=${mine[RANDOM % ${#mine[@]}]}
    else
      id=id-$((RANDOM % 10 + 1))
    fi
    if [ $r -lt 35 ]; then
      kind=login user=$u
      if [ $((RANDOM % 2)) = 0 ]; then
        target=id-$((RANDOM % 10 + 1))
        cmd="login $u user$u student --ip 127.0.0.$w --id $target"
      else
        target=-
        cmd="login $u user$u teacher --ip 127.0.0.$w"
      fi
    elif [ $r -lt 52 ]; then kind=touch target=$id cmd="touch $id"
    elif [ $r -lt 60 ]; then kind=renew target=$id cmd="renew $id"
    elif [ $r -lt 68 ]; then kind=logout target=$id cmd="logout $id"
    elif [ $r -lt 78 ]; then kind=whoami target=$id cmd="whoami $id"
    elif [ $r -lt 90 ]; then kind=sessions target=$((RANDOM % 6 + 1)) cmd="sessions $target"
    elif [ $r -lt 93 ]; then kind=logout-all target=$((RANDOM % 6 + 1)) cmd="logout-all $target"
    else
      kind=idle target=- cmd=""
      sleep 0.$((RANDOM % 3))
    fi
    [ -n "$cmd" ] || continue
    local t0 t1=inf line outcome=ok newid=- text=""
    t0=$(now_ms)
    printf '%s\nhelp use\n' "$cmd" >&"$IN"
    local rc=0
    while true; do
      IFS= read -r -t 15 -u "$OUT" line || { rc=$?; break; }
      if [ "$line" = "  sends: nothing" ]; then
        t1=$(now_ms)
        break
      fi
      [ "$line" = "use ID" ] || [ "$line" = "  make a session current (client side only)" ] || text+="$line"$'\n'
    done
    printf '%s\n%s' "> $cmd" "$text" >>"$out"
    if [ "$t1" = inf ]; then
      outcome=hang
      [ $rc -gt 128 ] || outcome=redsh-exited
    else
      # Failure kinds, from the error lines redsh printed for this one command (replies can hold
      # anything: random ids contain "ERR" now and then).
      local errs
      errs=$(grep -E '^(redsh:|\(error\)|Error|ERR|Could not)' <<<"$text" || true)
      case $errs in
        "") ;;
        *"transaction was aborted"*) outcome=aborted ;;
        *"replicas acknowledged"*) outcome=unreplicated ;;
        *"no such session"*) outcome=no-such-session ;;
        *"already exists"*) outcome=id-taken ;;
        *"onnection"* | *"Could not connect"* | *"CLUSTERDOWN"* | *"TRYAGAIN"* | *"LOADING"*) outcome=connection ;;
        *) outcome=other-error ;;
      esac
    fi
    if [ $outcome = ok ]; then
      case $kind in
        login) newid=$(sed -n 's/^# session \([^ ]*\) — .*/\1/p' <<<"$text" | head -1) ;;
        renew) newid=$(sed -n 's/^# session [^ ]* renewed as \([^ :]*\):.*/\1/p' <<<"$text" | head -1) ;;
      esac
      [ -n "$newid" ] || newid=-
      [ "$newid" = - ] || {
        mine+=("$newid")
        [ ${#mine[@]} -gt 6 ] && mine=("${mine[@]:1}")
      }
      if [ "$kind" = login ] && [ "$newid" = - ]; then outcome=no-summary; fi
    fi
    echo "$t0 $t1 $w $limited $kind $target $user $outcome $newid" >>"$log"
    [ "$t1" = inf ] && break
    [ $((RANDOM % 4)) = 0 ] && sleep 0.0$((RANDOM % 10))
  done
  exec {IN}>&-
  local pid
  pid=$(cat "$tmp/redsh.${phase//\//-}.$w.pid")
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  exec {OUT}<&-
  rm -f "$tmp/redsh.${phase//\//-}.$w.pid"
}

# --- the checks ------------------------------------------------------------------------------------
# cli ARGS…: redis-cli reading commands from stdin, one reply a line (raw), redirect notes dropped.
cli() { redis-cli "$@" | grep -v '^-> Redirected' || true; }
# results: "<check> pass|fail|skip <detail>" lines in $dir/results
result() { echo "$1 $2 ${3:-}" >>"$dir/results"; }

# check PHASE CLI-ARGS…: the invariants, on the data left after the workers stopped.
# Needs: $dir, $masters (ports to SCAN), $provable_awk (an awk condition on slot_s, slot_i, login_time
# saying whether a session's writes are provable; "1" on one server).
check() {
  local phase=$1
  shift
  : >"$dir/keys"
  local m
  for m in $masters; do redis-cli -p "$m" --scan --pattern 'session:*' >>"$dir/keys"; done
  sort -u -o "$dir/keys" "$dir/keys"
  # read 1: the sessions' fields and absolute expiry (and slots, for the cluster)
  local ks=0
  [ -n "${KILLED_RANGES:-}" ] && ks=1
  # (CLUSTER KEYSLOT only on the cluster; on one server the slot reads as 0 and nothing was lost)
  awk -v ks=$ks '{ print "HGET " $1 " user_id"; print "HGET " $1 " login_time"; print "PEXPIRETIME " $1; print (ks ? "CLUSTER KEYSLOT " $1 : "ECHO 0") }' "$dir/keys" |
    cli "$@" >"$dir/read1"
  awk 'NR == FNR { k[++n] = $1; next } { r[FNR] = $0 } END {
      for (i = 1; i <= n; i++) { b = 4 * (i - 1); print k[i], (r[b+1] == "" ? "-" : r[b+1]), (r[b+2] == "" ? "-" : r[b+2]), r[b+3], r[b+4] }
    }' "$dir/keys" "$dir/read1" >"$dir/s1" # key uid login_time pexpiretime slot
  # read 2: each live session's index
  awk -v ks=$ks '$2 != "-" { id = substr($1, 9); print "SISMEMBER user_sessions:" $2 " " id; print "PEXPIRETIME user_sessions:" $2; print (ks ? "CLUSTER KEYSLOT user_sessions:" $2 : "ECHO 0") }' "$dir/s1" |
    cli "$@" >"$dir/read2"
  # read 3: does the session still exist (then it existed at reads 1 and 2)
  awk '$2 != "-" { print "EXISTS " $1 }' "$dir/s1" | cli "$@" >"$dir/read3"
  # acknowledged creations: a login's id and user with the seconds its login_time can have; a renew's
  # new id (random: unique), any user
  cat "$dir"/w*.log | awk '$8 == "ok" && $9 != "-" { if ($5 == "login") print "session:" $9, int($1 / 1000), ($2 == "inf" ? 9e18 : int($2 / 1000)), $7; else print "session:" $9, 0, 9e18, "-" }' >"$dir/acked"
  awk -v abs=$ABS -v limit=$LIMIT -v tp="${T_PROMOTED:-0}" -v killed="${KILLED_RANGES:-}" '
    FILENAME ~ /acked$/ { na[$1]++; alo[$1, na[$1]] = $2; ahi[$1, na[$1]] = $3; au[$1, na[$1]] = $4; next }
    FILENAME ~ /s1$/ { if ($2 != "-") { n++; key[n] = $1; uid[n] = $2; lt[n] = $3; pet[n] = $4; slot[n] = $5 } next }
    FILENAME ~ /read2$/ { r2[FNR] = $0; next }
    { r3[FNR] = $0 }
    function lost(s,   i, a, b, p) { # is slot s among the killed master'"'"'s slots?
      if (killed == "") return 0
      split(killed, a, ",")
      for (i in a) { split(a[i], b, "-"); if (s + 0 >= b[1] + 0 && s + 0 <= b[2] + 0) return 1 }
      return 0
    }
    function acked(k, t, u,   j) { for (j = 1; j <= na[k]; j++) if (t + 0 >= alo[k, j] && t + 0 <= ahi[k, j] && (au[k, j] == "-" || au[k, j] == u)) return 1; return 0 }
    END {
      for (i = 1; i <= n; i++) {
        if (r3[i] != 1) { gone++; continue }
        live++
        # On the cluster a login that fails between its steps (here: the index on the dead node) leaves
        # its session, not indexed, nobody told of it, dying within its provisional TTL (README: "a
        # session nobody was told about that dies within 10 seconds"): counted, not judged by (a)-(c).
        if (killed != "" && !acked(key[i], lt[i], uid[i])) {
          unacked++
          if (pet[i] + 0 > (lt[i] + abs) * 1000 || pet[i] + 0 < 0) { d_bad++; print "FAIL (d) unacknowledged " key[i] " expires at " pet[i] > "/dev/stderr" } else d_ok++
          continue
        }
        ism = r2[3 * (i - 1) + 1]; ipet = r2[3 * (i - 1) + 2]; islot = r2[3 * (i - 1) + 3]
        # provable: both keys on slots whose master never died, or written after the promotion
        # (login_time is taken before the login writes anything).
        prov = (!lost(slot[i]) && !lost(islot)) || (tp > 0 && lt[i] ~ /^[0-9]+$/ && lt[i] + 0 >= tp)
        if (!prov) { unprov++; if (pet[i] + 0 > (lt[i] + abs) * 1000) dl_unprov++; continue }
        users[uid[i]]++
        if (ism == 1) a_ok++; else { a_bad++; print "FAIL (a) " key[i] " (user " uid[i] ") is not in user_sessions:" uid[i] > "/dev/stderr" }
        if (ipet == -1) { b_bad++; print "FAIL (b) user_sessions:" uid[i] " has no TTL" > "/dev/stderr" }
        else if (ipet + 0 >= pet[i] + 0) b_ok++
        else { b_bad++; print "FAIL (b) user_sessions:" uid[i] " expires at " ipet " before " key[i] " at " pet[i] > "/dev/stderr" }
        if (pet[i] + 0 < 0) { d_bad++; print "FAIL (d) " key[i] " has no TTL (" pet[i] ")" > "/dev/stderr" }
        else if (lt[i] !~ /^[0-9]+$/) { d_bad++; print "FAIL (d) " key[i] " has login_time " lt[i] > "/dev/stderr" }
        else if (pet[i] + 0 <= (lt[i] + abs) * 1000) d_ok++
        else { d_bad++; print "FAIL (d) " key[i] " expires at " pet[i] ", past login_time " lt[i] " + " abs " s by " pet[i] - (lt[i] + abs) * 1000 " ms" > "/dev/stderr" }
      }
      for (u in users) if (u + 0 >= 1 && u + 0 <= 3) {
        if (users[u] <= limit) c_ok++
        else { c_bad++; print "FAIL (c) limited user " u " has " users[u] " live sessions (limit " limit ")" > "/dev/stderr" }
      }
      printf "sessions %d live %d gone-during-check %d unprovable %d deadline-past-unprovable %d unacknowledged %d\n", n, live + 0, gone + 0, unprov + 0, dl_unprov + 0, unacked + 0
      printf "a %d %d\nb %d %d\nc %d %d\nd %d %d\n", a_ok, a_bad, b_ok, b_bad, c_ok, c_bad, d_ok, d_bad
    }' "$dir/acked" "$dir/s1" "$dir/read2" "$dir/read3" >"$dir/abcd" 2>>"$dir/failures"
  e_check "$@"
}

# (e) No acknowledged login is lost. A session X created by a login (or a renew) whose reply said it
# was done must still exist at the check's time T unless the run explains its end:
#  - a command that may end it was not finished before X's creation was written (reply time >= write
#    time; never finished counts too): logout X, renew X, logout-all of its user, or any login of its
#    user by a --max-sessions worker (an eviction);
#  - or it may have expired: its expiry is at least min(W + ttl, deadline), W the latest write time of
#    its creation or of an acknowledged touch of it (Redis runs a command after it is written, EXPIRE
#    counts from then; a touch only ever moves the idle expiry later), deadline = floor(login write
#    time) + absolute (login_time is read after the write time); a renewed id inherits both bounds.
# So X is judged only if nothing may have ended it and that lower bound is after T (T taken after the
# EXISTS replies came back). On the cluster, an acknowledged write to the killed master may not have
# reached its replica (replication is asynchronous, and redsh's --wait is not available with -c), so
# X is judged only if its session and index keys are on slots of masters that never died, or if it
# was logged in (written) after the promotion was seen.
e_check() {
  cat "$dir"/w*.log | sort -n >"$dir/all.log"
  local horizon
  horizon=$(($(now_ms) + 1500))
  awk -v ttl=$((TTL * 1000)) -v abs=$ABS -v horizon="$horizon" '
    { n++; w[n] = $1; r[n] = ($2 == "inf" ? 9e18 : $2); lim[n] = $4; kind[n] = $5; tgt[n] = $6; usr[n] = $7; ok[n] = ($8 == "ok"); nid[n] = $9 }
    END {
      for (i = 1; i <= n; i++) {
        if (!ok[i]) continue
        if (kind[i] == "login" && nid[i] != "-") { X = nid[i]; cw[X] = w[i]; cu[X] = usr[i]; dl[X] = (int(w[i] / 1000) + abs) * 1000; idle[X] = w[i] + ttl }
        else if (kind[i] == "touch" && (tgt[i] in cw) && w[i] + ttl > idle[tgt[i]]) idle[tgt[i]] = w[i] + ttl
        else if (kind[i] == "renew" && nid[i] != "-" && (tgt[i] in cw)) {
          X = tgt[i]; Y = nid[i]
          # only touches of X finished before this renew began count for Y (recomputed below)
          cw[Y] = w[i]; cu[Y] = cu[X]; dl[Y] = dl[X]; src[Y] = X; rw[Y] = w[i]
        }
      }
      # idle bound of a renewed id: from X, with only touches finished before the renew was written
      for (Y in src) {
        X = src[Y]; b = -1
        for (i = 1; i <= n; i++) {
          if (!ok[i]) continue
          if (kind[i] == "login" && nid[i] == X) b = (b > w[i] + ttl ? b : w[i] + ttl)
          if (kind[i] == "touch" && tgt[i] == X && r[i] < rw[Y]) b = (b > w[i] + ttl ? b : w[i] + ttl)
          if (kind[i] == "touch" && tgt[i] == Y) b = (b > w[i] + ttl ? b : w[i] + ttl)
        }
        if (!(X in src)) idle[Y] = b; else idle[Y] = -1  # a chain of renews: not judged
      }
      for (X in cw) {
        lb = (idle[X] < dl[X] ? idle[X] : dl[X])
        if (lb <= horizon) { expired++; continue }
        ended = 0
        for (i = 1; i <= n && !ended; i++) {
          if (r[i] < cw[X]) continue
          if ((kind[i] == "logout" || kind[i] == "renew") && tgt[i] == X) ended = 1
          else if (kind[i] == "logout-all" && tgt[i] == cu[X]) ended = 1
          else if (kind[i] == "login" && lim[i] == 1 && usr[i] == cu[X] && !(nid[i] == X && w[i] == cw[X])) ended = 1
        }
        if (ended) { explained++; continue }
        printf "%s %.0f %.0f %d %s\n", X, lb, cw[X], ((X in src) ? 1 : 0), cu[X]
      }
      printf "acked %d explained %d expired %d\n", length(cw), explained + 0, expired + 0 > "/dev/stderr"
    }' "$dir/all.log" >"$dir/e.cand" 2>"$dir/e.counts"
  # on the cluster, the slots of each candidate's two keys
  awk -v ks="${KILLED_RANGES:+1}" '{ print (ks ? "CLUSTER KEYSLOT session:" $1 : "ECHO 0"); print (ks ? "CLUSTER KEYSLOT user_sessions:" $5 : "ECHO 0") }' "$dir/e.cand" |
    cli "$@" | paste -d' ' - - >"$dir/e.slots"
  awk '{ print "EXISTS session:" $1 }' "$dir/e.cand" | cli "$@" >"$dir/e.exists"
  local T
  T=$(now_ms)
  paste -d' ' "$dir/e.cand" "$dir/e.slots" "$dir/e.exists" | awk -v T="$T" -v tp="${T_PROMOTED:-0}" -v killed="${KILLED_RANGES:-}" '
    function lost(s,   i, a, b) {
      if (killed == "") return 0
      split(killed, a, ",")
      for (i in a) { split(a[i], b, "-"); if (s + 0 >= b[1] + 0 && s + 0 <= b[2] + 0) return 1 }
      return 0
    }
    # fields: id lower-bound creation-write renewed user slot-session slot-index exists
    # On the cluster: judged only if both keys are on slots whose master never died, or if it is a
    # login (not a renew: its bound comes from touches of the old id) written after the promotion.
    killed != "" && !((!lost($6) && !lost($7)) || ($4 == 0 && $3 >= tp * 1000)) { unprov++; next }
    $2 <= T { late++; next }
    $8 == 1 { ok++; next }
    { bad++; print "FAIL (e) acknowledged session " $1 " is gone, though nothing ended it and it cannot have expired before " $2 " (checked by " T ")" > "/dev/stderr" }
    END { printf "e %d %d %d %d\n", ok, bad, late, unprov }' >>"$dir/abcd" 2>>"$dir/failures"
}

# --- one phase ---------------------------------------------------------------------------------------
# run_phase NAME PORT REDSH-ARGS…: the workers, in parallel; $midway (a function name or "") runs
# after half of SECS.
run_phase() {
  local phase=$1 port=$2
  shift 2
  local wp=() w
  for w in $(seq "$NW"); do
    worker "$w" "$port" "$phase" "$SECS" "$@" &
    wp+=($!)
    pids+=($!)
  done
  local t0=$SECONDS
  if [ -n "${midway:-}" ]; then
    sleep $((SECS / 2))
    "$midway"
  fi
  # bounded: SECS plus 3 s for the last commands; a redsh still busy then is stopped (its command
  # counts as a hang, with an unknown outcome) so that the checks run before the sessions expire
  local f
  while [ $((SECONDS - t0)) -lt $((SECS + 3)) ]; do
    local left=0
    for f in "$tmp"/redsh."${phase//\//-}".*.pid; do [ -e "$f" ] && left=1; done
    [ $left = 0 ] && break
    sleep 0.2
  done
  for f in "$tmp"/redsh."${phase//\//-}".*.pid; do
    [ -e "$f" ] || continue
    echo "torture: redsh $(basename "$f") still busy after $((SECS + 3)) s: stopped" >&2
    kill "$(cat "$f")" 2>/dev/null || true
  done
  for w in "${wp[@]}"; do wait "$w" || true; done
}

summary() {
  local phase=$1
  local f=$dir/abcd
  echo "== $phase"
  cat "$dir"/w*.log | awk '{ c[$5]++; n++; if ($8 != "ok") { f[$8]++; fk[$5 " " $8]++ } }
    END {
      printf "commands run: %d (", n; s = ""; for (k in c) { printf "%s%s %d", s, k, c[k]; s = ", " } print ")"
      printf "outcomes other than ok:"; if (length(f) == 0) printf " none"; for (k in f) printf " %s %d;", k, f[k]; print ""
      for (k in fk) printf "    %s %d\n", k, fk[k]
    }'
  sed -n 's/^sessions /sessions at the check: /p' "$f"
  sed 's/^acked /(e) acknowledged sessions: /; s/ explained / (ended by a later command: /; s/ expired \(.*\)/, may have expired: \1)/' "$dir/e.counts"
  awk '$1 ~ /^[a-e]$/ {
      name["a"] = "(a) live session in its index"; name["b"] = "(b) index outlives its session"; name["c"] = "(c) limit of 3 holds (limited users)"
      name["d"] = "(d) TTL within the absolute deadline"; name["e"] = "(e) acknowledged login still there"
      printf "  %-40s passed %4d  failed %d%s\n", name[$1], $2, $3, ($1 == "e" ? "  (not judged: bound passed before the EXISTS " $4 ", unprovable after the failover " $5 ")" : "")
    }' "$f"
  if [ -s "$dir/failures" ]; then sed 's/^/  /' "$dir/failures"; fi
  # the commands that never finished, with what redsh had printed for them
  local f
  for f in "$dir"/w*.out; do
    awk -v f="$(basename "$f")" '/^> / { c = $0; t = "" ; next } { t = t " | " $0 } END { if (c != "" && hang + 0 > 0) print "  unfinished in " f ": " c t }' hang="$(awk '$2 == "inf"' "${f%.out}.log" | wc -l)" "$f"
  done
}

failed_total=0
bugs=0
phase_failed() { awk '$1 ~ /^[a-e]$/ && $3 > 0 { bad = 1 } END { exit !bad }' "$dir/abcd"; }

one_round() {
  local round=$1
  # --- phase 1: one server
  local pid port
  read -r pid port < <(start_server "$tmp/r$round/single/redis") || die "could not start redis-server"
  pids+=("$pid")
  dir=$tmp/r$round/single
  : >"$dir/results"
  masters=$port T_PROMOTED=0 KILLED_RANGES="" midway=""
  echo "torture: round $round: one server on port $port, $NW workers, ${SECS}s" >&2
  run_phase "r$round/single" "$port"
  check single -p "$port"
  summary "round $round, one server (127.0.0.1:$port)"
  if phase_failed; then failed_total=$((failed_total + 1)); fi
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true

  # --- phase 2: a cluster of 3 masters with a replica each
  local cports=() cpids=() i
  for i in 1 2 3 4 5 6; do
    read -r pid port < <(start_server "$tmp/r$round/cluster/node$i" --cluster-enabled yes \
      --cluster-config-file "$tmp/r$round/cluster/node$i/nodes.conf" --cluster-node-timeout 1000) ||
      die "could not start cluster node $i"
    pids+=("$pid")
    cpids+=("$pid")
    cports+=("$port")
  done
  local addrs=()
  for port in "${cports[@]}"; do addrs+=("127.0.0.1:$port"); done
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >"$tmp/r$round/cluster/create.log" 2>&1 ||
    die "redis-cli --cluster create: $(tail -3 "$tmp/r$round/cluster/create.log")"
  local ok=no
  for _ in $(seq 200); do
    ok=yes
    for port in "${cports[@]}"; do redis-cli -p "$port" CLUSTER INFO | grep -q '^cluster_state:ok' || ok=no; done
    [ "$ok" = yes ] && break
    sleep 0.1
  done
  [ "$ok" = yes ] || die "the cluster did not come up"
  # every replica attached (bounded), so that WAIT 1 can succeed from the start
  # (a replica that never synced is not eligible for a failover)
  for _ in $(seq 100); do
    local up=0
    for port in "${cports[@]}"; do
      redis-cli -p "$port" INFO replication | grep -q '^master_link_status:up' && up=$((up + 1))
    done
    [ $up = 3 ] && break
    sleep 0.1
  done
  [ $up = 3 ] || die "the replicas did not sync"
  # the victim: the master of the first node that is a master, not the one the workers are given
  local entry victim_port victim_pid victim_id
  entry=$(redis-cli -p "${cports[0]}" CLUSTER NODES | awk '$3 ~ /master/ && $3 !~ /myself/ { print; exit }')
  victim_id=$(awk '{ print $1 }' <<<"$entry")
  victim_port=$(awk '{ split($2, a, "[:@]"); print a[2] }' <<<"$entry")
  KILLED_RANGES=$(awk '{ s = ""; for (i = 9; i <= NF; i++) { r = $i; if (r !~ /-/) r = r "-" r; s = s (s == "" ? "" : ",") r } print s }' <<<"$entry")
  for i in "${!cports[@]}"; do [ "${cports[$i]}" = "$victim_port" ] && victim_pid=${cpids[$i]}; done
  [ -n "${victim_pid:-}" ] || die "could not find the victim master"
  dir=$tmp/r$round/cluster
  : >"$dir/results"
  T_PROMOTED=0
  local entry_port=${cports[0]}
  kill_victim() {
    echo "torture: kill -9 of master 127.0.0.1:$victim_port (slots $KILLED_RANGES)" >&2
    kill -9 "$victim_pid" 2>/dev/null || true
    local t0=$SECONDS promoted=no
    while [ $((SECONDS - t0)) -lt 20 ]; do
      # promoted: some live master serves the victim's first slot and the cluster says ok
      if redis-cli -p "$entry_port" CLUSTER INFO 2>/dev/null | grep -q '^cluster_state:ok' &&
        ! redis-cli -p "$entry_port" CLUSTER NODES 2>/dev/null | grep -q "^$victim_id .*master[^ ]* .* connected"; then
        if redis-cli -p "$entry_port" CLUSTER NODES | grep -v "^$victim_id" | awk -v r="${KILLED_RANGES%%,*}" '$3 ~ /master/ && $3 !~ /fail/ { for (i = 9; i <= NF; i++) if ($i == r) f = 1 } END { exit !f }'; then
          promoted=yes
          break
        fi
      fi
      sleep 0.2
    done
    T_PROMOTED=$(((${EPOCHREALTIME/./} / 1000000) + 1))
    echo "$promoted $((SECONDS - t0))" >"$dir/promotion"
    echo "torture: replica promoted: $promoted after about $((SECONDS - t0)) s" >&2
  }
  midway=kill_victim
  echo "torture: round $round: cluster ${cports[*]}, $NW workers with -c, ${SECS}s" >&2
  run_phase "r$round/cluster" "$entry_port" -c
  midway=""
  T_PROMOTED=$(awk -v t="$T_PROMOTED" 'BEGIN { print t }')
  masters=$(redis-cli -p "$entry_port" CLUSTER NODES | awk '$3 ~ /master/ && $3 !~ /fail/ { split($2, a, "[:@]"); print a[2] }')
  check cluster -c -p "$entry_port"
  local prom
  prom=$(cat "$dir/promotion" 2>/dev/null || echo "no ?")
  summary "round $round, cluster (3 masters + 3 replicas; killed 127.0.0.1:$victim_port, replica promoted: ${prom% *}, after ~${prom#* } s)"
  echo "  on the cluster: (a)-(d) judge only sessions whose two keys are on slots whose master never died, or"
  echo "  that were logged in after the promotion: what the killed master had not yet replicated is lost"
  echo "  (asynchronous replication), so nothing is asserted about the rest (counted as unprovable above)."
  echo "  (e) likewise judges only logins with both keys on such slots, or written after the promotion"
  echo "  (redsh's --wait, which would make an acknowledged login provable, is refused with -c)."
  if grep -q '^FAIL (b) user_sessions:[^ ]* expires at [0-9]* before' "$dir/failures" 2>/dev/null; then
    echo "  BUG behind (b) here: on a cluster, login sends MULTI SADD + EXPIRE user_sessions:<uid> <ttl> NX/GT EXEC,"
    echo "    then EXPIRE session:<id> <ttl> as its last step: the session outlives its index by the time between"
    echo "    the two (milliseconds; any client stall). touch gives the index ttl+1 on a cluster; login does not."
    echo "    Reproduce: redsh -c -p <node> --ttl 5 login 2 u2 teacher --id probe1; then PEXPIRETIME of"
    echo "    session:probe1 and of user_sessions:2 (the session's is later, with no other session of user 2)."
  fi
  # Availability (issue 13, item 15): after the promotion, no command should still be refused by the
  # dead node. Reported as a bug, not counted among the invariants (a)-(e).
  local refused
  refused=$(cat "$dir"/w*.log | awk -v tp="$T_PROMOTED" -v w=$SECS '$1 >= (tp + 1) * 1000 && ($8 == "connection" || $8 == "hang" || $8 == "redsh-exited") { n++ } END { print n + 0 }')
  if [ "$refused" -gt 0 ]; then
    echo "  BUG (issue 13 item 15): $refused command(s) written more than 1 s after the promotion failed to connect, e.g.:"
    grep -h -m1 "Could not connect to Redis at 127.0.0.1:$victim_port" "$dir"/w*.out | head -1 | sed 's/^/    /'
    echo "    redsh -c keeps sending to the killed master's address instead of refreshing the slot map;"
    echo "    failed logins there leave sessions outside their index (counted as unacknowledged above)."
    bugs=$((bugs + 1))
  else
    echo "  availability: no command failed to connect more than 1 s after the promotion"
  fi
  [ "${prom% *}" = yes ] || { echo "  FAIL: the replica was not promoted within 20 s"; failed_total=$((failed_total + 1)); }
  if phase_failed; then failed_total=$((failed_total + 1)); fi
  for i in "${!cpids[@]}"; do kill "${cpids[$i]}" 2>/dev/null || true; done
  for i in "${!cpids[@]}"; do wait "${cpids[$i]}" 2>/dev/null || true; done
}

for round in $(seq "$RUNS"); do
  mkdir -p "$tmp/r$round/single" "$tmp/r$round/cluster"
  one_round "$round"
done
echo
if [ $failed_total -gt 0 ]; then
  echo "torture: FAILED: $failed_total phase(s) broke an invariant (details above, 'FAIL' lines)"
  exit 1
fi
echo "torture: every invariant held in $RUNS round(s)"
[ $bugs = 0 ] || echo "torture: but $bugs round(s) showed the failover bug (issue 13 item 15) reported above"
