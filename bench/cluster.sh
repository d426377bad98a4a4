#!/bin/sh
# Cross-node fan-out through Redis (docs/benchmarks.md, "Cross-node fan-out (Redis, issue 7)").
#
#   bench/cluster.sh [--reps 3] [--connections 1000] [--nodes 3] [--quick]
#
# Compares, interleaved A B A B ... for --reps repetitions, on the same machine:
#   A = one roomwire-server, no Redis: the suite's scenario (1), 1 sender -> room of 1,000;
#   B = three roomwire-server nodes sharing one Redis (--redis), the same room spread over them:
#       receiver i on node i % 3, the sender on node 0 (roomwire_bench_load --nodes 3).
# Each run: 1 s warm-up, capacity (closed loop, <= 64 messages not yet delivered to all, 3 s),
# then fixed-rate latency at 50% of that capacity (2 s). Reported per repetition: capacity in
# deliveries/s and p50 at 50%; then the median over repetitions of capacity(B) / capacity(A).
#
# It builds nothing. It expects the Release tree with Redis support:
#   cmake --preset release && cmake --build --preset release
# (or: cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DROOMWIRE_REDIS=ON &&
#  cmake --build build/release --target roomwire-server roomwire_bench_load).
# BUILD_DIR overrides the build directory (default build/release). It starts its own
# redis-server (Debian's; REDIS_SERVER overrides) on a free 127.0.0.1 port with no persistence
# (--save "" --appendonly no) in a temporary directory, empties it (FLUSHALL) and resets its
# command statistics (logged after the run) before every B run, and stops it at the end. Raw rows: bench/results/cluster-<UTC time>.csv, the load generator's
# output: bench/results/cluster-<UTC time>.log; a markdown table on standard output.
# --quick: 1 repetition, short phases, a room of 200 (a smoke test; its numbers are not quoted).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-"$root/build/release"}
redis_server=${REDIS_SERVER:-redis-server}
reps=3
connections=1000
nodes=3
phases="--warmup-s 1 --capacity-s 3 --step-s 2"
while [ $# -gt 0 ]; do
  case $1 in
    --reps) reps=$2; shift ;;
    --connections) connections=$2; shift ;;
    --nodes) nodes=$2; shift ;;
    --quick) reps=1; connections=200; phases="--warmup-s 0.5 --capacity-s 1 --step-s 1" ;;
    *) echo "usage: $0 [--reps N] [--connections N] [--nodes K] [--quick]" >&2; exit 2 ;;
  esac
  shift
done
cd "$root"

server="$build/apps/roomwire-server/roomwire-server"
load="$build/bench/suite/roomwire_bench_load"
for f in "$server" "$load"; do
  if [ ! -x "$f" ]; then
    echo "$f is missing: cmake --preset release && cmake --build --preset release" >&2
    exit 2
  fi
done
if ! "$server" --help | grep -q -- '--redis'; then
  echo "$server has no --redis: configure with -DROOMWIRE_REDIS=ON (the presets do)" >&2
  exit 2
fi

# The same roomwire-server flags as the suite: the limits that would bind lifted, pings off, one
# thread.
. "$root/bench/server-flags.sh"
server_args=$roomwire_server_flags
fanout_args="--scenario fanout --connections $connections $phases --loads 0.5"

