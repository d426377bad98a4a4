#!/bin/sh
# The benchmark suite against peers (docs/benchmarks.md, "Suite against peers"; issue 5).
# Builds the Release tree, runs every scenario against every peer interleaved, REPS repetitions,
# each repetition starting one peer later (A B C, B C A, C A B, ...), writes raw CSV under
# bench/results/ and regenerates the suite section of docs/benchmarks.md plus
# docs/images/bench-*.svg.
#
#   bench/run-suite.sh [--quick] [--reps N] [--peers "roomwire raw websocketpp node-ws socketio"]
#                      [--scenarios "fanout idle ack chat priority big"] [--no-build] [--no-doc]
#                      [--out DIR]
#
# --quick: 1 repetition, short phases, small sizes (a smoke test; its numbers are not quoted).
# --out DIR: leave the checkout alone: the raw results go to DIR, and the regenerated section to
#   DIR/benchmarks.md (a copy of docs/benchmarks.md) with its pictures in DIR/images.
# BUILD_DIR overrides the build directory (default build/bench-release).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-"$root/build/bench-release"}
quick=0
reps=5
peers="roomwire raw websocketpp node-ws socketio"
scenarios="fanout idle ack chat priority big"
do_build=1
do_doc=1
out=""
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1; reps=1 ;;
    --reps) reps=$2; shift ;;
    --peers) peers=$2; shift ;;
    --scenarios) scenarios=$2; shift ;;
    --no-build) do_build=0 ;;
    --no-doc) do_doc=0 ;;
    --out) mkdir -p "$2"; out=$(cd "$2" && pwd); shift ;;
    *) echo "usage: $0 [--quick] [--reps N] [--peers LIST] [--scenarios LIST] [--no-build] [--no-doc] [--out DIR]" >&2
       exit 2 ;;
  esac
  shift
done
cd "$root"

if [ $do_build = 1 ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DROOMWIRE_BUILD_BENCH=ON \
    -DROOMWIRE_BUILD_EXAMPLES=ON -DROOMWIRE_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build" -j "${JOBS:-2}" --target roomwire-server roomwire_bench_load \
    roomwire_peer_raw roomwire_peer_websocketpp
  if [ ! -d bench/peers/node_modules ]; then (cd bench/peers && npm ci --no-audit --no-fund); fi
fi

load="$build/bench/suite/roomwire_bench_load"
. "$root/bench/server-flags.sh"  # $roomwire_server_flags
server_cmd() {
  case $1 in
    # roomwire-server's limits that would bind are lifted (server-flags.sh): the peers have none.
    roomwire) echo "$build/apps/roomwire-server/roomwire-server $roomwire_server_flags" ;;
    raw) echo "$build/bench/peers/roomwire_peer_raw --port 0" ;;
    websocketpp) echo "$build/bench/peers/roomwire_peer_websocketpp --port 0" ;;
    node-ws) echo "node bench/peers/ws_server.js --port 0" ;;
    socketio) echo "node bench/peers/socketio_server.js --port 0" ;;
    *) echo "unknown peer $1" >&2; exit 2 ;;
  esac
}

if [ $quick = 1 ]; then
  fanout_args="--connections 200 --warmup-s 0.5 --capacity-s 1 --step-s 1 --loads 0.5"
  idle_args="--connections 2000 --settle-s 1"
  ack_args="--connections 200 --rates 2000,10000 --step-s 1"
  chat_args="--rooms 20 --members 10 --rates 250 --rate-factor 2 --step-s 1 --max-steps 5 --refine 1"
  priority_args="--rates 50 --flood-rate 4000 --content-bytes 1024 --slow-kib-per-s 2048 --step-s 1"
  big_args="--connections 20 --content-bytes 65000 --warmup-s 0.5 --capacity-s 1 --step-s 1 --loads 0.5"
