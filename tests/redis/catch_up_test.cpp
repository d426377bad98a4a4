// Catching up after the link to Redis drops: what the bus lost while a node was not subscribed
// reaches its listener from the room's history once the link is back, every seq once, in order.

#include <hiredis/hiredis.h>

#include <asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "harness.hpp"
#include "redis_server.hpp"

using namespace roomwire_test;
using outcome = roomwire::core::commit_result::outcome;

namespace {

// A command on a plain connection of the test's own; the reply's text (string, status or
// integer). Fails the test on an error reply.
std::string command(const redis_server& redis, const std::string& text) {
  redisContext* raw = redisConnect("127.0.0.1", redis.port());
  REQUIRE(raw != nullptr);
  REQUIRE(raw->err == 0);
  auto* r = static_cast<redisReply*>(redisCommand(raw, text.c_str()));
  REQUIRE(r != nullptr);
  std::string out;
  const int type = r->type;
  if (type == REDIS_REPLY_INTEGER) {
    out = std::to_string(r->integer);
  } else if (r->str != nullptr) {
    out.assign(r->str, r->len);
  }
  freeReplyObject(r);
  redisFree(raw);
  REQUIRE(type != REDIS_REPLY_ERROR);
  return out;
}

std::vector<std::int64_t> range(std::int64_t first, std::int64_t last) {
  std::vector<std::int64_t> out;
  for (std::int64_t s = first; s <= last; ++s) out.push_back(s);
  return out;
}

// Node A and node B, each on an io_context of its own. While the test does not run A's, A
// cannot reconnect: what B commits meanwhile is certainly published while A is not subscribed.
struct two_nodes {
  explicit two_nodes(roomwire::core::hub_options limits = {})
      : prefix(unique_prefix()), a(io_a, redis.url(), "node-a", prefix, limits) {
    run_until(
        io_a, [&] { return a.available(); }, "node A available");
    // A's is the only subscriber so far.
    const std::string list = command(redis, "CLIENT LIST TYPE pubsub");
    REQUIRE(list.rfind("id=", 0) == 0);
    REQUIRE(list.find("id=", 3) == std::string::npos);
    a_subscriber = list.substr(3, list.find(' ') - 3);
    b = std::make_unique<node>(io_b, redis.url(), "node-b", prefix, limits);
    run_until(
        io_b, [&] { return b->available(); }, "node B available");
  }

  // Commits seqs first..last on B (in room "lobby", from B's session 7).
  void commit_on_b(std::int64_t first, std::int64_t last) {
    for (std::int64_t s = first; s <= last; ++s) {
      chat m;
      m.message_id = "m-" + std::to_string(s);
      const auto r = commit_and_wait(io_b, *b->broker, m);
      REQUIRE(r.what == outcome::accepted);
      REQUIRE(r.ack.seq == std::optional<std::int64_t>(s));
    }
  }

  // Kills A's subscriber connection (as Redis does to a subscriber over its output-buffer
  // limit) and waits for A to notice. A then waits for its retry timer: on io_a.
  void cut_a() {
    CHECK(command(redis, "CLIENT KILL ID " + a_subscriber) == "1");
    run_until(
        io_a, [&] { return !a.available(); }, "node A unavailable");
  }

  void wait_for_a(std::size_t count, std::string_view what) {
    run_until(
        io_a, [&] { return a.available() && a.seqs().size() >= count; }, what);
  }

  redis_server redis;
  asio::io_context io_a;
  asio::io_context io_b;
  std::string prefix;
  node a;
  std::string a_subscriber;
  std::unique_ptr<node> b;
};

}  // namespace

TEST_CASE("a node whose subscriber was cut catches up on what it missed, once and in order",
          "[redis]") {
  two_nodes c;
  c.commit_on_b(1, 3);
  c.wait_for_a(3, "three deliveries on A");

  c.cut_a();
  c.commit_on_b(4, 8);  // while A is not subscribed
  CHECK(c.a.seqs().size() == 3);

  c.wait_for_a(8, "node A back, with what it missed");
  c.commit_on_b(9, 9);
  c.wait_for_a(9, "the next delivery on A");
  CHECK(c.a.seqs() == range(1, 9));
  for (const delivery& d : c.a.hub.deliveries) {
    CHECK(d.room == "lobby");
    CHECK(d.except == 0);  // B's session means nothing on A
    CHECK(d.f->type == "message");
  }
  CHECK(c.a.hub.availability == std::vector<bool>{true, false, true});
  CHECK_FALSE(c.a.logged("no longer reaches back"));
}

