// Chat across two nodes: sequencing, delivery on every node, dedup of a repeat, recovery, and
// host pushes.

#include <asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <string>

#include "harness.hpp"
#include "redis_server.hpp"

using namespace roomwire_test;
using roomwire::core::commit_result;
using outcome = roomwire::core::commit_result::outcome;

namespace {

// Two nodes on one Redis, both available.
struct cluster {
  explicit cluster(roomwire::core::hub_options limits = {})
      : prefix(unique_prefix()),
        a(io, redis.url(), "node-a", prefix, limits),
        b(io, redis.url(), "node-b", prefix, limits) {
    run_until(
        io, [&] { return a.available() && b.available(); }, "both nodes available");
  }
  redis_server redis;
  asio::io_context io;
  std::string prefix;
  node a;
  node b;
};

}  // namespace

TEST_CASE("a commit on one node reaches every node, in seq order", "[redis]") {
  cluster c;
  CHECK(c.a.broker->sequences_chat());
  for (int i = 1; i <= 3; ++i) {
    chat m;
    m.message_id = "m-" + std::to_string(i);
    const commit_result r = commit_and_wait(c.io, *c.a.broker, m);
    REQUIRE(r.what == outcome::accepted);
    CHECK(r.ack.message_id == m.message_id);
    CHECK(r.ack.room_id == "lobby");
    CHECK(r.ack.sender_id == "alice");
    CHECK(r.ack.timestamp == m.timestamp);
    CHECK(r.ack.seq == std::optional<std::int64_t>(i));
  }
  run_until(
      c.io, [&] { return c.a.seqs().size() == 3 && c.b.seqs().size() == 3; },
      "three deliveries on each node");
  CHECK(c.a.seqs() == std::vector<std::int64_t>{1, 2, 3});
  CHECK(c.b.seqs() == std::vector<std::int64_t>{1, 2, 3});
  for (const delivery& d : c.a.hub.deliveries) {
    CHECK(d.room == "lobby");
    CHECK(d.except == 7);  // the sending session, on the node it is on
    CHECK(d.f->type == "message");
    CHECK(d.f->priority == roomwire::protocol::priority::normal);
  }
  for (const delivery& d : c.b.hub.deliveries) CHECK(d.except == 0);
  CHECK(c.b.hub.deliveries[0].f->text.find(R"("messageId":"m-1")") != std::string::npos);
  const std::string& text = c.b.hub.deliveries[0].f->text;
  CHECK(text.substr(text.size() - 9) == R"("seq":1}})");

  // Commits from both nodes interleave into one sequence, delivered in the same order everywhere.
  chat from_b;
  from_b.user = "bob";
  from_b.message_id = "b-1";
  const auto first = commit(*c.b.broker, from_b);
  chat from_a;
  from_a.message_id = "m-4";
  const auto second = commit(*c.a.broker, from_a);
  run_until(
      c.io, [&] { return first->done && second->done; }, "both commits answered");
  run_until(
      c.io, [&] { return c.a.seqs().size() == 5 && c.b.seqs().size() == 5; },
      "five deliveries on each node");
  CHECK(c.a.seqs() == std::vector<std::int64_t>{1, 2, 3, 4, 5});
  CHECK(c.b.seqs() == std::vector<std::int64_t>{1, 2, 3, 4, 5});
  for (std::size_t i = 3; i < 5; ++i) {
    CHECK(c.a.hub.deliveries[i].f->text == c.b.hub.deliveries[i].f->text);
  }
}

TEST_CASE("a repeated messageId is answered with the original ack, and not delivered again",
          "[redis]") {
  cluster c;
  chat m;
  m.message_id = "retry-me";
  const commit_result first = commit_and_wait(c.io, *c.a.broker, m);
  REQUIRE(first.what == outcome::accepted);

  chat again = m;
  again.timestamp += 5000;  // a later try: the ack keeps the first timestamp
  const commit_result repeat = commit_and_wait(c.io, *c.b.broker, again);  // on the other node
  REQUIRE(repeat.what == outcome::repeated);
  CHECK(repeat.ack.message_id == "retry-me");
  CHECK(repeat.ack.room_id == "lobby");
  CHECK(repeat.ack.sender_id == "alice");
  CHECK(repeat.ack.timestamp == first.ack.timestamp);
  CHECK(repeat.ack.seq == first.ack.seq);

  // A server-made id is not a dedup key: the same id again is a new message.
  chat server_made;
  server_made.message_id = "s-1";
  server_made.client_id = false;
  CHECK(commit_and_wait(c.io, *c.a.broker, server_made).what == outcome::accepted);
  CHECK(commit_and_wait(c.io, *c.a.broker, server_made).what == outcome::accepted);

  run_until(
      c.io, [&] { return c.a.seqs().size() == 3 && c.b.seqs().size() == 3; },
      "the deliveries (the marker's included)");
  CHECK(c.a.seqs() == std::vector<std::int64_t>{1, 2, 3});
  CHECK(c.b.seqs() == std::vector<std::int64_t>{1, 2, 3});

  // Both replicas know the ack too (hub::recall before it commits).
  for (node* n : {&c.a, &c.b}) {
    const auto kept = n->broker->recall("alice", "retry-me", 1000);
    REQUIRE(kept);
    CHECK(kept->seq == first.ack.seq);
    CHECK(kept->timestamp == first.ack.timestamp);
  }
}

