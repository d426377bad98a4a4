#!/bin/sh
# Builds the fan-out benchmark with the release preset and runs it (docs/benchmarks.md,
# "Room fan-out"). Arguments go to the benchmark, e.g. --receivers 1000 --server-threads 1.
# BUILD_DIR overrides the build directory (default: the release preset's, build/release).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-"$root/build/release"}
cd "$root"
cmake --preset release -B "$build" >/dev/null
cmake --build "$build" --target roomwire_bench_fanout roomwire-server -j "${JOBS:-2}"
cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
echo "machine: nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //');" \
  "$("$cxx" --version | head -n1)"
exec "$build/bench/fanout/roomwire_bench_fanout" "$@"
