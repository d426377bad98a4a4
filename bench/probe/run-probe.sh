#!/bin/sh
# Instructions per inbound chat message with ack and 10-member fan-out, under callgrind
# (docs/benchmarks.md, "Instruction-count probe"). Stable to well under 1% between runs, so a CI
# check may compare it against a committed budget; never compare wall time.
#   bench/run-probe.sh [--messages 2000] [--members 10] [--annotate]
# BUILD_DIR overrides the build directory (default build/bench-release, Release -O3 -DNDEBUG).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-"$root/build/bench-release"}
annotate=0
messages=2000
args=""
while [ $# -gt 0 ]; do
  case $1 in
    --annotate) annotate=1 ;;
    --messages) messages=$2; args="$args --messages $2"; shift ;;
    *) args="$args $1" ;;
  esac
  shift
done
cd "$root"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DROOMWIRE_BUILD_BENCH=ON >/dev/null
cmake --build "$build" -j "${JOBS:-2}" --target roomwire_bench_probe >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# shellcheck disable=SC2086
valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$out/cg.out" \
  "$build/bench/probe/roomwire_bench_probe" $args 2>"$out/log"
total=$(sed -n 's/^summary: *//p; s/^totals: *//p' "$out/cg.out" | head -n1 | cut -d' ' -f1)
echo "instructions per message (ack + fan-out): $((total / messages)) ($total over $messages)"
if [ $annotate = 1 ]; then
  callgrind_annotate --inclusive=yes "$out/cg.out" 2>/dev/null | head -n 60
  callgrind_annotate "$out/cg.out" 2>/dev/null | sed -n '1,60p' | tail -n 40
fi