TEST_CASE("recovery replays the history after since, and says whether it reaches back", "[redis]") {
  roomwire::core::hub_options limits;
  limits.room_history = 3;
  cluster c(limits);
  for (int i = 1; i <= 5; ++i) {
    chat m;
    m.message_id = "m-" + std::to_string(i);
    REQUIRE(commit_and_wait(c.io, *c.a.broker, m).what == outcome::accepted);
  }
  const auto seqs = [](const roomwire::core::recovery& r) {
    std::vector<std::int64_t> out;
    for (const auto& f : r.frames) out.push_back(seq_of(*f));
    return out;
  };

  // The history holds 3, 4, 5.
  auto r = recover_and_wait(c.io, *c.b.broker, "lobby", 3);
  CHECK_FALSE(r.unavailable);
  CHECK(r.complete);
  CHECK(seqs(r) == std::vector<std::int64_t>{4, 5});
  CHECK(r.frames[0]->type == "message");

  r = recover_and_wait(c.io, *c.b.broker, "lobby", 2);
  CHECK(r.complete);
  CHECK(seqs(r) == std::vector<std::int64_t>{3, 4, 5});

  r = recover_and_wait(c.io, *c.a.broker, "lobby", 1);  // 2 is gone
  CHECK_FALSE(r.complete);
  CHECK(seqs(r) == std::vector<std::int64_t>{3, 4, 5});

  r = recover_and_wait(c.io, *c.a.broker, "lobby", 5);
  CHECK(r.complete);
  CHECK(r.frames.empty());

  r = recover_and_wait(c.io, *c.a.broker, "lobby", 9);  // the room restarted since
  CHECK_FALSE(r.complete);
  CHECK(r.frames.empty());

  r = recover_and_wait(c.io, *c.a.broker, "never-used", 0);
  CHECK(r.complete);
  CHECK(r.frames.empty());

  // A replay comes ahead of whatever was committed after it was asked for.
  std::optional<roomwire::core::recovery> replay;
  std::size_t deliveries_before_replay = 0;
  c.b.broker->recover("lobby", 4, [&](roomwire::core::recovery got) {
    deliveries_before_replay = c.b.hub.deliveries.size();
    replay = std::move(got);
  });
  chat later;
  later.message_id = "m-6";
  const auto sixth = commit(*c.a.broker, later);
  run_until(
      c.io, [&] { return replay && sixth->done && c.b.seqs().size() == 6; },
      "the replay and the sixth delivery");
  // Whichever ran first in Redis, the replay ends where the live deliveries before it ended:
  // no gap, nothing twice.
  std::vector<std::int64_t> expected;
  for (std::int64_t s = 5; s <= static_cast<std::int64_t>(deliveries_before_replay); ++s) {
    expected.push_back(s);
  }
  CHECK(seqs(*replay) == expected);
}

TEST_CASE("publish reaches the other nodes, not its own", "[redis]") {
  cluster c;
  roomwire::core::audience to;
  to.room_id = "task:t1";
  to.user_ids = {"alice", "bob"};
  to.except = 3;  // a session of the publishing node: means nothing elsewhere
  const auto f = make_frame(R"({"type":"taskUpdate"})", roomwire::protocol::task_update::type,
                            roomwire::protocol::priority::high);
  c.a.broker->publish(to, f);
  run_until(
      c.io, [&] { return c.b.hub.deliveries.size() == 1; }, "the push on node B");
  const delivery& d = c.b.hub.deliveries[0];
  CHECK(d.room == "task:t1");
  CHECK(d.users == std::array<std::string, 2>{"alice", "bob"});
  CHECK(d.except == 0);
  CHECK(d.f->text == f->text);
  CHECK(d.f->priority == roomwire::protocol::priority::high);
  CHECK(d.f->type == "taskUpdate");

  // A host type comes back as "custom".
  c.a.broker->publish(to, make_frame("{}", "myHostType"));
  run_until(
      c.io, [&] { return c.b.hub.deliveries.size() == 2; }, "the second push on node B");
  CHECK(c.b.hub.deliveries[1].f->type == "custom");

  // Node A has heard its own records by the time its next chat delivery arrives (one bus).
  REQUIRE(commit_and_wait(c.io, *c.a.broker, chat{}).what == outcome::accepted);
  run_until(
      c.io, [&] { return c.a.hub.deliveries.size() == 1; }, "the chat delivery on A");
  CHECK(c.a.hub.deliveries[0].f->type == "message");
}
