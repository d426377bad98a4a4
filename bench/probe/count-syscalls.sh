#!/bin/sh
# System calls, page faults and context switches per acknowledgement of a server, counted by the
# kernel (perf stat's tracepoints), and what one system call costs here (roomwire_bench_syscalls)
# — the kernel half of the suite's ack scenario (docs/benchmarks.md, "Ack CPU"); the user half is
# run-server-probe.sh. The load generator's ack scenario runs at RATE acknowledgements/s over
# CONNECTIONS connections (each alone in its room) and perf counts the server for WINDOW seconds
# in the middle of the step. Needs perf (Debian: linux-perf) and root, or a perf_event_paranoid
# that allows tracepoints.
#   bench/probe/count-syscalls.sh [--peer roomwire|raw|node-ws] [--server PATH] [--rate 10000]
#                                 [--connections 1000] [--window 5]
# BUILD_DIR overrides the build directory (default build/bench-release).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-"$root/build/bench-release"}
peer=roomwire
server=""
rate=10000
connections=1000
window=5
while [ $# -gt 0 ]; do
  case $1 in
    --peer) peer=$2; shift ;;
    --server) server=$2; shift ;;
    --rate) rate=$2; shift ;;
    --connections) connections=$2; shift ;;
    --window) window=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
command -v perf >/dev/null || { echo "count-syscalls: needs perf (apt-get install linux-perf)" >&2; exit 1; }
cd "$root"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DROOMWIRE_BUILD_BENCH=ON \
  -DROOMWIRE_BUILD_EXAMPLES=ON >/dev/null
cmake --build "$build" -j "${JOBS:-2}" --target roomwire-server roomwire_bench_load \
  roomwire_peer_raw roomwire_bench_syscalls >/dev/null
case $peer in
  roomwire)
    set -- "${server:-$build/apps/roomwire-server/roomwire-server}" --port 0 --rate 1000000000 \
      --burst 1000000000 --ping-interval-ms 3600000 --threads 1 --max-connections 100000 \
      --log-level warning ;;
  raw) set -- "${server:-$build/bench/peers/roomwire_peer_raw}" --port 0 ;;
  node-ws) set -- node bench/peers/ws_server.js --port 0 ;;
  *) echo "unknown peer $peer" >&2; exit 2 ;;
esac
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# The load generator starts the server through this wrapper, which starts perf on it once the
# connections are up and the step is under way (the load connects, warms up 1 s, then steps).
cat >"$out/wrap.sh" <<WRAP
#!/bin/sh
"\$@" &
pid=\$!
trap 'kill -TERM \$pid' TERM
( sleep 3; perf stat -x, -o "$out/perf" -e page-faults,context-switches \
    -e 'syscalls:sys_enter_*' -p \$pid -- sleep $window ) >/dev/null 2>&1 &
wait \$pid; wait \$pid
WRAP
chmod +x "$out/wrap.sh"
"$build/bench/suite/roomwire_bench_load" --scenario ack --connections "$connections" \
  --rates "$rate" --step-s $((window + 5)) --tag count -- "$out/wrap.sh" "$@" >"$out/log" 2>&1 || {
  cat "$out/log" >&2
  exit 1
}
# perf stops after WINDOW s, before the step ends; its file is written as it exits.
for _ in 1 2 3 4 5 6 7 8 9 10; do
  grep -q sys_enter "$out/perf" 2>/dev/null && break
  sleep 1
done
acks=$(awk -F, -v w="$window" '$1 == "count" && $2 == "ack" { n = $5 * w } END { printf "%d", n }' "$out/log")
if [ "$acks" -eq 0 ] || ! grep -q sys_enter "$out/perf"; then
  echo "count-syscalls: no acknowledgements or no perf counts; the load's log:" >&2
  cat "$out/log" >&2
  exit 1
fi
echo "$peer: per acknowledgement at $rate/s over $connections connections ($acks in $window s):"
awk -F, -v n="$acks" '$1 ~ /^[0-9]+$/ && $1 > 0 {
  name = $3; sub(/^syscalls:sys_enter_/, "", name)
  printf "  %-18s %6.2f\n", name, $1 / n }' "$out/perf" | sort -k2 -n -r
"$build/bench/probe/roomwire_bench_syscalls" --rounds 1
