#!/bin/sh
# CTest bench.suite-smoke: bench/run-suite.sh --quick against roomwire-server and every peer (the C++
# ones of BUILD_DIR; the Node ones need scripts/install-deps' npm ci in bench/peers), into a scratch
# directory (--out). Fails when a scenario does not deliver or acknowledge everything it sent (the
# load generator's own check; chat's capacity search aside), when the report lacks a scenario's
# table, a target's verdict or a picture, or when the run touched the checkout. Says nothing about
# speed: a Debug build's numbers on a busy CI machine are no result.
#   bench/suite/smoke-test.sh BUILD_DIR
set -eu
build=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() {
  echo "suite-smoke: $*" >&2
  exit 1
}

[ -d "$root/bench/peers/node_modules" ] || fail "no bench/peers/node_modules: run scripts/install-deps"
command -v gnuplot >/dev/null || fail "no gnuplot: run scripts/install-deps"

doc_before=$(cksum <"$root/docs/benchmarks.md")
results_before=$(ls "$root/bench/results")
BUILD_DIR=$build "$root/bench/run-suite.sh" --quick --no-build --out "$out" >"$out/run.log" 2>&1 || {
  cat "$out/run.log" >&2
  fail "run-suite.sh failed"
}

meta=$(ls "$out"/suite-*.meta)
grep -qx "failures=0" "$meta" || {
  cat "$out"/suite-*.log >&2
  fail "a scenario failed: $(grep '^failures=' "$meta")"
}
# Every row says that all it sent arrived (the last column, ok), except chat's: a chat step's ok
# is also its p99 under 50 ms, which is the capacity search's timing, not a delivery check.
csv=$(ls "$out"/suite-*.csv)
rows=$(tail -n +2 "$csv" | wc -l)
[ "$rows" -ge 30 ] || fail "only $rows result rows"
not_ok=$(awk -F, 'NR > 1 && $3 != "chat" && $15 != 1' "$csv")
[ -z "$not_ok" ] || fail "rows not ok: $not_ok"

section=$(sed -n '/<!-- suite:begin/,/<!-- suite:end -->/p' "$out/benchmarks.md")
for heading in "#### (1) Room fan-out" "#### (6) 64 KiB messages" "#### (2) 100 rooms" \
  "#### (3) Ack round trip" "#### (4) " "#### (5) Priority 0" "#### Targets (issue 5)"; do
  printf '%s\n' "$section" | grep -qF "$heading" || fail "no \"$heading\" in the report"
done
# Each table has a row per peer.
for peer in "roomwire-server" "raw epoll (pre-framed)" "bare websocketpp" 'Node `ws`' "Socket.IO"; do
  n=$(printf '%s\n' "$section" | grep -cF "| $peer |")
  [ "$n" -eq 6 ] || fail "$n rows for $peer, not one in each of the six tables"
done
# Every target with a verdict (which, on a Debug build, says nothing).
for target in "fan-out ≥ 0.85x raw epoll" "fan-out ≥ 1.5x Node ws" "chat capacity ≥ 2.0x Node" \
  "chat capacity ≥ 2.5x Socket.IO" "ack CPU per ack ≤ 0.6x Node ws" \
  "idle RSS ≤ 6 KiB per connection" "priority-0 p99 under a priority-4 flood ≤ 2x unloaded"; do
  printf '%s\n' "$section" | grep -F "| $target" | grep -qE '\| (met|\*\*missed\*\*) \|$' ||
    fail "no verdict for \"$target\""
done
# Every picture the report shows was drawn.
for name in fanout big chat ack memory priority; do
  printf '%s\n' "$section" | grep -qF "(images/bench-$name.svg)" || fail "bench-$name.svg not shown"
  grep -q "<svg" "$out/images/bench-$name.svg" 2>/dev/null || fail "bench-$name.svg not drawn"
done

[ "$(cksum <"$root/docs/benchmarks.md")" = "$doc_before" ] || fail "docs/benchmarks.md was changed"
[ "$(ls "$root/bench/results")" = "$results_before" ] || fail "bench/results was written to"
echo "suite-smoke: $rows rows, all delivered; the report has every scenario, verdict and picture"
