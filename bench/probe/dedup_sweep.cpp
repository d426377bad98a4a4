// How long the hub's once-a-second call into the dedup memory takes (docs/benchmarks.md, "The
// dedup memory's sweep"). The in-process broker keeps, per user, the acknowledgements of the last
// requests for 5 minutes (PROTOCOL.md §6), and the hub asks it once a second to forget what has
// expired; that call runs on the I/O thread, so every message that arrives meanwhile waits for it.
// This fills a dedup_store with USERS users of IDS ids each, pushes them out of the caches (as a
// second of other work would), and times CALLS calls to expire() at a time when nothing has
// expired: the common case, and the one where the call only visits.
//   roomwire_bench_dedup_sweep [--users 100000] [--ids 3] [--calls 20]
// Wall time, so run it on an otherwise idle machine.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "roomwire/core/dedup.hpp"

namespace {

volatile std::uint64_t sink;  // keeps the cache-clearing loop from being optimised away

long parse(const char* flag, const char* value) {
  char* end = nullptr;
  const long v = std::strtol(value, &end, 10);
  if (end == value || *end != '\0' || v < 1) {
    std::fprintf(stderr, "roomwire_bench_dedup_sweep: %s wants a whole number >= 1, not %s\n", flag,
                 value);
    std::exit(2);
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  long users = 100000, ids = 3, calls = 20;
  for (int i = 1; i < argc; ++i) {
    if (i + 1 >= argc) {
      std::fprintf(stderr, "usage: roomwire_bench_dedup_sweep [--users N] [--ids N] [--calls N]\n");
      return 2;
    }
    if (std::strcmp(argv[i], "--users") == 0) {
      users = parse(argv[i], argv[i + 1]);
    } else if (std::strcmp(argv[i], "--ids") == 0) {
      ids = parse(argv[i], argv[i + 1]);
    } else if (std::strcmp(argv[i], "--calls") == 0) {
      calls = parse(argv[i], argv[i + 1]);
    } else {
      std::fprintf(stderr, "roomwire_bench_dedup_sweep: unknown option %s\n", argv[i]);
      return 2;
    }
    ++i;
  }

  constexpr std::int64_t ttl_ms = 5 * 60 * 1000;  // the protocol's default
  roomwire::core::dedup_store store(1024, ttl_ms);
  roomwire::protocol::message_received ack;
  ack.room_id = "room-00001";
  ack.timestamp = 1;
  ack.seq = 1;
  for (long u = 0; u < users; ++u) {
    const std::string user = "user-" + std::to_string(u);
    for (long k = 0; k < ids; ++k) {
      store.remember(user, "6f1c2a9e-message-" + std::to_string(k), ack, 0);
    }
  }

  std::vector<char> other(64 << 20, 1);  // larger than the last-level cache
  std::vector<double> ms;
  for (long c = 0; c < calls; ++c) {
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < other.size(); i += 64)
      sum += static_cast<unsigned char>(other[i]++);
    sink = sum;
    const auto start = std::chrono::steady_clock::now();
    store.expire(1000 * (c + 1));  // a second apart, long before anything expires
    const auto stop = std::chrono::steady_clock::now();
    ms.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
  }
  if (store.users() != static_cast<std::size_t>(users)) {
    std::fprintf(stderr, "roomwire_bench_dedup_sweep: %zu users left of %ld\n", store.users(),
                 users);
    return 1;
  }
  std::sort(ms.begin(), ms.end());
  std::printf(
      "%ld users, %ld ids each: expire() took %.2f ms median, %.2f ms longest (%ld calls)\n", users,
      ids, ms[ms.size() / 2], ms.back(), calls);
  return 0;
}
