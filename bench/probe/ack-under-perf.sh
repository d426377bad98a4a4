# Sourced by count-syscalls.sh and profile-ack.sh: runs the suite's ack scenario against a server
# and attaches perf to the server for a window in the middle of the step.
#
# The sourcing script sets `usage` (its one-line usage) and calls, in order:
#   parse_ack_options "$@"   the common flags: --peer, --server, --rate, --connections, --window
#   build_ack_tools          builds build/bench-release (BUILD_DIR overrides it)
#   run_ack_under_perf CMD   CMD is the perf command, run as `CMD -o $out/perf -p PID -- sleep
#                            WINDOW` ($out is a scratch directory, removed on exit); prints nothing
# after which $acks is the number of acknowledgements in the window and $out/perf what perf wrote.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-"$root/build/bench-release"}
peer=roomwire
server=""
rate=10000
connections=1000
window=5

parse_ack_options() {
  while [ $# -gt 0 ]; do
    case $1 in
      --peer) peer=$2; shift ;;
      --server) server=$2; shift ;;
      --rate) rate=$2; shift ;;
      --connections) connections=$2; shift ;;
      --window) window=$2; shift ;;
      *) echo "unknown option $1; usage: $usage" >&2; exit 2 ;;
    esac
    shift
  done
  case $peer in roomwire | raw | node-ws) ;; *) echo "unknown peer $peer" >&2; exit 2 ;; esac
}

build_ack_tools() {
  command -v perf >/dev/null || { echo "$(basename "$0"): needs perf (scripts/install-deps --bench installs it)" >&2; exit 1; }
  cd "$root"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DROOMWIRE_BUILD_BENCH=ON \
    -DROOMWIRE_BUILD_EXAMPLES=ON >/dev/null
  cmake --build "$build" -j "${JOBS:-2}" --target roomwire-server roomwire_bench_load \
    roomwire_peer_raw roomwire_bench_syscalls >/dev/null
}

run_ack_under_perf() {
  perf_command=$1
  case $peer in
    roomwire)
      . "$root/bench/server-flags.sh"  # $roomwire_server_flags: the suite's
      # shellcheck disable=SC2086 # word splitting of the flags is intended
      set -- "${server:-$build/apps/roomwire-server/roomwire-server}" $roomwire_server_flags ;;
    raw) set -- "${server:-$build/bench/peers/roomwire_peer_raw}" --port 0 ;;
    node-ws) set -- node bench/peers/ws_server.js --port 0 ;;
  esac
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
  # The load generator starts the server through this wrapper, which starts perf on it once the
  # connections are up and the step is under way (the load connects, warms up 1 s, then steps).
  # The wrapper returns only once perf has finished too (the last `wait`). perf counts for WINDOW
  # seconds from when it has attached; attaching to all of the syscalls tracepoints took 14 s on
  # 2026-12-03, hence the step's 30 s to spare.
  cat >"$out/wrap.sh" <<WRAP
#!/bin/sh
"\$@" &
pid=\$!
trap 'kill -TERM \$pid' TERM
( sleep 3; $perf_command -o "$out/perf" -p \$pid -- sleep $window && touch "$out/perf-done" ) >"$out/perf-log" 2>&1 &
wait \$pid; wait \$pid
wait
WRAP
  chmod +x "$out/wrap.sh"
  "$build/bench/suite/roomwire_bench_load" --scenario ack --connections "$connections" \
    --rates "$rate" --step-s $((window + 30)) --tag count -- "$out/wrap.sh" "$@" >"$out/log" 2>&1 || {
    cat "$out/log" >&2
    exit 1
  }
  acks=$(awk -F, -v w="$window" '$1 == "count" && $2 == "ack" { n = $5 * w } END { printf "%d", n }' "$out/log")
  if [ "$acks" -eq 0 ] || [ ! -e "$out/perf-done" ]; then
    echo "$(basename "$0"): no acknowledgements, or perf did not finish; the load's log:" >&2
    cat "$out/log" "$out/perf-log" >&2
    exit 1
  fi
}
