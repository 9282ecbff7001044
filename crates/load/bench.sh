#!/usr/bin/env bash
# Measures Authorize and RecordMessage on sled, Redis and a three-master Redis Cluster, next to a bare
# tonic server that does no work, all in one run on this machine. Prints one line per measurement.
#
#   crates/load/bench.sh [SECONDS] [CONCURRENCY]
#
# Needs redis-server and redis-cli on the PATH. Everything it starts listens on loopback and is stopped
# on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-10}"
concurrency="${2:-16}"
work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cargo build --release --quiet --bin hourglass --bin hourglass-load
bin=target/release

redis_node() { # port [cluster]
  local port=$1
  local extra=()
  if [ "${2:-}" = cluster ]; then
    extra=(--cluster-enabled yes --cluster-config-file "$work/nodes-$port.conf")
  fi
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
    --daemonize no "${extra[@]}" >"$work/redis-$port.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "redis on $port did not start" >&2
  exit 1
}

serve() { # port store
  "$bin/hourglass" --listen "127.0.0.1:$1" --store "$2" --log-filter warn >"$work/hourglass-$1.log" 2>&1 &
  pids+=($!)
  sleep 1
}

redis_node 46379
redis_node 46380 cluster
redis_node 46381 cluster
redis_node 46382 cluster
redis-cli --cluster create 127.0.0.1:46380 127.0.0.1:46381 127.0.0.1:46382 --cluster-replicas 0 --cluster-yes >/dev/null
until redis-cli -p 46380 cluster info | grep -q cluster_state:ok; do sleep 0.2; done

"$bin/hourglass-load" bare --listen 127.0.0.1:50100 &
pids+=($!)
serve 50101 "sled:$work/sled"
serve 50102 "redis://127.0.0.1:46379"
serve 50103 "redis+cluster://127.0.0.1:46380,127.0.0.1:46381,127.0.0.1:46382"

run() { # label port rpc
  "$bin/hourglass-load" run --addr "127.0.0.1:$2" --rpc "$3" --concurrency "$concurrency" \
    --seconds "$seconds" --warmup 2 --label "$1"
}
for rpc in authorize record; do
  run bare 50100 "$rpc"
  run sled 50101 "$rpc"
  run redis 50102 "$rpc"
  run redis-cluster 50103 "$rpc"
done
