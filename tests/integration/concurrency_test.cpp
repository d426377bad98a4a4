// Several I/O threads, many clients on their own threads, and pushes from host threads at the
// same time: every acknowledged message arrives, in seq order, exactly once. Labelled
// `concurrency` so that the ThreadSanitizer preset runs it.

#include <catch2/catch.hpp>

#include <future>
#include <map>
#include <set>
#include <thread>

#include "test_server.hpp"

using namespace rwtest;

namespace {

struct client_report {
  bool ok = true;
  std::string failure;
  int acks = 0;
  std::map<std::string, int> from_sender;  // chat messages received per sender
  int pushes = 0;
};

struct push {
  static constexpr std::string_view type = "push";
  int n = 0;
  static constexpr auto fields() {
    return roomwire::protocol::fields(roomwire::protocol::field("n", &push::n));
  }
};

}  // namespace

TEST_CASE("concurrency: many clients, four I/O threads, pushes from host threads") {
  constexpr int clients = 12;
  constexpr int messages_each = 25;
  constexpr int pushes = 40;

  auto o = test_options();
  o.threads = 4;
  o.hub.rate_per_second = 10000;
  o.hub.burst = 10000;
  running_server s(o);
  s.start();
  const auto at = s.at();

  // Everyone joins first, so that everyone sees everything that follows.
  std::vector<std::unique_ptr<wire_client>> conns;
  for (int i = 0; i < clients; ++i) {
    auto c = connect_as(at, "user" + std::to_string(i));
    REQUIRE(c);
    REQUIRE(join(*c, "hall", "j-" + std::to_string(i)));
    conns.push_back(std::move(c));
  }

  std::vector<std::future<client_report>> reports;
  for (int i = 0; i < clients; ++i) {
    reports.push_back(std::async(std::launch::async, [&, i] {
      client_report r;
      wire_client& c = *conns[static_cast<std::size_t>(i)];
      for (int m = 0; m < messages_each; ++m) {
        c.send_text(envelope("message",
                             R"({"roomId":"hall","content":"m)" + std::to_string(m) + "\"}",
                             "u" + std::to_string(i) + "-" + std::to_string(m)));
      }
      const int expected_messages = (clients - 1) * messages_each;
      int messages = 0;
      std::map<std::string, std::int64_t> last_seq;
      std::int64_t last_room_seq = 0;
      while (r.acks < messages_each || messages < expected_messages || r.pushes < pushes) {
        auto text = c.next_text(10000ms);
        if (!text) {
          r.ok = false;
          r.failure = "timed out: acks " + std::to_string(r.acks) + ", messages " +
                      std::to_string(messages) + ", pushes " + std::to_string(r.pushes);
          return r;
        }
        const auto doc = parse_json(*text);
        const std::string type = doc["type"].GetString();
        if (type == "messageReceived") {
          ++r.acks;
        } else if (type == "message") {
          const std::string sender = doc["payload"]["senderId"].GetString();
          const std::int64_t seq = doc["payload"]["seq"].GetInt64();
          if (seq <= last_room_seq) {
            r.ok = false;
            r.failure = "seq out of order";
          }
          last_room_seq = seq;
          ++r.from_sender[sender];
          ++messages;
        } else if (type == "push") {
          ++r.pushes;
        }
      }
      return r;
    }));
  }

  std::vector<std::thread> pushers;
  for (int t = 0; t < 2; ++t) {
    pushers.emplace_back([&, t] {
      for (int n = 0; n < pushes / 2; ++n) {
        roomwire::protocol::envelope<push> env;
        env.payload.n = t * 1000 + n;
        s.server.send_to_room("hall", env);
        (void)s.server.metrics();
      }
    });
  }
  for (auto& t : pushers) t.join();

  for (int i = 0; i < clients; ++i) {
    const client_report r = reports[static_cast<std::size_t>(i)].get();
    INFO("client " << i << ": " << r.failure);
    CHECK(r.ok);
    CHECK(r.acks == messages_each);
    CHECK(r.pushes == pushes);
    for (int other = 0; other < clients; ++other) {
      if (other == i) continue;
      CHECK(r.from_sender.count("user" + std::to_string(other)) == 1);
      if (r.from_sender.count("user" + std::to_string(other))) {
        CHECK(r.from_sender.at("user" + std::to_string(other)) == messages_each);
      }
    }
  }
  const auto m = s.server.metrics();
  CHECK(m.connections == static_cast<std::uint64_t>(clients));

  // A stop while everyone is connected: every session ends with 1001.
  auto stopped = std::async(std::launch::async, [&] { s.server.stop(); });
  for (auto& c : conns) {
    auto closed = c->wait_close(15000ms);
    REQUIRE(closed);
    CHECK(closed->code == 1001);
  }
  REQUIRE(stopped.wait_for(std::chrono::seconds(15)) == std::future_status::ready);
}

TEST_CASE("concurrency: connections opening and closing while messages flow") {
  auto o = test_options();
  o.threads = 3;
  running_server s(o);
  s.start();
  const auto at = s.at();
  auto anchor = connect_as(at, "anchor");
  REQUIRE(anchor);
  REQUIRE(join(*anchor, "churn", "a-j"));

  std::vector<std::future<bool>> workers;
  for (int w = 0; w < 4; ++w) {
    workers.push_back(std::async(std::launch::async, [&, w] {
      for (int round = 0; round < 8; ++round) {
        auto c = connect_as(at, "w" + std::to_string(w));
        if (!c) return false;
        if (!join(*c, "churn", "j-" + std::to_string(round))) return false;
        c->send_text(envelope("message", R"({"roomId":"churn","content":"x"})",
                              "m-" + std::to_string(round)));
        if (!c->next_of_type("messageReceived")) return false;
        if (round % 2 == 0) {
          c->send_close();
          if (!c->wait_close()) return false;
        }
        // Odd rounds just drop the TCP connection (the destructor).
      }
      return true;
    }));
  }
  for (auto& w : workers) CHECK(w.get());
  int seen = 0;
  while (seen < 32) {
    auto m = anchor->next_of_type("message");
    REQUIRE(m);
    ++seen;
  }
  CHECK(seen == 32);
}
