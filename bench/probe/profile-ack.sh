#!/bin/sh
# Where a server's CPU time goes per acknowledgement: perf samples the server's CPU clock (no
# hardware counters are needed, so it works on this VM) during the suite's ack scenario, and the
# samples are summed by where they landed: the kernel, the system-call wrappers of libc, and, in
# user code, by kind — allocator, Asio's scheduler and reactor, the hash maps, JSON — then the
# top user functions. The counterpart of count-syscalls.sh (how many calls) and
# run-server-probe.sh (how many instructions): time, which neither of them measures.
#
# Read the kernel's share with care: this VM's kernel runs most of its paths with interrupts
# disabled, so a sample that falls there is taken when they are enabled again (most kernel
# samples land in pvm_irq_enable), and some land on the user instruction right after a system
# call returns, which is why libc's system-call wrappers are counted apart from user code.
# Under perf the kernel time also reads higher than in the suite, the more so the more often a
# server is switched out (the raw peer: about 28 µs per acknowledgement here, 16.5 in the suite);
# the user rows are not affected, and they are what this script is for. Sampling more often costs
# more: at one sample per 2 ms of CPU (the default; PERIOD_US overrides it) roomwire's total
# reads close to the suite's, at one per 0.5 ms about 40% above. A 10 s window at 10,000/s gives
# about 1,700 samples, so a share of a few per cent is good to about a quarter of itself.
#   bench/probe/profile-ack.sh [--peer roomwire|raw|node-ws] [--server PATH] [--rate 10000]
#                              [--connections 1000] [--window 10]
# Needs perf (Debian: linux-perf) and root, or a perf_event_paranoid that allows sampling.
# BUILD_DIR overrides the build directory (default build/bench-release).
usage="profile-ack.sh [--peer roomwire|raw|node-ws] [--server PATH] [--rate N] [--connections N] [--window S]"
. "$(dirname "$0")/ack-under-perf.sh"
window=10
parse_ack_options "$@"
build_ack_tools
period_us=${PERIOD_US:-2000}  # one sample per this many µs of the server's CPU time
run_ack_under_perf "perf record -q -e cpu-clock -c $((period_us * 1000))"
perf report -i "$out/perf" --stdio --sort dso,sym -F sample,dso,sym -t '|' 2>/dev/null |
  grep -v '^#' | awk -F'|' -v acks="$acks" -v period="$period_us" -v peer="$peer" \
    -v rate="$rate" -v connections="$connections" '
  function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
  BEGIN {
    split("kernel|system-call wrappers (kernel time, mostly)|user: allocator|" \
          "user: Asio reactor and scheduler, mutexes|user: hash maps (rooms, dedup, room seqs)|" \
          "user: JSON and framing|user: JIT code|user: other", kinds, "|")
  }
  NF >= 3 {
    n = trim($1) + 0; dso = trim($2); sym = trim($3); sub(/^\[[.k]\] /, "", sym)
    total += n
    if (dso == "[kernel.kallsyms]") kind = kinds[1]
    else if (dso ~ /^libc/ && sym ~ /^(__libc_|__GI___libc_|__GI___|__)?(epoll_wait|epoll_pwait|epoll_ctl|sendmsg|sendto|send|recvmsg|recvfrom|recv|read|write|writev|readv|mprotect|pthread_(enable|disable)_asynccancel)$/) kind = kinds[2]
    else if (sym ~ /malloc|free|_int_|tcache|operator new|operator delete/) kind = kinds[3]
    else if (sym ~ /^asio::|pthread_mutex/) kind = kinds[4]
    else if (sym ~ /_Hashtable|_Map_base|_Hash_bytes|dedup|recall|remember|next_seq|in_process_broker::record/) kind = kinds[5]
    else if (sym ~ /json|quick_reader|inbound_frame|encode|Writer|utf8|JsonStringifier|JsonParser/) kind = kinds[6]
    else if (dso ~ /JIT/) kind = kinds[7]
    else kind = kinds[8]
    by_kind[kind] += n
    if (kind ~ /^user/) { ++users; name[users] = dso " " sym; count[users] = n }
  }
  END {
    if (total == 0) { print "profile-ack: no samples" > "/dev/stderr"; exit 1 }
    printf "%s: CPU per acknowledgement at %d/s over %d connections (%d acks, %d samples, 1 per %d us)\n",
      peer, rate, connections, acks, total, period
    for (i = 1; i <= 8; ++i) {
      if (by_kind[kinds[i]] == 0) continue
      printf "  %-46s %5.1f%%  %6.2f us\n", kinds[i], 100 * by_kind[kinds[i]] / total,
        by_kind[kinds[i]] * period / acks
    }
    printf "  %-46s %5.1f%%  %6.2f us\n", "all", 100, total * period / acks
    print "  top user functions:"
    for (k = 1; k <= 15 && k <= users; ++k) {  # selection of the 15 largest
      best = k
      for (j = k + 1; j <= users; ++j) if (count[j] > count[best]) best = j
      t = count[k]; count[k] = count[best]; count[best] = t
      t = name[k]; name[k] = name[best]; name[best] = t
      printf "    %5.1f%%  %s\n", 100 * count[k] / total, substr(name[k], 1, 110)
    }
  }'
