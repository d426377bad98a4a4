// Faults (issue 6): a peer whose TCP connection goes silent, and a graceful stop with 1,000 live
// sessions whose sockets are backed up.

#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "tcp_proxy.hpp"
#include "test_server.hpp"

using namespace rwtest;
using namespace std::chrono_literals;

namespace {

// Sockets of this process whose local port is `port`, other than the listener: those the server
// holds open. A socket the server has closed is either gone or, while the kernel still tries to
// send what it held, left without an owner (inode 0).
int owned_server_sockets(std::uint16_t port) {
  int n = 0;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
      f >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >>
          inode;
      const auto colon = local.rfind(':');
      if (colon == std::string::npos) continue;
      const auto local_port = static_cast<std::uint16_t>(std::stoul(local.substr(colon + 1), nullptr, 16));
      if (local_port != port || state == "0A" /* LISTEN */ || inode == "0") continue;
      ++n;
    }
  }
  return n;
}

// Waits, polling the kernel's table (there is no event to wait on), until `pred` holds.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

}  // namespace

TEST_CASE("a member whose connection goes silent (no FIN) is found by the heartbeat and freed") {
  auto o = test_options();
  o.ping_interval_ms = 100;
  o.pong_timeout_ms = 500;
  // Declared before the server: its handler runs until the server has stopped.
  std::mutex mu;
  std::condition_variable changed;
  std::vector<std::pair<std::string, int>> disconnects;
  running_server s(o);
  s.server.on_disconnect([&](roomwire::session<>& session, roomwire::protocol::close_code code) {
    std::lock_guard<std::mutex> lock(mu);
    disconnects.emplace_back(session.user_id(), static_cast<int>(code));
    changed.notify_all();
  });
  s.start();

  roomwire_test::tcp_proxy proxy(s.server.port());
  endpoint_options via_proxy = s.at();
  via_proxy.port = proxy.port();
  auto silent = connect_as(via_proxy, "silent");
  auto lively = connect_as(s.at(), "lively");
  REQUIRE(silent);
  REQUIRE(lively);
  REQUIRE(join(*silent, "room", "s-j"));
  REQUIRE(join(*lively, "room", "l-j"));
  REQUIRE(owned_server_sockets(s.server.port()) == 2);
  REQUIRE(s.server.metrics().connections == 2);

  // From here the silent member's packets go nowhere, in both directions, and its TCP
  // connection is never closed by the network.
  proxy.freeze();
  const auto frozen_at = std::chrono::steady_clock::now();

  // The server closes it with 1001 after the pong timeout; the close handshake cannot finish,
  // so after 5 s more the server drops the TCP connection and the session ends. Meanwhile the
  // lively member goes on being served.
  int round_trips = 0;
  {
    std::unique_lock<std::mutex> lock(mu);
    while (disconnects.empty() && std::chrono::steady_clock::now() - frozen_at < 20s) {
      lock.unlock();
      lively->send_text(envelope("joinRoom", R"({"roomId":"room"})",
                                 "l-" + std::to_string(++round_trips)));
      REQUIRE(lively->next_of_type("messageReceived", 1000ms));
      lock.lock();
      changed.wait_for(lock, 100ms, [&] { return !disconnects.empty(); });
    }
    REQUIRE(disconnects.size() == 1);
    CHECK(disconnects.front() == std::make_pair(std::string("silent"), 1001));
  }
  const auto ended_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - frozen_at)
                            .count();
  CHECK(eventually([&] { return owned_server_sockets(s.server.port()) == 1; }, 3s));
  CHECK(s.server.metrics().connections == 1);
  INFO("the session ended " << ended_ms << " ms after its packets stopped; the lively member "
                            << "made " << round_trips << " round trips meanwhile");
  // one ping interval + the pong timeout + the 5 s close handshake, with slack
  CHECK(ended_ms >= 500);
  CHECK(ended_ms < 100 + 500 + 5000 + 2000);
  CHECK(round_trips > 10);
  CHECK(lively->closed() == std::nullopt);
}

