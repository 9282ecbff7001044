#!/usr/bin/env bash
# Measures every scenario of docs/PERFORMANCE.md next to a bare tonic server that does no work, all in
# one run on this machine: Authorize and RecordMessage for a registered business with every guard on
# (`hourglass-load run --scenario registered`) on sled, Redis and a three-master Redis Cluster, an
# AuthorizeBatch of 10,000 customers on sled, and the same for an unregistered business. Prints each
# tool line as it comes, then one markdown table: scenario, calls/s, % of bare, p50, p99.
#
#   crates/load/bench.sh [SECONDS] [CONCURRENCY]    # release binaries; 10 s and 16 in flight by default
#   crates/load/bench.sh --smoke                     # CI: debug binaries, 1 s a line, 4 in flight,
#                                                    # 1,000 customers and batches of 1,000, the
#                                                    # bare and registered lines only
#
# Environment: HOURGLASS_BENCH_PROFILE (release or debug: which binaries to build and run; --smoke
# means debug), HOURGLASS_BENCH_WARMUP (seconds of warm-up a line, 2; --smoke 0),
# HOURGLASS_BENCH_CUSTOMERS (customers a line spreads its calls over, 10000; --smoke 1000),
# HOURGLASS_BENCH_BATCH_SIZE (customers of an AuthorizeBatch, 10000; --smoke 1000),
# HOURGLASS_BENCH_STORE_TIMEOUT_MS (the servers' --store-timeout-ms: their default, 250; --smoke 5000,
# since debug binaries on a busy machine can be slower than that).
#
# It fails when a line produced no figure or when most of its answers did not allow (the load tool
# fails such a run): it checks that the scenarios run, never how fast. Needs redis-server and
# redis-cli on the PATH. Everything it starts listens on loopback and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."

smoke=false
if [ "${1:-}" = --smoke ]; then
  smoke=true
  shift
fi
if $smoke; then
  seconds="${1:-1}"
  concurrency="${2:-4}"
  profile="${HOURGLASS_BENCH_PROFILE:-debug}"
  warmup="${HOURGLASS_BENCH_WARMUP:-0}"
  customers="${HOURGLASS_BENCH_CUSTOMERS:-1000}"
  batch_size="${HOURGLASS_BENCH_BATCH_SIZE:-1000}"
  store_timeout_ms="${HOURGLASS_BENCH_STORE_TIMEOUT_MS:-5000}"
  scenarios=(registered)
else
  seconds="${1:-10}"
  concurrency="${2:-16}"
  profile="${HOURGLASS_BENCH_PROFILE:-release}"
  warmup="${HOURGLASS_BENCH_WARMUP:-2}"
  customers="${HOURGLASS_BENCH_CUSTOMERS:-10000}"
  batch_size="${HOURGLASS_BENCH_BATCH_SIZE:-10000}"
  store_timeout_ms="${HOURGLASS_BENCH_STORE_TIMEOUT_MS:-}"
  scenarios=(registered unregistered)
fi
case "$profile" in
  release) cargo build --release --quiet --bin hourglass --bin hourglass-load ;;
  debug) cargo build --quiet --bin hourglass --bin hourglass-load ;;
  *) echo "HOURGLASS_BENCH_PROFILE must be release or debug, not $profile" >&2; exit 2 ;;
esac
bin="${CARGO_TARGET_DIR:-target}/$profile"

# shellcheck source=crates/load/processes.sh
source "crates/load/processes.sh"

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
  local extra=()
  if [ -n "$store_timeout_ms" ]; then extra=(--store-timeout-ms "$store_timeout_ms"); fi
  "$bin/hourglass" --listen "127.0.0.1:$1" --store "$2" --log-filter warn "${extra[@]}" \
    >"$work/hourglass-$1.log" 2>&1 &
  pids+=($!)
  wait_for_port "$1" hourglass
}

redis_node 46379
redis_node 46380 cluster
redis_node 46381 cluster
redis_node 46382 cluster
redis-cli --cluster create 127.0.0.1:46380 127.0.0.1:46381 127.0.0.1:46382 --cluster-replicas 0 --cluster-yes >/dev/null
until redis-cli -p 46380 cluster info | grep -q cluster_state:ok; do sleep 0.2; done

"$bin/hourglass-load" bare --listen 127.0.0.1:50100 >"$work/bare-50100.log" 2>&1 &
pids+=($!)
wait_for_port 50100 bare
serve 50101 "sled:$work/sled"
serve 50102 "redis://127.0.0.1:46379"
serve 50103 "redis+cluster://127.0.0.1:46380,127.0.0.1:46381,127.0.0.1:46382"

# The value of KEY in a result line of `hourglass-load run` (space-separated key=value pairs).
field() { # line key
  local pair
  for pair in $1; do
    if [ "${pair%%=*}" = "$2" ]; then
      printf '%s\n' "${pair#*=}"
      return
    fi
  done
}