else
  fanout_args="--connections 1000 --warmup-s 1 --capacity-s 3 --step-s 2 --loads 0.25,0.5,0.75"
  idle_args="--connections 10000 --settle-s 2"
  ack_args="--connections 1000 --rates 2500,5000,10000 --step-s 2"
  chat_args="--rooms 100 --members 10 --rates 250 --rate-factor 1.5 --step-s 2 --max-steps 14 --refine 2"
  priority_args="--rates 50 --flood-rate 4000 --content-bytes 1024 --slow-kib-per-s 2048 --step-s 3"
  big_args="--connections 100 --content-bytes 65000 --warmup-s 1 --capacity-s 2 --step-s 2 --loads 0.5"
fi

stamp=$(date -u +%Y%m%dT%H%M%SZ)
results=${out:-bench/results}
mkdir -p "$results"
csv="$results/suite-$stamp.csv"
log="$results/suite-$stamp.log"
meta="$results/suite-$stamp.meta"
echo "peer,rep,scenario,phase,offered_per_s,delivered_per_s,p50_ms,p90_ms,p99_ms,max_ms,server_core,client_core,server_us_per_msg,rss_kib_per_conn,ok" >"$csv"
cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "nproc=$(nproc)"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
  echo "compiler=$("$cxx" --version | head -n1)"
  # (none: no Node.js, or no npm ci in bench/peers; only the Node peers need them)
  echo "node=$(node --version 2>/dev/null || echo none)"
  echo "ws=$(node -p "require('./bench/peers/node_modules/ws/package.json').version" 2>/dev/null || echo none)"
  echo "socketio=$(node -p "require('./bench/peers/node_modules/socket.io/package.json').version" 2>/dev/null || echo none)"
  echo "source=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- include src apps 2>/dev/null || echo ' + uncommitted changes in include/src/apps')"
  echo "reps=$reps"
  echo "quick=$quick"
  echo "peers=$peers"
  echo "scenarios=$scenarios"
  echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$meta"
cat "$meta"

# The load generator stops its server itself (also on SIGINT/SIGTERM); this trap covers the
# load generator.
child=""
trap 'if [ -n "$child" ]; then kill "$child" 2>/dev/null || true; fi' EXIT
trap 'exit 130' INT TERM

# Repetition r runs the peers in the list rotated by r - 1 (see rotated.sh).
. "$root/bench/rotated.sh"

failures=0
rep=1
while [ "$rep" -le "$reps" ]; do
  # shellcheck disable=SC2086 # word splitting of the list is intended
  order=$(rotated $((rep - 1)) $peers)
  echo "order_rep$rep=$order" >>"$meta"
  for scenario in $scenarios; do
    eval "args=\$${scenario}_args"
    lg_scenario=$scenario
    [ "$scenario" = big ] && lg_scenario=fanout
    for peer in $order; do
      extra=""
      [ "$peer" = socketio ] && extra="--socketio"
      echo "== rep $rep/$reps $scenario $peer (load $(cut -d' ' -f1 /proc/loadavg))" | tee -a "$log"
      # shellcheck disable=SC2086 # word splitting of the argument lists is intended
      "$load" --scenario "$lg_scenario" $args $extra --csv "$csv.tmp" --tag "$peer,$rep" \
        -- $(server_cmd "$peer") >>"$log" 2>&1 &
      child=$!
      if wait "$child"; then :; else
        echo "   failed (exit $?); see $log" | tee -a "$log"
        failures=$((failures + 1))
      fi
      child=""
      if [ -f "$csv.tmp" ]; then
        sed "s/,fanout,/,$scenario,/" "$csv.tmp" >>"$csv"
        rm -f "$csv.tmp"
      fi
    done
  done
  rep=$((rep + 1))
done
echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$meta"
echo "failures=$failures" >>"$meta"
tail -n 2 "$meta"
echo "raw results: $csv (log $log)"

if [ $do_doc = 1 ]; then
  doc=docs/benchmarks.md
  images=docs/images
  if [ -n "$out" ]; then
    cp docs/benchmarks.md "$out/benchmarks.md"
    doc=$out/benchmarks.md
    images=$out/images
  fi
  python3 bench/suite/report.py --csv "$csv" --meta "$meta" --doc "$doc" --images "$images"
fi
