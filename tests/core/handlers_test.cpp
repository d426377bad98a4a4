// Host handlers: on<T>() for host types and as hooks on built-in types, on_connect/on_disconnect,
// and exceptions caught at the dispatch boundary.

#include <stdexcept>
#include <string>
#include <vector>

#include "hub_fixture.hpp"

using namespace roomwire_test;

namespace {

struct ping {
  static constexpr std::string_view type = "ping";
  std::string note;
  static constexpr auto fields() { return proto::fields(proto::field("note", &ping::note)); }
};

struct pong {
  static constexpr std::string_view type = "pong";
  std::string note;
  static constexpr auto fields() { return proto::fields(proto::field("note", &pong::note)); }
};

std::string ping_req(std::string_view note, std::string_view id) {
  return request("ping", R"({"note":")" + std::string(note) + "\"}", id);
}

}  // namespace

TEST_CASE("a host type accepted by its handler is acknowledged with an empty roomId") {
  hub_test t;
  std::vector<std::string> seen;
  t.hub->on<ping>([&](core::session_view& s, const proto::envelope<ping>& m) {
    seen.push_back(s.user_id() + ":" + m.payload.note + ":" + m.message_id);
    return core::verdict::accept();
  });
  const auto a = t.open("alice");
  t.send(a, ping_req("hello", "p1"));
  const auto ack = expect_ack(t.pop_one(a), "p1");
  CHECK(ack.room_id.empty());
  CHECK(ack.sender_id == "alice");
  CHECK(seen == std::vector<std::string>{"alice:hello:p1"});
  CHECK(t.hub->metrics().in_by_type.at("ping")[2] == 1);
}

TEST_CASE("a handler returning void accepts") {
  hub_test t;
  int calls = 0;
  t.hub->on<ping>([&](core::session_view&, const proto::envelope<ping>&) { ++calls; });
  const auto a = t.open("alice");
  t.send(a, ping_req("x", "p1"));
  expect_ack(t.pop_one(a), "p1");
  CHECK(calls == 1);
}

TEST_CASE("a handler's refusal is an error with its code and message") {
  hub_test t;
  t.hub->on<ping>([](core::session_view&, const proto::envelope<ping>&) {
    return core::verdict::refuse(proto::error_code::permission_denied, "no pings today");
  });
  const auto a = t.open("alice");
  t.send(a, ping_req("x", "p1"));
  const auto e = expect_error(t.pop_one(a), "4004");
  CHECK(e.message == "no pings today");
  CHECK(e.str("messageId") == "p1");
  CHECK(e.str("type") == "ping");
}

TEST_CASE("a handler that replied itself gets nothing added") {
  hub_test t;
  t.hub->on<ping>([](core::session_view& s, const proto::envelope<ping>& m) {
    proto::envelope<pong> reply;
    reply.payload.note = "re: " + m.payload.note;
    s.send(reply);
    return core::verdict::replied();
  });
  const auto a = t.open("alice");
  t.send(a, ping_req("x", "p1"));
  const received r = t.pop_one(a);
  CHECK(r.as<pong>().payload.note == "re: x");
  CHECK(r.message_id.rfind("s-", 0) == 0);  // a fresh id was given
  CHECK(r.timestamp == t.clock.wall_ms());  // and the current time
}

TEST_CASE("a host type that fails its own validation is 4002 with the path") {
  hub_test t;
  t.hub->on<ping>([](core::session_view&, const proto::envelope<ping>&) {});
  const auto a = t.open("alice");
  t.send(a, request("ping", "{}", "p1"));
  const auto e = expect_error(t.pop_one(a), "4002");
  CHECK(e.str("path") == "/payload/note");
  CHECK(e.str("reason") == "is required");
}

TEST_CASE("an exception thrown by a handler is answered with 4004 and never escapes") {
  hub_test t;
  bool throw_std = true;
  t.hub->on<ping>([&](core::session_view&, const proto::envelope<ping>&) {
    if (throw_std) throw std::runtime_error("boom");
    throw 42;
  });
  const auto a = t.open("alice");
  REQUIRE_NOTHROW(t.send(a, ping_req("x", "p1")));
  const auto e = expect_error(t.pop_one(a), "4004");
  CHECK(e.str("messageId") == "p1");
  CHECK(e.str("type") == "ping");
  throw_std = false;
  REQUIRE_NOTHROW(t.send(a, ping_req("x", "p2")));
  expect_error(t.pop_one(a), "4004");
  CHECK(t.hub->metrics().handler_errors == 2);

  // The session is still served, and the errors did not count as invalid messages.
  t.send(a, join_req("lobby", "j"));
  expect_ack(t.pop_one(a), "j");
  CHECK(t.transport.closes.empty());
}

TEST_CASE("an exception thrown by a policy is caught the same way") {
  core::hub_policies p;
  p.may_join = [](const core::identity&, std::string_view) -> bool {
    throw std::logic_error("policy bug");
  };
  hub_test t({}, p);
  const auto a = t.open("alice");
  REQUIRE_NOTHROW(t.send(a, join_req("lobby", "j")));
  expect_error(t.pop_one(a), "4004");
  CHECK(t.hub->metrics().handler_errors == 1);
  CHECK(t.hub->metrics().rooms == 0);
}

