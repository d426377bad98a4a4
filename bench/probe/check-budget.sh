#!/bin/sh
# The CI side of the instruction-count probe (docs/benchmarks.md): runs roomwire_bench_probe
# under callgrind and fails when the hub's instructions per message (ack + 10-member fan-out)
# exceed the budget for this build type in bench/probe/budget.txt by more than 3%. Instruction
# counts, not time: the result does not depend on how busy the machine is.
#   check-budget.sh PROBE BUILD_TYPE
set -eu
probe=$1
build_type=$2
here=$(cd "$(dirname "$0")" && pwd)
budget=$(awk -v t="$build_type" '$1 == t { print $2 }' "$here/budget.txt")
if [ -z "$budget" ]; then
  echo "check-budget: no budget for build type '$build_type' in bench/probe/budget.txt" >&2
  exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
messages=2000
valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$out/cg.out" \
  "$probe" --messages $messages --members 10 >"$out/stdout" 2>"$out/log" || {
  cat "$out/log" >&2
  exit 1
}
total=$(sed -n 's/^summary: *//p; s/^totals: *//p' "$out/cg.out" | head -n1 | cut -d' ' -f1)
if [ -z "$total" ]; then
  echo "check-budget: callgrind wrote no instruction total; its log:" >&2
  cat "$out/log" >&2
  exit 1
fi
per=$((total / messages))
limit=$((budget + budget * 3 / 100))
echo "instructions per message (ack + 10-member fan-out, $build_type): $per; budget $budget," \
  "limit $limit"
if [ "$per" -gt "$limit" ]; then
  echo "check-budget: the hub's hot path grew by $(((per - budget) * 100 / budget))%." \
    "bench/probe/run-probe.sh --annotate shows where; if the growth is wanted, raise the" \
    "budget in bench/probe/budget.txt and say why in the commit." >&2
  exit 1
fi
if [ "$per" -lt $((budget - budget / 10)) ]; then
  echo "check-budget: more than 10% under budget: lower it in bench/probe/budget.txt."
fi
