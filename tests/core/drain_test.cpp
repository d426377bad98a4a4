// Graceful shutdown (§8).

#include <string>

#include "hub_fixture.hpp"

using namespace roomwire_test;

namespace {
struct blob {
  static constexpr std::string_view type = "blob";
  std::string data;
  static constexpr auto fields() { return proto::fields(proto::field("data", &blob::data)); }
};

proto::envelope<blob> blob_env(std::string data, proto::priority p) {
  proto::envelope<blob> env;
  env.payload.data = std::move(data);
  env.priority = p;
  return env;
}

void expect_draining(const received& r) {
  const auto h = r.as<proto::health_update>();
  CHECK(h.priority == proto::priority::critical);
  CHECK(h.payload.status == proto::health_status::draining);
}
}  // namespace

TEST_CASE("drain: draining to everyone, low priorities dropped, all closed 1001 once flushed") {
  hub_test t;
  const auto a = t.member("alice", "lobby");
  const auto b = t.member("bob", "lobby");
  t.hub->send(b, blob_env("low", proto::priority::low));
  t.hub->send(b, blob_env("normal", proto::priority::normal));
  t.hub->send(b, blob_env("background", proto::priority::background));
  CHECK_FALSE(t.hub->draining());

  t.hub->drain();
  CHECK(t.hub->draining());
  CHECK_FALSE(t.hub->drained());
  CHECK(t.transport.closes.empty());
  const auto m = t.hub->metrics();
  CHECK(m.messages_dropped == 2);
  CHECK(m.dropped_by_type.at("blob")[3] == 1);
  CHECK(m.dropped_by_type.at("blob")[4] == 1);
  CHECK(m.status == proto::health_status::draining);

  const auto to_a = t.pop_all(a);
  REQUIRE(to_a.size() == 1);
  expect_draining(to_a[0]);
  CHECK(t.transport.closes.empty());  // a is flushed, b is not: nobody is closed yet

  const auto to_b = t.pop_all(b);
  REQUIRE(to_b.size() == 2);
  expect_draining(to_b[0]);  // priority 0 first
  CHECK(to_b[1].as<blob>().payload.data == "normal");
  CHECK(t.transport.close_of(a).code == proto::close_code::going_away);
  CHECK(t.transport.close_of(b).code == proto::close_code::going_away);

  t.hub->closed(a, proto::close_code::going_away);
  CHECK_FALSE(t.hub->drained());
  t.hub->closed(b, proto::close_code::going_away);
  CHECK(t.hub->drained());
}

TEST_CASE("while draining, a pop of priority 0 only never closes the session; a full pop does") {
  hub_test t;
  const auto a = t.member("alice", "lobby");
  t.hub->drain();
  // The transport's pacing takes only priority 0 from a reader it holds back.
  const core::frame_ptr f = t.hub->pop(a, proto::priority::critical);
  REQUIRE(f != nullptr);
  expect_draining(read(f));
  CHECK(t.hub->pop(a, proto::priority::critical) == nullptr);
  CHECK(t.transport.closes.empty());  // flushed of priority 0, not necessarily of the rest
  CHECK(t.hub->pop(a, proto::priority::background) == nullptr);  // the same as pop(a)
  CHECK(t.transport.close_of(a).code == proto::close_code::going_away);
}

TEST_CASE("while draining, requests are served until every session is flushed: a member flushed early still gets a message accepted later") {
  hub_test t;
  const auto a = t.member("alice", "lobby");
  const auto b = t.member("bob", "lobby");
  t.hub->set_backlog(a, 100);  // the socket still holds bytes: not flushed
  t.hub->drain();
  expect_draining(t.pop_one(a));
  CHECK(t.transport.closes.empty());

  t.send(a, chat_req("lobby", "bye", "c1"));
  CHECK(expect_ack(t.pop_one(a), "c1").seq == 1);
  const auto to_b = t.pop_all(b);
  REQUIRE(to_b.size() == 2);
  expect_draining(to_b[0]);
  CHECK(to_b[1].as<proto::chat_delivery>().payload.content == "bye");
  CHECK(t.transport.closes.empty());  // bob waits for alice

  t.hub->set_backlog(a, 0);  // written out
  CHECK(t.transport.close_of(a).code == proto::close_code::going_away);
  CHECK(t.transport.close_of(b).code == proto::close_code::going_away);
}

TEST_CASE("at the drain deadline every remaining session is closed with 1001") {
  hub_test t;
  const auto a = t.open("alice");
  const auto b = t.open("bob");
  t.hub->drain();
  CHECK(t.hub->next_deadline_ms() <= 5000);
  t.clock.advance(4999);
  t.hub->tick();
  CHECK(t.transport.closes.empty());
  t.clock.advance(1);
  t.hub->tick();
  CHECK(t.transport.close_of(a).code == proto::close_code::going_away);
  CHECK(t.transport.close_of(b).code == proto::close_code::going_away);
  CHECK(t.hub->pop(a) == nullptr);  // what was queued is discarded
  t.hub->tick();
  CHECK(t.transport.closes.size() == 2);  // once each
}

TEST_CASE("while draining, new priority 3-4 frames are dropped - drain() again does nothing") {
  core::hub_options o;
  o.health_interval_ms = 1000;
  hub_test t(o);
  const auto a = t.member("monitor", "system:health");
  t.hub->set_backlog(a, 1);
  t.hub->drain();
  t.pop_all(a);
  CHECK(t.hub->send(a, blob_env("bg", proto::priority::background)) == 0);
  CHECK(t.hub->send(a, blob_env("low", proto::priority::low)) == 0);
  CHECK(t.hub->send(a, blob_env("hi", proto::priority::high)) == 1);
  t.clock.advance(1000);  // the periodic health update (priority 3) is dropped too
  t.hub->drain();
  t.hub->tick();
  const auto frames = t.pop_all(a);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].as<blob>().payload.data == "hi");
}

TEST_CASE("a session opened while draining is told so and closed once flushed") {
  hub_test t;
  t.hub->drain();
  const auto late = t.open("late");
  expect_draining(t.pop_one(late));
  CHECK(t.transport.close_of(late).code == proto::close_code::going_away);
  t.hub->closed(late, proto::close_code::going_away);
  CHECK(t.hub->drained());
}
