#!/usr/bin/env bash
# Times a Redis outage under load: how long a call in flight waits before Hourglass answers it
# UNAVAILABLE, and whether the server serves again once Redis is back, with the server's default store
# timeout (250 ms). Two outages, each in a run of its own against a fresh Redis and server:
#
#   hang    Redis stops answering (SIGSTOP) for 2 s, then resumes (SIGCONT): connections stay open and
#           nothing comes back, the worst case for a client.
#   crash   Redis is killed (SIGKILL) and started again on the same port 2 s later, from its
#           append-only file (written before each reply), as a production Redis with persistence is.
#
#   crates/load/outage.sh [RPC] [CONCURRENCY]     # authorize (or record, batch) and 16 in flight
#
# Each run is `hourglass-load run --expect-errors` for 8 s (the outage starts 3 s in); its line gives the
# calls that succeeded (calls, p50, p99, max), the calls that failed (errors) and `error_max`, the
# longest a failed call waited for its error; a second run of 1 s right after must have no error.
# Needs redis-server and redis-cli on the PATH. Everything
# it starts listens on loopback and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."

rpc="${1:-authorize}"
concurrency="${2:-16}"
cargo build --release --quiet --bin hourglass --bin hourglass-load
bin="${CARGO_TARGET_DIR:-target}/release"

# shellcheck source=crates/load/processes.sh
source "crates/load/processes.sh"

redis_port=46479
server_port=50201

start_redis() { # persistence: no, or an append-only file written before each reply
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly "$1" --appendfsync always \
    --dir "$work" --daemonize no >>"$work/redis.log" 2>&1 &
  redis_pid=$!
  pids+=("$redis_pid")
  for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "redis on $redis_port did not start" >&2
  exit 1
}

start_server() {
  "$bin/hourglass" --listen "127.0.0.1:$server_port" --store "redis://127.0.0.1:$redis_port" \
    --log-filter warn >>"$work/hourglass-$server_port.log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  wait_for_port "$server_port" hourglass
}

outage() { # hang | crash
  rm -rf "$work/appendonlydir"
  # A crash is survived by a Redis that persists what it acknowledged; one that restarts empty is
  # detected by the store's marker, and Hourglass then exits for its orchestrator to restart it
  # (docs/OPERATIONS.md).
  if [ "$1" = crash ]; then start_redis yes; else start_redis no; fi
  start_server
  "$bin/hourglass-load" run --addr "127.0.0.1:$server_port" --rpc "$rpc" --concurrency "$concurrency" \
    --seconds 8 --warmup 1 --customers 10000 --batch-size 100 --expect-errors --label "outage-$1" \
    >"$work/load.out" 2>"$work/load.err" &
  local load=$!
  sleep 4
  case "$1" in
    hang)
      kill -STOP "$redis_pid"
      sleep 2
      kill -CONT "$redis_pid"
      ;;
    crash)
      kill -9 "$redis_pid"
      wait "$redis_pid" 2>/dev/null || true
      sleep 2
      start_redis yes
      ;;
  esac
  if ! wait "$load"; then
    cat "$work/load.out" "$work/load.err" >&2
    echo "outage: the $1 run failed (above)" >&2
    exit 1
  fi
  cat "$work/load.out"
  # Served again: a second run right after, in which every answer must allow and none fail.
  local after
  after="$("$bin/hourglass-load" run --addr "127.0.0.1:$server_port" --rpc "$rpc" \
    --concurrency "$concurrency" --seconds 1 --warmup 0 --customers 10000 --batch-size 100 \
    --label "after-$1")"
  printf '%s\n' "$after"
  case "$after" in
    *" errors=0 "*) ;;
    *) echo "outage: calls still fail after the $1 ended" >&2; exit 1 ;;
  esac
  kill "$server_pid" "$redis_pid" 2>/dev/null || true
  wait "$server_pid" "$redis_pid" 2>/dev/null || true
}

outage hang
outage crash