TEST_CASE("a hook on a built-in type runs before the built-in rule") {
  hub_test t;
  std::vector<std::string> order;
  t.hub->on<proto::join_room>([&](core::session_view&, const proto::envelope<proto::join_room>& m) {
    order.push_back("hook " + m.payload.room_id);
    if (m.payload.room_id == "vip") {
      return core::verdict::refuse(proto::error_code::permission_denied, "members only");
    }
    return core::verdict::accept();
  });
  const auto a = t.open("alice");
  t.send(a, join_req("vip", "j1"));
  CHECK(expect_error(t.pop_one(a), "4004").message == "members only");
  CHECK(t.hub->metrics().rooms == 0);  // the built-in rule did not run

  t.send(a, join_req("lobby", "j2"));
  CHECK(expect_ack(t.pop_one(a), "j2").room_id == "lobby");
  CHECK(t.hub->metrics().rooms == 1);
  CHECK(order == std::vector<std::string>{"hook vip", "hook lobby"});
}

TEST_CASE("a hook may answer a built-in request itself") {
  hub_test t;
  t.hub->on<proto::chat_message>(
      [](core::session_view& s, const proto::envelope<proto::chat_message>& m) {
        if (m.payload.content != "/help") return core::verdict::accept();
        proto::envelope<pong> reply;
        reply.payload.note = "commands: /help";
        s.send(reply);
        return core::verdict::replied();
      });
  const auto a = t.member("alice", "lobby");
  const auto b = t.member("bob", "lobby");
  t.send(a, chat_req("lobby", "/help", "c1"));
  CHECK(t.pop_one(a).as<pong>().payload.note == "commands: /help");
  t.expect_nothing(b);
  t.send(a, chat_req("lobby", "hello", "c2"));
  CHECK(expect_ack(t.pop_one(a), "c2").seq == 1);
  CHECK(t.pop_one(b).as<proto::chat_delivery>().payload.content == "hello");
}

TEST_CASE("on_connect and on_disconnect see the session and its data") {
  hub_test t;
  std::vector<std::string> events;
  t.hub->on_connect([&](core::session_view& s) {
    s.data() = std::string("data of ") + s.user_id();
    proto::envelope<pong> welcome;
    welcome.payload.note = "welcome";
    s.send(welcome);
    events.push_back("connect " + s.user_id());
  });
  t.hub->on_disconnect([&](core::session_view& s, proto::close_code code) {
    events.push_back("disconnect " + std::any_cast<std::string>(s.data()) + " " +
                     std::to_string(static_cast<int>(code)));
  });
  t.hub->on<ping>([&](core::session_view& s, const proto::envelope<ping>&) {
    events.push_back("ping from " + std::any_cast<std::string>(s.data()));
  });
  const auto a = t.open("alice");
  CHECK(t.pop_one(a).as<pong>().payload.note == "welcome");
  t.send(a, ping_req("x", "p"));
  t.hub->closed(a, proto::close_code::going_away);
  CHECK(events == std::vector<std::string>{"connect alice", "ping from data of alice",
                                           "disconnect data of alice 1001"});
}

TEST_CASE("exceptions from on_connect and on_disconnect are caught") {
  hub_test t;
  t.hub->on_connect([](core::session_view&) { throw std::runtime_error("connect"); });
  t.hub->on_disconnect(
      [](core::session_view&, proto::close_code) { throw std::runtime_error("disconnect"); });
  core::session_id a = 0;
  REQUIRE_NOTHROW(a = t.open("alice"));
  REQUIRE_NOTHROW(t.hub->closed(a, proto::close_code::normal));
  CHECK(t.hub->metrics().handler_errors == 2);
  CHECK(t.hub->metrics().connections == 0);
}

TEST_CASE("a handler's 4001 refusal neither counts as invalid nor resets the count") {
  hub_test t;
  t.hub->on<ping>([](core::session_view&, const proto::envelope<ping>&) {
    return core::verdict::refuse(proto::error_code::rate_limited, "slow down");
  });
  const auto a = t.open("alice");
  for (int i = 0; i < 10; ++i) t.send(a, request("dance", "{}"));
  t.send(a, ping_req("x", "p1"));
  const auto frames = t.pop_all(a);
  REQUIRE(frames.size() == 11);
  CHECK(expect_error(frames.back(), "4001").message == "slow down");
  CHECK(t.transport.closes.empty());
  t.send(a, request("dance", "{}"));  // the 11th invalid in a row
  t.pop_all(a);
  CHECK(t.transport.close_of(a).code == proto::close_code::invalid_message);
}

TEST_CASE("a handler's 4002 refusal counts as invalid and carries path and reason") {
  hub_test t;
  t.hub->on<ping>([](core::session_view&, const proto::envelope<ping>&) {
    return core::verdict::refuse(proto::error_code::invalid_message, "note must be polite");
  });
  const auto a = t.open("alice");
  t.send(a, ping_req("rude", "p1"));
  const auto e = expect_error(t.pop_one(a), "4002");
  CHECK(e.str("path").empty());
  CHECK(e.str("reason") == "note must be polite");
  CHECK(e.str("messageId") == "p1");
  for (int i = 0; i < 10; ++i) t.send(a, ping_req("rude", "p"));
  t.pop_all(a);
  CHECK(t.transport.close_of(a).code == proto::close_code::invalid_message);
}
