#!/bin/sh
# Instructions per acknowledgement of the whole roomwire-server (socket code, Asio, hub), in user
# space, under callgrind (docs/benchmarks.md, "Instruction-count probe"). The load generator's
# ack scenario (each connection alone in its room, every message acknowledged) runs twice against
# a server under callgrind, for SHORT and for 2 x SHORT seconds; the difference of the two totals
# over the difference of the acknowledgements leaves out start-up and connection set-up.
#   bench/probe/run-server-probe.sh [--server PATH] [--rate 500] [--seconds 4] [--connections 100]
#                                   [--cache-sim]
# --cache-sim adds callgrind's cache simulation and prints the simulated misses per
# acknowledgement too (L1 instruction, L1 data read and write, last level): with many connections
# (e.g. --connections 1000 --rate 200) it shows how much of the state a message touches comes
# from beyond the L1 cache, which this VM's kernel cannot count. Simulated, on callgrind's model of
# the host's caches, and about four times slower.
# BUILD_DIR overrides the build directory (default build/bench-release, Release -O3 -DNDEBUG).
# Counts instructions, not time: stable on a shared machine. Kernel time (the system calls) is
# not counted; see the suite's ack scenario for that.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-"$root/build/bench-release"}
server=""
rate=500
seconds=4
connections=100
cache_sim=no
while [ $# -gt 0 ]; do
  case $1 in
    --server) server=$2; shift ;;
    --rate) rate=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --connections) connections=$2; shift ;;
    --cache-sim) cache_sim=yes ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
cd "$root"
if [ -z "$server" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DROOMWIRE_BUILD_BENCH=ON \
    -DROOMWIRE_BUILD_EXAMPLES=ON >/dev/null
  cmake --build "$build" -j "${JOBS:-2}" --target roomwire-server roomwire_bench_load >/dev/null
  server="$build/apps/roomwire-server/roomwire-server"
else
  cmake --build "$build" -j "${JOBS:-2}" --target roomwire_bench_load >/dev/null
fi
load="$build/bench/suite/roomwire_bench_load"
. "$root/bench/server-flags.sh"  # $roomwire_server_flags: the suite's
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Prints "<acknowledgements> <instructions> [<the simulated cache events>]" for one run of
# `seconds` seconds.
run() {
  # shellcheck disable=SC2086 # word splitting of the flags is intended
  "$load" --scenario ack --connections "$connections" --rates "$rate" --step-s "$1" \
    --tag probe -- valgrind --tool=callgrind --cache-sim=$cache_sim --callgrind-out-file="$out/cg.$1" "$server" \
    $roomwire_server_flags >"$out/log.$1" 2>&1
  acks=$(awk -F, '$1 == "probe" && $2 == "ack" { n = $5 } END { print n }' "$out/log.$1")
  # The load generator waits for the server to exit (SIGTERM): callgrind has written its file.
  total=$(sed -n 's/^summary: *//p; s/^totals: *//p' "$out/cg.$1" | head -n1)
  if [ -z "$acks" ] || [ -z "$total" ]; then
    echo "run of $1 s failed:" >&2
    cat "$out/log.$1" >&2
    exit 1
  fi
  # acknowledged per second (column 5) x seconds
  echo "$(awk -v r="$acks" -v s="$1" 'BEGIN { printf "%d", r * s }') $total"
}
short=$(run "$seconds")
long=$(run $((seconds * 2)))
set -- $short
acks_short=$1 ir_short=$2
set -- $long
acks=$(($1 - acks_short)) ir_long=$2
echo "instructions per acknowledgement (server, user space): $(((ir_long - ir_short) / acks))" \
  "(($ir_long - $ir_short) over $acks acknowledgements; $connections connections, $rate/s)"
if [ "$cache_sim" = yes ]; then
  # callgrind's event order with --cache-sim=yes: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw
  echo "$short" "$long" | awk -v n="$acks" '{
    split("Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw", name, " ")
    half = NF / 2
    printf "simulated per acknowledgement:"
    for (i = 5; i <= 10; ++i) printf " %s %.1f", name[i - 1], ($(half + i) - $i) / n
    printf "\n"
  }'
fi