TEST_CASE("graceful stop with 1,000 backed-up sessions: no priority 0-2 message is lost") {
  constexpr int members = 1000;
  constexpr int messages = 20;
  auto o = test_options();
  // The contract flushes for at most 5 s; this test is about loss, not about how fast this
  // machine (or a sanitizer build) reads 1,000 sockets, so it gives the flush all the time.
  o.hub.drain_timeout_ms = 60000;
  running_server s(o);
  s.start();

  std::vector<std::unique_ptr<wire_client>> room;
  room.reserve(members);
  for (int i = 0; i < members; ++i) {
    auto c = std::make_unique<wire_client>(s.at());
    c->small_receive_buffer(4096);  // so that the server's queues, not the kernel, hold the rest
    REQUIRE(c->connect("/api/ws?token=m" + std::to_string(i)) == 101);
    REQUIRE(join(*c, "all", "j"));
    room.push_back(std::move(c));
  }
  auto sender = connect_as(s.at(), "sender");
  REQUIRE(sender);
  REQUIRE(join(*sender, "all", "sj"));

  // The stop begins while the server is still fanning these out (80 KB for each member, 80 MB
  // in all): what it accepted is then in its queues, not yet in the kernel's.
  const std::string content(4000, 'x');
  std::map<std::string, int> priority_of;
  for (int i = 0; i < messages; ++i) {
    const std::string id = "m-" + std::to_string(i);
    priority_of[id] = i % 5;
    sender->send_text(envelope("message", R"({"roomId":"all","content":")" + content + R"("})", id,
                               i % 5));
  }
  // The stop begins after the server has taken the first message (so the fan-out is under way).
  REQUIRE(sender->next_of_type("messageReceived", 10000ms));
  const auto before = s.server.metrics();
  auto stopped = std::async(std::launch::async, [&] { s.server.stop(); });
  INFO("queued in the server when the stop began: " << before.queue_bytes / 1024 << " KiB");

  // What the server acknowledged (every request gets its answer before the close).
  std::set<std::string> acked{"m-0"};
  auto sender_done = std::async(std::launch::async, [&] {
    for (;;) {
      auto text = sender->next_text(30000ms);
      if (!text) break;
      const auto doc = parse_json(*text);
      if (std::string_view(doc["type"].GetString()) == "messageReceived") {
        acked.insert(doc["payload"]["messageId"].GetString());
      }
    }
  });

  // Read every member to its close. Each of four readers serves its members in turn, taking
  // what one has ready before moving to the next, so that no member waits for another to be
  // read to its end: the drain closes the sessions together, once all of them have flushed.
  std::atomic<int> disordered{0}, not_1001{0};
  std::vector<std::set<std::string>> got_by_member(members);
  auto read_some = [&](int first) {
    struct reading {
      int index;
      std::map<std::int64_t, std::int64_t> last_seq;  // by priority: order is kept within one
    };
    std::vector<reading> open;
    for (int i = first; i < members; i += 4) open.push_back({i, {}});
    const auto deadline = std::chrono::steady_clock::now() + 90s;
    while (!open.empty() && std::chrono::steady_clock::now() < deadline) {
      for (auto it = open.begin(); it != open.end();) {
        wire_client& c = *room[static_cast<std::size_t>(it->index)];
        std::set<std::string>& got = got_by_member[static_cast<std::size_t>(it->index)];
        while (auto text = c.next_text(1ms)) {  // what it has ready
          const auto doc = parse_json(*text);
          if (std::string_view(doc["type"].GetString()) != "message") continue;
          const std::int64_t seq = doc["payload"]["seq"].GetInt64();
          std::int64_t& last = it->last_seq[doc["priority"].GetInt64()];
          if (seq <= last) ++disordered;
          last = seq;
          got.insert(doc["messageId"].GetString());
        }
        if (c.closed()) {
          if (c.closed()->code != 1001) ++not_1001;
          it = open.erase(it);
        } else {
          ++it;
        }
      }
    }
    not_1001 += static_cast<int>(open.size());  // never closed
  };
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) readers.emplace_back(read_some, t);
  for (auto& t : readers) t.join();
  sender_done.get();
  REQUIRE(stopped.wait_for(60s) == std::future_status::ready);

  int low_dropped = 0;
  for (const auto& got : got_by_member) {
    for (const auto& id : acked) {
      if (got.count(id) == 0 && priority_of[id] > 2) ++low_dropped;
    }
  }
  INFO("acknowledged: " << acked.size() << " of " << messages
                        << "; priority 3-4 deliveries shed: " << low_dropped);
  CHECK(acked.size() >= 1);
  int lost = 0;
  for (const auto& got : got_by_member) {
    for (const auto& id : acked) {
      if (got.count(id) == 0 && priority_of[id] <= 2) ++lost;
    }
  }
  CHECK(lost == 0);
  CHECK(disordered == 0);
  CHECK(not_1001 == 0);
}