tmp=$(mktemp -d)
redis_pid=""
child=""
cleanup() {
  if [ -n "$child" ]; then kill "$child" 2>/dev/null || true; wait "$child" 2>/dev/null || true; fi
  if [ -n "$redis_pid" ]; then
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free port: bind port 0 and let it go (retried if redis-server loses the race).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
tries=0
while :; do
  port=$(free_port)
  "$redis_server" --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir "$tmp" \
    --daemonize no --logfile "$tmp/redis.log" &
  redis_pid=$!
  k=0
  while [ $k -lt 50 ] && ! redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; do
    if ! kill -0 "$redis_pid" 2>/dev/null; then break; fi
    sleep 0.1
    k=$((k + 1))
  done
  if redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; then break; fi
  kill "$redis_pid" 2>/dev/null || true
  wait "$redis_pid" 2>/dev/null || true
  redis_pid=""
  tries=$((tries + 1))
  if [ $tries -ge 5 ]; then echo "cannot start $redis_server" >&2; exit 1; fi
done
redis_url="redis://127.0.0.1:$port"

stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p bench/results
csv="bench/results/cluster-$stamp.csv"
log="bench/results/cluster-$stamp.log"
{
  echo "# bench/cluster.sh $stamp: reps=$reps connections=$connections nodes=$nodes"
  echo "# nproc=$(nproc) cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')" \
    "kernel=$(uname -r) redis=$("$redis_server" --version | sed 's/.*v=\([^ ]*\).*/\1/')"
  # shellcheck disable=SC2086 # one line
  echo "# server=$server" $server_args
} | tee "$log"
echo "config,rep,scenario,phase,offered_per_s,delivered_per_s,p50_ms,p90_ms,p99_ms,max_ms,server_core,client_core,server_us_per_msg,rss_kib_per_conn,ok,redis_core,load1" >"$csv"

failures=0
run() {  # config rep [load generator options] -- command
  config=$1
  rep=$2
  shift 2
  load1=$(cut -d' ' -f1 /proc/loadavg)
  start=$(wc -l <"$log")
  echo "== rep $rep/$reps $config (load $(cut -d' ' -f1-3 /proc/loadavg))" | tee -a "$log"
  rm -f "$tmp/rows.csv"
  # shellcheck disable=SC2086 # word splitting of the argument lists is intended
  "$load" $fanout_args --also-measure-pid "$redis_pid" --csv "$tmp/rows.csv" \
    --tag "$config,$rep" "$@" >>"$log" 2>&1 &
  child=$!
  if wait "$child"; then :; else
    echo "   failed (exit $?); see $log" | tee -a "$log"
    failures=$((failures + 1))
  fi
  child=""
  if [ -f "$tmp/rows.csv" ]; then sed "s/\$/,$load1/" "$tmp/rows.csv" >>"$csv"; fi
  tail -n +"$((start + 1))" "$log" | grep -E '^(capacity|latency)' | sed 's/^/   /' || true
}

rep=1
while [ "$rep" -le "$reps" ]; do
  # shellcheck disable=SC2086
  run single "$rep" -- "$server" $server_args
  redis-cli -h 127.0.0.1 -p "$port" flushall >/dev/null
  redis-cli -h 127.0.0.1 -p "$port" config resetstat >/dev/null
  # shellcheck disable=SC2086
  run "cluster$nodes" "$rep" --nodes "$nodes" -- "$server" $server_args \
    --redis "$redis_url" --node "n{node}"
  # What Redis did for this run (calls per command, CPU), into the log.
  redis-cli -h 127.0.0.1 -p "$port" info commandstats | tr -d '\r' | grep '^cmdstat' \
    | sed 's/^/   redis /' >>"$log"
  rep=$((rep + 1))
done
echo "# failures=$failures load_after=$(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log"
echo "raw results: $csv (log $log)"
echo

python3 - "$csv" "$nodes" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
nodes = sys.argv[2]
by = {}
for r in rows:
    by.setdefault((r["config"], int(r["rep"])), {})[r["phase"]] = r
def f(x, fmt="{:,.0f}"):
    return fmt.format(float(x))
print("| rep | A: 1 node, deliveries/s | A: p50 at 50% | A: server CPU | "
      f"B: {nodes} nodes + Redis, deliveries/s | B: p50 at 50% | B: nodes CPU (sum) | "
      "B: Redis CPU | B / A | load avg (1 min) A, B |")
print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
ratios = []
for rep in sorted({k[1] for k in by}):
    a = by.get(("single", rep), {})
    b = by.get((f"cluster{nodes}", rep), {})
    if "capacity" not in a or "capacity" not in b:
        print(f"| {rep} | incomplete | | | | | | | | |")
        continue
    ratio = float(b["capacity"]["delivered_per_s"]) / float(a["capacity"]["delivered_per_s"])
    ok = all(x["ok"] == "1" for x in list(a.values()) + list(b.values()))
    ratios.append(ratio)
    al, bl = a.get("latency", {}), b.get("latency", {})
    print(f"| {rep} | {f(a['capacity']['delivered_per_s'])} | "
          f"{f(al.get('p50_ms', 0), '{:.2f}')} ms | {f(100 * float(a['capacity']['server_core']))}% | "
          f"{f(b['capacity']['delivered_per_s'])} | {f(bl.get('p50_ms', 0), '{:.2f}')} ms | "
          f"{f(100 * float(b['capacity']['server_core']))}% | "
          f"{f(100 * float(b['capacity']['redis_core']))}% | {ratio:.2f}x{'' if ok else ' (not ok)'} | "
          f"{a['capacity']['load1']}, {b['capacity']['load1']} |")
if ratios:
    m = statistics.median(ratios)
    print()
    print(f"Median B / A over {len(ratios)} repetition(s): **{m:.2f}x** (target >= 0.5x: "
          f"{'met' if m >= 0.5 else 'missed'})")
EOF
[ "$failures" -eq 0 ]
