// Health (§3): periodic updates to system:health, status changes to everyone, metrics.

#include <string>

#include "hub_fixture.hpp"

using namespace roomwire_test;

namespace {
rapidjson::Document metrics_of(const proto::envelope<proto::health_update>& h) {
  rapidjson::Document doc;
  doc.Parse(h.payload.metrics.text.c_str());
  REQUIRE(!doc.HasParseError());
  REQUIRE(doc.IsObject());
  return doc;
}
}  // namespace

TEST_CASE("members of system:health get a healthUpdate every interval, with priority 3") {
  hub_test t;
  const auto m = t.member("monitor", "system:health");  // its ack popped: messagesOut 1
  const auto o = t.open("other");
  t.clock.advance(9999);
  t.hub->tick();
  t.expect_nothing(m);
  CHECK(t.hub->next_deadline_ms() == 10000);

  t.clock.advance(1);
  t.hub->tick();
  const received r = t.pop_one(m);
  const auto h = r.as<proto::health_update>();
  CHECK(h.priority == proto::priority::low);
  CHECK(h.payload.status == proto::health_status::ok);
  CHECK(h.timestamp == t.clock.wall_ms());
  CHECK(h.message_id.rfind("s-", 0) == 0);
  const auto metrics = metrics_of(h);
  CHECK(metrics["connections"].GetInt64() == 2);
  CHECK(metrics["rooms"].GetInt64() == 1);
  CHECK(metrics["messagesIn"].GetInt64() == 1);
  CHECK(metrics["messagesOut"].GetInt64() == 1);
  CHECK(metrics["messagesDropped"].GetInt64() == 0);
  CHECK(metrics["uptimeSeconds"].IsInt64());
  CHECK(metrics["uptimeSeconds"].GetInt64() == 10);
  t.expect_nothing(o);
  t.clock.advance(9999);
  t.hub->tick();
  t.expect_nothing(m);
  t.clock.advance(1);
  t.hub->tick();
  CHECK(t.pop_one(m).as<proto::health_update>().priority == proto::priority::low);

  // Not a member any more: nothing.
  t.send(m, leave_req("system:health", "l"));
  t.pop_all(m);
  t.clock.advance(10000);
  t.hub->tick();
  t.expect_nothing(m);
}

TEST_CASE("the health interval is an option, and a late tick sends one update, not a burst") {
  core::hub_options opt;
  opt.health_interval_ms = 2000;
  hub_test t(opt);
  const auto m = t.member("monitor", "system:health");
  t.clock.advance(2000);
  t.hub->tick();
  CHECK(t.pop_all(m).size() == 1);
  t.clock.advance(35000);
  t.hub->tick();
  CHECK(t.pop_all(m).size() == 1);
  CHECK(t.hub->next_deadline_ms() == t.clock.steady_ms() + 1000);  // the dedup sweep comes first
}

TEST_CASE("a status change goes to every session with priority 0") {
  hub_test t;
  const auto a = t.open("alice");
  const auto b = t.member("bob", "lobby");
  t.hub->set_health(proto::health_status::degraded);
  const received ra = t.pop_one(a);
  const received rb = t.pop_one(b);
  CHECK(ra.frame.get() == rb.frame.get());
  const auto h = ra.as<proto::health_update>();
  CHECK(h.priority == proto::priority::critical);
  CHECK(h.payload.status == proto::health_status::degraded);
  metrics_of(h);
  CHECK(t.hub->metrics().status == proto::health_status::degraded);

  t.hub->set_health(proto::health_status::degraded);  // no change: nothing sent
  t.expect_nothing(a);
  t.hub->set_health(proto::health_status::ok);
  CHECK(t.pop_one(a).as<proto::health_update>().payload.status == proto::health_status::ok);
}

TEST_CASE("metrics() counts connections, rooms, messages, drops, closes and failures") {
  hub_test t;
  const auto a = t.member("alice", "lobby");
  const auto b = t.member("bob", "lobby");
  t.join(b, "side");
  t.send(a, chat_req("lobby", "x", "c1"));
  t.hub->count_handshake_failure();
  t.clock.advance(61000);
  auto m = t.hub->metrics();
  CHECK(m.connections == 2);
  CHECK(m.rooms == 2);
  CHECK(m.messages_in == 4);
  CHECK(m.messages_out == 3);  // the three join acks
  CHECK(m.queue_bytes == t.hub->queued_bytes(a) + t.hub->queued_bytes(b));
  CHECK(m.queue_bytes > 0);
  CHECK(m.handshake_failures == 1);
  CHECK(m.uptime_seconds == 61);
  CHECK(m.status == proto::health_status::ok);
  t.hub->closed(b, proto::close_code::going_away);
  m = t.hub->metrics();
  CHECK(m.connections == 1);
  CHECK(m.rooms == 1);
  CHECK(m.closes_by_code.at(1001) == 1);
  CHECK(m.queue_bytes == t.hub->queued_bytes(a));
}
