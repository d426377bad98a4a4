// What nodes share besides chat: tasks, deferred taskAssigns, dedup memory, health figures; and
// what a node does with a record it cannot read, or once detached.

#include <hiredis/hiredis.h>

#include <asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "harness.hpp"
#include "redis_server.hpp"

using namespace roomwire_test;
using outcome = roomwire::core::commit_result::outcome;

namespace {

struct cluster {
  explicit cluster(roomwire::core::hub_options limits = {})
      : prefix(unique_prefix()),
        a(io, redis.url(), "node-a", prefix, limits),
        b(io, redis.url(), "node-b", prefix, limits) {
    run_until(
        io, [&] { return a.available() && b.available(); }, "both nodes available");
  }
  // A command that round-trips on the node's command connection after everything sent before
  // it: once answered, Redis has run (and the node has handled the replies of) all of those.
  void barrier(node& n) {
    chat marker;
    marker.room = "barrier";
    marker.message_id = "barrier-" + std::to_string(++barriers);
    marker.client_id = false;
    REQUIRE(commit_and_wait(io, *n.broker, marker).what == outcome::accepted);
  }
  // The taskAssigns delivered to the user's sessions on the node, in order.
  static std::vector<delivery> tasks_for(const node& n, std::string_view user) {
    std::vector<delivery> out;
    for (const delivery& d : n.hub.deliveries) {
      if (d.f->type == "taskAssign" && d.users[0] == user) out.push_back(d);
    }
    return out;
  }

  redis_server redis;
  asio::io_context io;
  std::string prefix;
  node a;
  node b;
  int barriers = 0;
};

roomwire::core::frame_ptr assignment(const std::string& task_id) {
  return make_frame(R"({"type":"taskAssign","payload":{"taskId":")" + task_id + R"("}})",
                    "taskAssign", roomwire::protocol::priority::high);
}

// A plain hiredis client, for what no node would send.
struct raw_client {
  explicit raw_client(const redis_server& r) : ctx(redisConnect("127.0.0.1", r.port())) {
    REQUIRE(ctx != nullptr);
    REQUIRE(ctx->err == 0);
  }
  ~raw_client() { redisFree(ctx); }
  raw_client(const raw_client&) = delete;
  raw_client& operator=(const raw_client&) = delete;
  void run(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    for (const std::string& a : args) {
      argv.push_back(a.data());
      lengths.push_back(a.size());
    }
    auto* reply = static_cast<redisReply*>(
        redisCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(), lengths.data()));
    REQUIRE(reply != nullptr);
    const bool failed = reply->type == REDIS_REPLY_ERROR;
    freeReplyObject(reply);
    REQUIRE_FALSE(failed);
  }
  redisContext* ctx;
};

}  // namespace

TEST_CASE("a task stored on one node is found on the others, and by a node that starts later",
          "[redis]") {
  cluster c;
  roomwire::core::task_info t;
  t.task_id = "t-1";
  t.assigner_id = "alice";
  t.assignee_id = "bob";
  t.status = "assigned";
  c.a.broker->store_task(t);
  CHECK(c.a.broker->find_task("t-1"));  // at once on its own node
  run_until(
      c.io, [&] { return c.b.broker->find_task("t-1").has_value(); }, "the task on B");
  CHECK(c.b.broker->find_task("t-1")->assignee_id == "bob");

  t.status = "done";
  t.progress = 100;
  c.b.broker->store_task(t);
  run_until(
      c.io, [&] { return c.a.broker->find_task("t-1")->status == "done"; }, "the update on A");
  CHECK(c.a.broker->find_task("t-1")->progress == 100);
  CHECK_FALSE(c.a.broker->find_task("t-2"));

  node late(c.io, c.redis.url(), "node-c", c.prefix);
  run_until(
      c.io, [&] { return late.available(); }, "node C available");
  REQUIRE(late.broker->find_task("t-1"));
  CHECK(late.broker->find_task("t-1")->status == "done");
}

TEST_CASE("a deferred taskAssign is dropped for a user present elsewhere, else kept and taken",
          "[redis]") {
  roomwire::core::hub_options limits;
  limits.offline_tasks_per_user = 2;
  cluster c(limits);

  // bob has a session on B: B delivered it, A must not keep it.
  c.b.broker->user_present("bob", true);
  c.barrier(c.b);
  c.a.broker->defer_task("bob", "t-1", assignment("t-1"));
  CHECK(c.a.broker->take_deferred("bob").empty());
  c.barrier(c.a);
  CHECK(cluster::tasks_for(c.a, "bob").empty());

  // bob left B: kept, and delivered by whichever node he opens next, oldest first.
  c.b.broker->user_present("bob", false);
  c.barrier(c.b);
  c.a.broker->defer_task("bob", "t-2", assignment("t-2"));
  c.a.broker->defer_task("bob", "t-3", assignment("t-3"));
  c.barrier(c.a);
  CHECK(c.b.broker->take_deferred("bob").empty());  // delivered later, through the listener
  run_until(
      c.io, [&] { return cluster::tasks_for(c.b, "bob").size() == 2; }, "bob's two tasks on B");
  const std::vector<delivery> taken = cluster::tasks_for(c.b, "bob");
  const delivery& d = taken.front();
  CHECK(d.room.empty());
  CHECK(d.users[1].empty());
  CHECK(d.except == 0);
  CHECK(d.f->text == assignment("t-2")->text);
  CHECK(d.f->priority == roomwire::protocol::priority::high);
  CHECK(taken[1].f->text == assignment("t-3")->text);
  // Taken means gone.
  c.a.broker->take_deferred("bob");
  c.barrier(c.a);
  CHECK(cluster::tasks_for(c.a, "bob").empty());

  // At most offline_tasks_per_user, oldest dropped; a cancelled one is not delivered.
  c.a.broker->defer_task("carol", "t-4", assignment("t-4"));
  c.a.broker->defer_task("carol", "t-5", assignment("t-5"));
  c.a.broker->defer_task("carol", "t-6", assignment("t-6"));
  c.a.broker->cancel_deferred("carol", "t-5");
  c.a.broker->take_deferred("carol");
  c.barrier(c.a);
  const std::vector<delivery> for_carol = cluster::tasks_for(c.a, "carol");
  REQUIRE(for_carol.size() == 1);
  CHECK(for_carol[0].f->text == assignment("t-6")->text);
}

