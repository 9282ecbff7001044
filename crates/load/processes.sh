# Sourced by the scripts of crates/load: a scratch directory ($work), the processes they start ($pids,
# stopped on exit, resumed first in case one was stopped with SIGSTOP), and wait_for_port.

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill -CONT "$pid" 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Waits up to 10 s for a listener on 127.0.0.1:PORT; else prints $work/WHAT-PORT.log if there is one,
# and exits.
wait_for_port() { # port what
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return; fi
    sleep 0.1
  done
  echo "$2 on port $1 did not start" >&2
  cat "$work/$2-$1.log" >&2 2>/dev/null || true
  exit 1
}