TEST_CASE("live records that arrive ahead of the catch-up replay wait for it", "[redis]") {
  two_nodes c;
  c.commit_on_b(1, 3);
  c.wait_for_a(3, "three deliveries on A");
  c.cut_a();
  c.commit_on_b(4, 6);

  // A is subscribed again and has queued its catch-up request, which is written only when io_a
  // runs again: B's next commits run in Redis before it, so A hears them ahead of the replay.
  run_until(
      c.io_a, [&] { return c.a.available(); }, "node A available again");
  CHECK(c.a.seqs().size() == 3);
  c.commit_on_b(7, 8);
  c.wait_for_a(8, "the replay and the held deliveries on A");
  c.commit_on_b(9, 9);
  c.wait_for_a(9, "the next delivery on A");
  CHECK(c.a.seqs() == range(1, 9));
  CHECK_FALSE(c.a.logged("no longer reaches back"));
}

TEST_CASE("a catch-up beyond the room's history delivers what is left and says how much is not",
          "[redis]") {
  SECTION("history trimmed to its cap") {
    roomwire::core::hub_options limits;
    limits.room_history = 3;
    two_nodes c(limits);
    c.commit_on_b(1, 3);
    c.wait_for_a(3, "three deliveries on A");
    c.cut_a();
    c.commit_on_b(4, 10);  // the history keeps 8, 9, 10

    c.wait_for_a(6, "node A back, with what is left");
    c.commit_on_b(11, 11);
    c.wait_for_a(7, "the next delivery on A");
    CHECK(c.a.seqs() == std::vector<std::int64_t>{1, 2, 3, 8, 9, 10, 11});
    CHECK(c.a.logged("redis: the history of room \"lobby\" no longer reaches back: 4 messages"));
  }
  SECTION("no history kept: only the held deliveries are left") {
    roomwire::core::hub_options limits;
    limits.room_history = 0;
    two_nodes c(limits);
    c.commit_on_b(1, 3);
    c.wait_for_a(3, "three deliveries on A");
    c.cut_a();
    c.commit_on_b(4, 6);
    run_until(
        c.io_a, [&] { return c.a.available(); }, "node A available again");
    c.commit_on_b(7, 8);  // ahead of the (empty) replay: held, then delivered
    c.wait_for_a(5, "the held deliveries on A");
    CHECK(c.a.seqs() == std::vector<std::int64_t>{1, 2, 3, 7, 8});
    CHECK(c.a.logged("redis: the history of room \"lobby\" no longer reaches back: 3 messages"));
  }
}

TEST_CASE("after Redis lost its data, a node delivers a room's new sequence from its start",
          "[redis]") {
  two_nodes c;
  c.commit_on_b(1, 2);
  c.wait_for_a(2, "two deliveries on A");

  c.redis.kill();
  run_until(
      c.io_a, [&] { return !c.a.available(); }, "node A unavailable");
  run_until(
      c.io_b, [&] { return !c.b->available(); }, "node B unavailable");
  c.redis.start();  // same port, empty
  run_until(
      c.io_b, [&] { return c.b->available(); }, "node B available again");
  c.commit_on_b(1, 3);  // the room's new sequence, past the seq A delivered last

  c.wait_for_a(5, "node A back, with the new sequence");
  c.commit_on_b(4, 4);
  c.wait_for_a(6, "the next delivery on A");
  CHECK(c.a.seqs() == std::vector<std::int64_t>{1, 2, 1, 2, 3, 4});
  CHECK(c.a.logged("redis: Redis lost its data"));
  CHECK_FALSE(c.a.logged("no longer reaches back"));
}
