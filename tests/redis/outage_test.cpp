// Redis going away and coming back: availability, refusals meanwhile, reconnection.

#include <hiredis/hiredis.h>

#include <asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <string>

#include "harness.hpp"
#include "redis_server.hpp"

using namespace roomwire_test;
using outcome = roomwire::core::commit_result::outcome;

TEST_CASE("losing Redis makes every node unavailable until it is back", "[redis]") {
  redis_server redis;
  asio::io_context io;
  const std::string prefix = unique_prefix();
  node a(io, redis.url(), "node-a", prefix);
  node b(io, redis.url(), "node-b", prefix);
  run_until(
      io, [&] { return a.available() && b.available(); }, "both nodes available");
  REQUIRE(commit_and_wait(io, *a.broker, chat{}).what == outcome::accepted);
  // (Redis is killed without persistence: what is still in flight dies with its data.)
  run_until(
      io, [&] { return b.seqs().size() == 1; }, "the delivery on B");

  redis.kill();
  run_until(
      io, [&] { return !a.available() && !b.available(); }, "both nodes unavailable");
  CHECK(a.hub.availability == std::vector<bool>{true, false});
  CHECK(b.hub.availability == std::vector<bool>{true, false});
  CHECK(a.logged("redis: connection lost"));
  CHECK(a.logged("retrying in 50 ms"));

  // Refused meanwhile (answered at once), and nothing recovered.
  CHECK(commit_and_wait(io, *a.broker, chat{}).what == outcome::unavailable);
  CHECK(recover_and_wait(io, *b.broker, "lobby", 0).unavailable);
  // A task stored meanwhile is written once Redis is back.
  roomwire::core::task_info t;
  t.task_id = "t-offline";
  t.assigner_id = "alice";
  t.assignee_id = "bob";
  t.status = "assigned";
  a.broker->store_task(t);

  // Retries back off while it is down: 50, 100, 200, 400, 400... ms.
  run_until(
      io, [&] { return a.logged("retrying in 400 ms"); }, "the back-off reaching its cap");
  CHECK(a.hub.availability == std::vector<bool>{true, false});  // once per transition

  redis.start();  // same port, empty
  run_until(
      io, [&] { return a.available() && b.available(); }, "both nodes available again");
  CHECK(a.hub.availability == std::vector<bool>{true, false, true});
  CHECK(b.hub.availability == std::vector<bool>{true, false, true});

  chat again;
  again.message_id = "m-2";
  const auto r = commit_and_wait(io, *a.broker, again);
  REQUIRE(r.what == outcome::accepted);
  CHECK(r.ack.seq == std::optional<std::int64_t>(1));  // Redis came back empty
  run_until(
      io, [&] { return b.seqs().size() == 2; }, "the new delivery on B");
  run_until(
      io, [&] { return b.broker->find_task("t-offline").has_value(); },
      "the task stored while down, on B");
}

TEST_CASE("a commit waiting for its reply when the connection drops is answered unavailable",
          "[redis]") {
  redis_server redis;
  asio::io_context io;
  node a(io, redis.url(), "node-a", unique_prefix());
  run_until(
      io, [&] { return a.available(); }, "node available");

  // Redis holds every command from now on, so the commit's reply cannot come before the crash.
  redisContext* raw = redisConnect("127.0.0.1", redis.port());
  REQUIRE(raw != nullptr);
  REQUIRE(raw->err == 0);
  auto* paused = static_cast<redisReply*>(redisCommand(raw, "CLIENT PAUSE 30000 ALL"));
  REQUIRE(paused != nullptr);
  const bool ok = paused->type == REDIS_REPLY_STATUS;
  freeReplyObject(paused);
  redisFree(raw);
  REQUIRE(ok);

  const auto pending = commit(*a.broker, chat{});
  std::optional<roomwire::core::recovery> recovered;
  a.broker->recover("lobby", 0, [&](roomwire::core::recovery r) { recovered = std::move(r); });
  io.poll();  // the commands are written
  CHECK_FALSE(pending->done);
  redis.kill();
  run_until(
      io, [&] { return pending->done && recovered.has_value(); },
      "the waiting commit and recovery answered");
  CHECK(pending->result.what == outcome::unavailable);
  CHECK(recovered->unavailable);
  run_until(
      io, [&] { return !a.available(); }, "the node unavailable");
}

TEST_CASE("a node that cannot connect at first says so, and connects once Redis is up", "[redis]") {
  redis_server redis(redis_server::free_port(), false);
  asio::io_context io;
  node a(io, redis.url(), "node-a", unique_prefix());
  run_until(
      io, [&] { return !a.hub.availability.empty(); }, "the first report");
  CHECK(a.hub.availability == std::vector<bool>{false});
  CHECK(a.logged("redis: cannot connect to 127.0.0.1:" + std::to_string(redis.port())));
  CHECK(commit_and_wait(io, *a.broker, chat{}).what == outcome::unavailable);

  redis.start();
  run_until(
      io, [&] { return a.available(); }, "the node available");
  CHECK(a.hub.availability == std::vector<bool>{false, true});
  CHECK(a.logged("redis: connected to 127.0.0.1:" + std::to_string(redis.port()) +
                 " as node node-a"));
  CHECK(commit_and_wait(io, *a.broker, chat{}).what == outcome::accepted);
}

TEST_CASE("after a dropped connection a node's presence is what it is now", "[redis]") {
  redis_server redis;
  asio::io_context io;
  const std::string prefix = unique_prefix();
  node a(io, redis.url(), "node-a", prefix);
  node b(io, redis.url(), "node-b", prefix);
  run_until(
      io, [&] { return a.available() && b.available(); }, "both nodes available");
  b.broker->user_present("erin", true);
  b.broker->user_present("frank", true);
  REQUIRE(commit_and_wait(io, *b.broker, chat{}).what == outcome::accepted);  // written by now

  // Redis stays up (and keeps its data); only the nodes' command connections are cut.
  redisContext* raw = redisConnect("127.0.0.1", redis.port());
  REQUIRE(raw != nullptr);
  REQUIRE(raw->err == 0);
  auto* killed = static_cast<redisReply*>(redisCommand(raw, "CLIENT KILL TYPE normal"));
  REQUIRE(killed != nullptr);
  freeReplyObject(killed);
  redisFree(raw);
  run_until(
      io, [&] { return !b.available(); }, "node B unavailable");
  b.broker->user_present("erin", false);  // erin left meanwhile; frank is still there
  run_until(
      io, [&] { return a.available() && b.available(); }, "both nodes back");

  const auto task_for = [](const std::string& user) {
    return make_frame(R"({"type":"taskAssign","payload":{"assigneeId":")" + user + R"("}})",
                      "taskAssign");
  };
  a.broker->defer_task("erin", "t-1", task_for("erin"));    // kept: erin is nowhere
  a.broker->defer_task("frank", "t-2", task_for("frank"));  // dropped: frank is on B
  a.broker->take_deferred("erin");
  a.broker->take_deferred("frank");
  chat marker;
  marker.message_id = "marker";
  REQUIRE(commit_and_wait(io, *a.broker, marker).what == outcome::accepted);
  std::vector<std::string> delivered_to;
  for (const delivery& d : a.hub.deliveries) {
    if (d.f->type == "taskAssign") delivered_to.push_back(d.users[0]);
  }
  CHECK(delivered_to == std::vector<std::string>{"erin"});
}
