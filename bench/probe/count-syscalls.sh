#!/bin/sh
# System calls, page faults and context switches per acknowledgement of a server, counted by the
# kernel (perf stat's tracepoints), and what one system call costs here (roomwire_bench_syscalls)
# — the kernel half of the suite's ack scenario (docs/benchmarks.md, "Ack CPU"); where the time
# goes is profile-ack.sh, the instructions run-server-probe.sh. The load generator's ack scenario
# runs at RATE acknowledgements/s over CONNECTIONS connections (each alone in its room) and perf
# counts the server for WINDOW seconds in the middle of the step. Needs perf (Debian: linux-perf)
# and root, or a perf_event_paranoid that allows tracepoints.
#   bench/probe/count-syscalls.sh [--peer roomwire|raw|node-ws] [--server PATH] [--rate 10000]
#                                 [--connections 1000] [--window 5]
# BUILD_DIR overrides the build directory (default build/bench-release).
usage="count-syscalls.sh [--peer roomwire|raw|node-ws] [--server PATH] [--rate N] [--connections N] [--window S]"
. "$(dirname "$0")/ack-under-perf.sh"
parse_ack_options "$@"
build_ack_tools
run_ack_under_perf "perf stat -x, -e page-faults,context-switches -e 'syscalls:sys_enter_*'"
echo "$peer: per acknowledgement at $rate/s over $connections connections ($acks in $window s):"
awk -F, -v n="$acks" '$1 ~ /^[0-9]+$/ && $1 > 0 {
  name = $3; sub(/^syscalls:sys_enter_/, "", name)
  printf "  %-18s %6.2f\n", name, $1 / n }' "$out/perf" | sort -k2 -n -r
"$build/bench/probe/roomwire_bench_syscalls" --rounds 1
