# shellcheck shell=sh
# Sourced by every bench script that runs roomwire-server: run-suite.sh, cluster.sh and, in
# probe/, compare-ack.sh, ack-under-perf.sh and run-server-probe.sh.
#
# The flags they run it with, so that every benchmark measures the same server: the limits that
# would bind lifted (the peers have none) — no rate limit, queues that never shed or close, 1 MiB
# frames (the suite's scenario big), 100,000 connections — pings off, one I/O thread, warnings
# only; and readers paced by their pongs (--pace-readers, off by default), which only the
# priority scenario's slow reader ever needs (docs/benchmarks.md, "Priority"). Word-split on use.
# shellcheck disable=SC2034 # used by the scripts that source this file
roomwire_server_flags="--port 0 --rate 1000000000 --burst 1000000000 \
--queue-soft-bytes 268435456 --queue-hard-bytes 1073741824 --max-message-bytes 1048576 \
--max-connections 100000 --ping-interval-ms 3600000 --threads 1 --log-level warning \
--pace-readers"
