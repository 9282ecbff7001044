#!/usr/bin/env bash
# An independent measure of Authorize with h2load (nghttp2's HTTP/2 load tool, Debian's
# nghttp2-client), beside the bare tonic server of `hourglass-load bare`, interleaved in one run:
# bare, then sled and Redis, unregistered and registered with every guard on, the bare server again
# at the end. h2load knows nothing of gRPC: it POSTs one request, framed by `hourglass-load frame`
# (which first checks that Hourglass allows it), again and again, and counts HTTP statuses, so each
# line is checked by the frame command, not by h2load. Every call is the same Authorize (one customer,
# one thread): a read-only decision, the same work on every call.
#
#   crates/load/h2load.sh [SECONDS] [CONNECTIONS] [STREAMS]    # 10 s, 4 connections x 4 streams
#
# Prints a markdown table: target, requests/s, % of the first bare run, p50, p99 (from h2load's
# per-request log). Needs h2load, redis-server and redis-cli on the PATH. Everything it starts listens
# on loopback and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds="${1:-10}"
connections="${2:-4}"
streams="${3:-4}"
command -v h2load >/dev/null || { echo "h2load is not installed (apt-get install nghttp2-client)" >&2; exit 2; }
cargo build --release --quiet --bin hourglass --bin hourglass-load
bin="${CARGO_TARGET_DIR:-target}/release"

# shellcheck source=crates/load/processes.sh
source "crates/load/processes.sh"

redis-server --port 46679 --bind 127.0.0.1 --save "" --appendonly no --dir "$work" --daemonize no \
  >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p 46679 ping >/dev/null 2>&1 && break; sleep 0.1; done

"$bin/hourglass-load" bare --listen 127.0.0.1:50400 >"$work/bare.log" 2>&1 &
pids+=($!)
wait_for_port 50400 bare
"$bin/hourglass" --listen 127.0.0.1:50401 --store "sled:$work/sled" --log-filter warn >"$work/sled.log" 2>&1 &
pids+=($!)
wait_for_port 50401 hourglass
"$bin/hourglass" --listen 127.0.0.1:50402 --store redis://127.0.0.1:46679 --log-filter warn \
  >"$work/redis-server.log" 2>&1 &
pids+=($!)
wait_for_port 50402 hourglass

rows=()
bare_rate=""
measure() { # title port scenario
  local title=$1 port=$2 scenario=$3 frame="$work/request-$2-$3.bin" out rate p50 p99
  "$bin/hourglass-load" frame --addr "127.0.0.1:$port" --scenario "$scenario" --out "$frame" >/dev/null
  rm -f "$work/h2load.log"
  out="$(h2load --duration "$seconds" --warm-up-time 2 -c "$connections" -m "$streams" -t 1 \
    --data "$frame" -H 'content-type: application/grpc' -H 'te: trailers' --log-file "$work/h2load.log" \
    "http://127.0.0.1:$port/hourglass.v1.PolicyService/Authorize")"
  if ! grep -q ' 0 failed, 0 errored' <<<"$out" || ! grep -q 'status codes: [1-9][0-9]* 2xx, 0 3xx, 0 4xx, 0 5xx' <<<"$out"; then
    printf '%s\n' "$out" >&2
    echo "h2load: the line \"$title\" had failures (above)" >&2
    exit 1
  fi
  rate="$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")"
  # The log: one line per request, its start (µs since the epoch), its HTTP status and its time (µs).
  read -r p50 p99 < <(cut -f3 "$work/h2load.log" | sort -n | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "- -"; exit }
    i50 = int(NR * 0.50); if (i50 < 1) i50 = 1; i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
    printf "%.2f %.2f\n", v[i50] / 1000, v[i99] / 1000 }')
  printf '%s: %s req/s, p50 %s ms, p99 %s ms\n' "$title" "$rate" "$p50" "$p99"
  if [ -z "$bare_rate" ]; then bare_rate=$rate; fi
  rows+=("$title|$rate|$p50|$p99")
}

measure "bare tonic" 50400 unregistered
measure "Hourglass on sled, unregistered" 50401 unregistered
measure "Hourglass on sled, registered, every guard on" 50401 registered
measure "Hourglass on Redis, unregistered" 50402 unregistered
measure "Hourglass on Redis, registered, every guard on" 50402 registered
measure "bare tonic, again" 50400 unregistered

echo
echo "h2load, Authorize, $seconds s a line after 2 s of warm-up, $connections connections x $streams streams, 1 client thread, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; $(date -u +%Y-%m-%d)"
echo
echo "| target | requests/s | % of bare | p50 | p99 |"
echo "|---|---:|---:|---:|---:|"
for row in "${rows[@]}"; do
  IFS='|' read -r title rate p50 p99 <<<"$row"
  awk -v t="$title" -v r="$rate" -v b="$bare_rate" -v p50="$p50" -v p99="$p99" \
    'BEGIN { printf "| %s | %d | %.0f %% | %s ms | %s ms |\n", t, r, 100 * r / b, p50, p99 }'
done