lines=() # "row title<TAB>rpc<TAB>result line", in the order of the table
run() { # title label port rpc scenario [calls in flight] [connections]
  local title=$1 label=$2 port=$3 rpc=$4 scenario=$5 in_flight=${6:-$concurrency} connections=${7:-4} line
  if ! line="$("$bin/hourglass-load" run --addr "127.0.0.1:$port" --rpc "$rpc" --scenario "$scenario" \
    --concurrency "$in_flight" --connections "$connections" --seconds "$seconds" --warmup "$warmup" \
    --customers "$customers" --batch-size "$batch_size" --label "$label")"; then
    printf '%s\n' "$line"
    echo "bench: the line \"$title\" failed (above)" >&2
    exit 1
  fi
  printf '%s\n' "$line"
  local calls allowed
  calls="$(field "$line" calls)"
  allowed="$(field "$line" allowed)"
  if ! [ "${calls:-0}" -gt 0 ] 2>/dev/null || ! [ "${allowed:-0}" -gt 0 ] 2>/dev/null; then
    echo "bench: the line \"$title\" produced no figure or no allowed answer: $line" >&2
    exit 1
  fi
  lines+=("$title"$'\t'"$rpc"$'\t'"$line")
}

stores=(
  "sled|sled|50101"
  "Redis|redis|50102"
  "Redis Cluster (3 masters)|redis-cluster|50103"
)
# RecordMessage in the order of the table: Redis, Redis Cluster, then sled with every write durable.
record_stores=(
  "Redis|redis|50102"
  "Redis Cluster (3 masters)|redis-cluster|50103"
  "sled, every acknowledged write durable|sled|50101"
)
# The bare server has no registry: its lines run once, unregistered, before the first scenario's.
bare_done=false
for scenario in "${scenarios[@]}"; do
  if [ "$scenario" = registered ]; then what="registered, every guard on"; else what="unregistered"; fi
  $bare_done || run "bare tonic: Authorize" bare 50100 authorize unregistered
  for store in "${stores[@]}"; do
    IFS='|' read -r name label port <<<"$store"
    run "Authorize on $name, $what" "$label" "$port" authorize "$scenario"
  done
  $bare_done || run "bare tonic: RecordMessage" bare 50100 record unregistered
  bare_done=true
  for store in "${record_stores[@]}"; do
    IFS='|' read -r name label port <<<"$store"
    run "RecordMessage on $name, $what" "$label" "$port" record "$scenario"
  done
  # One batch at a time: its latency is the whole batch's.
  run "AuthorizeBatch of $(sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$batch_size") customers on sled, $what (batches/s)" \
    sled 50101 batch "$scenario" 1 1
done

# The table: calls/s with thousands separators, each line's share of the bare server's calls/s for the
# same RPC, latencies in milliseconds.
echo
echo "$seconds s a line, $concurrency calls in flight (AuthorizeBatch: 1), $warmup s of warm-up, $customers customers, $profile binaries, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; $(date -u +%Y-%m-%d)"
echo
echo "| scenario | calls/s | % of bare | p50 | p99 |"
echo "|---|---:|---:|---:|---:|"
declare -A bare_throughput=()
for entry in "${lines[@]}"; do
  IFS=$'\t' read -r title rpc line <<<"$entry"
  if [ "$(field "$line" label)" = bare ]; then
    throughput="$(field "$line" throughput)"
    bare_throughput[$rpc]="${throughput%/s}"
  fi
done
for entry in "${lines[@]}"; do
  IFS=$'\t' read -r title rpc line <<<"$entry"
  throughput="$(field "$line" throughput)"
  throughput="${throughput%/s}"
  p50="$(field "$line" p50)"
  p99="$(field "$line" p99)"
  awk -v title="$title" -v rpc="$rpc" -v t="$throughput" -v bare="${bare_throughput[$rpc]:-}" \
    -v p50="${p50%us}" -v p99="${p99%us}" '
    function thousands(n,   s) {
      if (n < 1) return sprintf("%.2f", n)
      if (n < 100) return sprintf("%.1f", n)
      s = sprintf("%.0f", n)
      while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s)
      return s
    }
    function ms(us) {
      if (us < 10000) return sprintf("%.2f ms", us / 1000)
      if (us < 100000) return sprintf("%.1f ms", us / 1000)
      return sprintf("%.0f ms", us / 1000)
    }
    BEGIN {
      share = (rpc == "batch" || bare == "" || bare == 0) ? "—" : sprintf("%.0f %%", 100 * t / bare)
      printf "| %s | %s | %s | %s | %s |\n", title, thousands(t), share, ms(p50), ms(p99)
    }'
done
