# shellcheck shell=sh
# Sourced by bench/run-suite.sh and bench/probe/compare-ack.sh.
#
# rotated K ITEM...: the items after their first K (modulo their number) have moved to the end.
# Repetition r of a benchmark runs its servers in the list rotated by r - 1, so that no server
# always runs first (or last): on this VM a run reads differently by its place in a sequence
# (docs/benchmarks.md, "One of those levers, tried and not kept"). Rotation keeps each server's
# neighbours; it changes only the places.
rotated() {
  k=$(($1 % ($# - 1)))
  shift
  while [ "$k" -gt 0 ]; do
    set -- "$@" "$1"
    shift
    k=$((k - 1))
  done
  echo "$@"
}
