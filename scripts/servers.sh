# Sourced by scripts/bench.sh and scripts/torture.sh: private redis-servers on free loopback ports.

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_server DIR EXTRA…: a redis-server on a free port (and a free cluster bus port, +10000), no
# persistence, its files in DIR; prints "pid port" once it answers.
start_server() {
  local dir=$1
  shift
  mkdir -p "$dir"
  for _ in $(seq 50); do
    local port=$((20000 + RANDOM % 20000))
    port_in_use "$port" && continue
    port_in_use $((port + 10000)) && continue
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
      --dir "$dir" --logfile "$dir/redis.log" "$@" &
    local pid=$!
    for _ in $(seq 100); do
      redis-cli -p "$port" PING >/dev/null 2>&1 && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    if redis-cli -p "$port" PING >/dev/null 2>&1; then
      echo "$pid $port"
      return 0
    fi
    kill "$pid" 2>/dev/null || true
  done
  return 1
}
