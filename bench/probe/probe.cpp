// Instruction-count probe (docs/benchmarks.md, "Instruction-count probe"): the sans-IO hub with
// a fake transport and a manual clock, as tests/core drive it. One sender and 10 other members
// in a room; one step = one inbound chat `message` (parse, validate, seq, dedup, encode once)
// + popping its acknowledgement and its 10 deliveries. No sockets, no WebSocket framing: this
// is the core's share of the work, stable under valgrind on a noisy machine.
//
//   roomwire_bench_probe [--messages 2000] [--members 10] [--content-bytes 64]
//   valgrind --tool=callgrind --collect-atstart=no build/.../roomwire_bench_probe
//
// Under callgrind only the measured loop is collected (CALLGRIND_TOGGLE_COLLECT); divide the
// "Collected" instruction count by --messages (bench/probe/run-probe.sh does).

#include <valgrind/callgrind.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "roomwire/core/hub.hpp"

namespace {

namespace core = roomwire::core;

class null_transport final : public core::transport {
 public:
  void wake(core::session_id) override {}
  void close(core::session_id, roomwire::protocol::close_code, std::string_view) override {
    std::fputs("roomwire_bench_probe: the hub closed a session\n", stderr);
    std::exit(1);
  }
};

std::string chat(std::size_t k, int content_bytes) {
  std::string content = "#" + std::to_string(k) + " ";
  if (static_cast<int>(content.size()) < content_bytes) {
    content.append(static_cast<std::size_t>(content_bytes) - content.size(), 'x');
  }
  return R"({"type":"message","payload":{"roomId":"probe","content":")" + content +
         R"("},"messageId":"m)" + std::to_string(k) + "\"}";
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t messages = 2000;
  int members = 10;
  int content_bytes = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--messages") == 0) messages = std::strtoul(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--members") == 0) members = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--content-bytes") == 0) content_bytes = std::atoi(argv[i + 1]);
  }
  core::hub_options options;
  options.rate_per_second = 0;  // no rate limit (as tests/core `unlimited()`)
  core::manual_clock clock;
  null_transport transport;
  core::hub hub(options, core::hub_policies{}, transport, clock);

  std::vector<core::session_id> sessions;
  for (int i = 0; i <= members; ++i) {
    sessions.push_back(hub.open(core::identity{"u" + std::to_string(i), {}}));
    hub.receive(sessions.back(), R"({"type":"joinRoom","payload":{"roomId":"probe"},"messageId":"j"})");
  }
  std::size_t popped = 0;
  auto pop_all = [&] {
    for (const auto s : sessions) {
      while (hub.pop(s)) ++popped;
    }
  };
  pop_all();
  const core::session_id sender = sessions.front();

  // Frames built ahead: the load generator's work is not the server's.
  std::vector<std::string> warm, measured;
  for (std::size_t k = 0; k < 2000; ++k) warm.push_back(chat(k, content_bytes));
  for (std::size_t k = 0; k < messages; ++k) measured.push_back(chat(2000 + k, content_bytes));

  for (const auto& text : warm) {  // steady state: dedup ring full, pools warm
    hub.receive(sender, text);
    pop_all();
    clock.advance(1);
  }
  popped = 0;
  const auto t0 = std::chrono::steady_clock::now();
  CALLGRIND_TOGGLE_COLLECT;
  for (const auto& text : measured) {
    hub.receive(sender, text);
    pop_all();
  }
  CALLGRIND_TOGGLE_COLLECT;
  const auto t1 = std::chrono::steady_clock::now();
  const double ns = std::chrono::duration<double, std::nano>(t1 - t0).count();
  const std::size_t expected = messages * static_cast<std::size_t>(members + 1);
  std::printf("%zu messages, %d other members: %zu frames popped (expected %zu); %.0f ns per "
              "message (wall, %s)\n",
              messages, members, popped, expected, ns / static_cast<double>(messages),
              RUNNING_ON_VALGRIND ? "under valgrind: meaningless" : "native");
  return popped == expected ? 0 : 1;
}
