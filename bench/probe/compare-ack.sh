#!/bin/sh
# Server CPU per acknowledgement of several servers in the suite's ack scenario, each run in turn
# many times over (the order rotated every repetition), and each server's ratio to the first one
# taken within a repetition. On this VM a server's reading drifts by a third over minutes, and the
# servers of one repetition drift together (docs/benchmarks.md, "The levers, measured"): paired
# ratios over many short repetitions say more than a few long runs.
#   bench/probe/compare-ack.sh [--reps 15] [--step-s 3] [--rate 10000] [--connections 1000] PEER...
# --rate also takes the suite's ladder (--rate 2500,5000,10000 --step-s 2: each server warmed up
# by the lower steps, as in bench/run-suite.sh); only the last step is read.
# PEER is one of
#   roomwire            roomwire-server, one I/O thread (as in the suite)
#   own-loop            bench/probe/own_loop.cpp: the same hub behind an event loop of our own
#   own-loop-prefault   the same, its heap mapped and touched before the run (no page faults)
#   own-loop-lean       the same, keeping no room history and one dedup entry per user
#   raw, node-ws        the suite's peers
#   raw+N               the raw peer spending N µs of CPU on each message before it replies
#                       (--busy-us N): what a slower reply costs a server on this machine
#   raw-after+N         the same N µs spent after the reply has been written (--busy-after-us N)
#   raw-rearm           the raw peer re-registering each connection with epoll_ctl after each read,
#                       as Asio does for every wait (--rearm)
#   raw-touch+K         the raw peer reading and writing K KiB of per-connection state on each
#                       message, spread over 4*K arrays (--touch-kib K)
# Prints, per peer, the median µs of server CPU per acknowledgement with its range, the median of
# its per-repetition ratios to the first PEER with their range, and the median count of interrupts
# one CPU sent the other per acknowledgement (system-wide; on this VM a wake-up of a sleeping vCPU
# is one of them).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-"$root/build/bench-release"}
usage="compare-ack.sh [--reps N] [--step-s S] [--rate N[,N...]] [--connections N] PEER..."
reps=15
step=3
rate=10000
connections=1000
while [ $# -gt 0 ]; do
  case $1 in
    --reps) reps=$2; shift ;;
    --step-s) step=$2; shift ;;
    --rate) rate=$2; shift ;;
    --connections) connections=$2; shift ;;
    -*) echo "unknown option $1; usage: $usage" >&2; exit 2 ;;
    *) break ;;
  esac
  shift
done
[ $# -ge 1 ] || { echo "usage: $usage" >&2; exit 2; }
for peer in "$@"; do
  case $peer in
    roomwire | own-loop | own-loop-prefault | own-loop-lean | raw | raw-rearm | node-ws) ;;
    raw+* | raw-after+* | raw-touch+*) case ${peer#raw*+} in '' | *[!0-9]*)
        echo "raw+N, raw-after+N (µs) and raw-touch+K (KiB) take a whole number: $peer" >&2; exit 2 ;; esac ;;
    *) echo "unknown peer $peer; usage: $usage" >&2; exit 2 ;;
  esac
done
peers="$*"

cd "$root"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DROOMWIRE_BUILD_BENCH=ON \
  -DROOMWIRE_BUILD_EXAMPLES=ON >/dev/null
cmake --build "$build" -j "${JOBS:-2}" --target roomwire-server roomwire_bench_load \
  roomwire_peer_raw roomwire_bench_own_loop >/dev/null

. "$root/bench/server-flags.sh"  # $roomwire_server_flags: the suite's
flags=$roomwire_server_flags
own="$build/bench/probe/roomwire_bench_own_loop $flags"
server_cmd() {
  case $1 in
    roomwire) echo "$build/apps/roomwire-server/roomwire-server $flags" ;;
    own-loop) echo "$own" ;;
    own-loop-prefault) echo "$own --prefault-mib 512" ;;
    own-loop-lean) echo "$own --room-history 0 --dedup-entries 1" ;;
    raw) echo "$build/bench/peers/roomwire_peer_raw --port 0" ;;
    raw-rearm) echo "$build/bench/peers/roomwire_peer_raw --port 0 --rearm" ;;
    raw+*) echo "$build/bench/peers/roomwire_peer_raw --port 0 --busy-us ${1#raw+}" ;;
    raw-after+*) echo "$build/bench/peers/roomwire_peer_raw --port 0 --busy-after-us ${1#raw-after+}" ;;
    raw-touch+*) echo "$build/bench/peers/roomwire_peer_raw --port 0 --touch-kib ${1#raw-touch+}" ;;
    node-ws) echo "node bench/peers/ws_server.js --port 0" ;;
  esac
}

. "$root/bench/rotated.sh"  # rotated K LIST: the order of repetition K + 1

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
rep=1
while [ "$rep" -le "$reps" ]; do
  # shellcheck disable=SC2086 # word splitting of the list is intended
  for peer in $(rotated $((rep - 1)) $peers); do
    # shellcheck disable=SC2046 # word splitting of the command is intended
    "$build/bench/suite/roomwire_bench_load" --scenario ack --connections "$connections" \
      --rates "$rate" --step-s "$step" --csv "$out/rows.csv" --tag "$peer,$rep" \
      -- $(server_cmd "$peer") >"$out/log" 2>&1 || {
      echo "$peer failed in repetition $rep:" >&2
      cat "$out/log" >&2
      exit 1
    }
    # "ack: 1.10 cross-CPU interrupts per acknowledgement (system-wide)", one line per step: the
    # last step's
    sed -n "s/^ack: \([0-9.]*\) cross-CPU interrupts.*/$peer,$rep,\1/p" "$out/log" | tail -n 1 \
      >>"$out/ipis.csv"
  done
  echo "repetition $rep/$reps done (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  rep=$((rep + 1))
done

# Columns of the load generator's CSV: tag (peer, repetition), scenario, phase, offered rate, ...,
# 13th: µs of server CPU per acknowledgement.
python3 - "$out/rows.csv" "$out/ipis.csv" "${rate##*,}" "$@" <<'PY'
import collections, statistics, sys
rows, ipi_rows, last_rate, peers = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4:]
ipis = collections.defaultdict(list)
for line in open(ipi_rows):
    peer, _, count = line.strip().split(",")
    ipis[peer].append(float(count))
by_rep = collections.defaultdict(dict)
for line in open(rows):
    f = line.strip().split(",")
    if len(f) > 12 and f[2] == "ack" and float(f[4]) == last_rate:  # the last step only
        by_rep[f[1]][f[0]] = float(f[12])
base = peers[0]
print(f"us of server CPU per acknowledgement, {len(by_rep)} repetitions; ratio: to {base}, "
      "median of the per-repetition ratios; IPIs: cross-CPU interrupts per acknowledgement")
for p in peers:
    us = [r[p] for r in by_rep.values() if p in r]
    ratio = [r[p] / r[base] for r in by_rep.values() if p in r and base in r and r[base] > 0]
    ipi = f"{statistics.median(ipis[p]):.2f}" if ipis[p] else "-"  # "-": an older load generator
    print(f"{p:18s} {statistics.median(us):6.1f} ({min(us):.1f}-{max(us):.1f})   "
          f"ratio {statistics.median(ratio):.2f} ({min(ratio):.2f}-{max(ratio):.2f})   IPIs {ipi}")
PY