TEST_CASE("the dedup memory of one node is recalled on the others until it expires", "[redis]") {
  cluster c;
  roomwire::protocol::message_received ack;
  ack.message_id = "x-1";
  ack.room_id = "";
  ack.sender_id = "alice";
  ack.timestamp = 1764489600999;
  c.a.broker->remember("alice", "x-1", ack, 1000);
  CHECK(c.a.broker->recall("alice", "x-1", 1000));
  run_until(
      c.io, [&] { return c.b.broker->recall("alice", "x-1", 1000).has_value(); }, "the ack on B");
  const auto kept = c.b.broker->recall("alice", "x-1", 1000);
  CHECK(kept->timestamp == ack.timestamp);
  CHECK(kept->sender_id == "alice");
  CHECK_FALSE(kept->seq);
  CHECK_FALSE(c.b.broker->recall("bob", "x-1", 1000));

  const std::int64_t later = 1000 + roomwire::core::hub_options{}.dedup_ttl_ms + 1;
  c.b.broker->expire(later);
  CHECK_FALSE(c.b.broker->recall("alice", "x-1", later));
}

TEST_CASE("health figures add up over the nodes", "[redis]") {
  cluster c;
  roomwire::core::hub_metrics on_a;
  on_a.connections = 2;
  on_a.rooms = 1;
  on_a.messages_in = 10;
  on_a.messages_out = 20;
  on_a.messages_dropped = 1;
  roomwire::core::hub_metrics on_b = on_a;
  on_b.connections = 3;
  on_b.messages_in = 5;

  std::string members;
  run_until(
      c.io,
      [&] {
        std::string ignored;
        c.b.broker->health_metrics(on_b, ignored);
        members.clear();
        c.a.broker->health_metrics(on_a, members);
        return members.find(R"("nodes":2)") != std::string::npos;
      },
      "both nodes in A's cluster view");
  CHECK(members == R"(,"node":"node-a","cluster":{"nodes":2,"connections":5,"rooms":2,)"
                   R"("messagesIn":15,"messagesOut":40,"messagesDropped":2})");
}

TEST_CASE("a malformed bus record is logged and ignored", "[redis]") {
  cluster c;
  raw_client raw(c.redis);
  const std::string bus = c.prefix + ":bus";
  for (const std::string& junk :
       {std::string(), std::string("Z"), std::string("Mgarbage s3cret"), std::string("M5:abc"),
        std::string("R6:node-a1:x1:11:1"), std::string("P1:x1:9")}) {
    raw.run({"PUBLISH", bus, junk});
  }
  run_until(
      c.io,
      [&] {
        std::size_t n = 0;
        for (const auto& line : *c.a.log_lines) {
          n += line.find("malformed bus record") != std::string::npos;
        }
        return n == 6;
      },
      "six malformed records logged on A");
  for (const auto& line : *c.a.log_lines) CHECK(line.find("s3cret") == std::string::npos);
  CHECK(c.a.hub.deliveries.empty());
  CHECK(commit_and_wait(c.io, *c.a.broker, chat{}).what == outcome::accepted);
}

TEST_CASE("a detached node is never heard from again", "[redis]") {
  cluster c;
  c.b.broker->detach();
  c.b.broker->detach();  // twice is fine
  const std::size_t calls = c.b.hub.availability.size();
  REQUIRE(commit_and_wait(c.io, *c.a.broker, chat{}).what == outcome::accepted);
  run_until(
      c.io, [&] { return c.a.hub.deliveries.size() == 1; }, "the delivery on A");
  c.barrier(c.a);
  CHECK(c.b.hub.deliveries.empty());
  CHECK(c.b.hub.availability.size() == calls);

  // A broker dropped while its connections are busy leaves nothing behind that fires later.
  auto gone = std::make_unique<node>(c.io, c.redis.url(), "node-c", c.prefix);
  run_until(
      c.io, [&] { return gone->available(); }, "node C available");
  commit(*gone->broker, chat{});
  gone.reset();
  c.barrier(c.a);
}
