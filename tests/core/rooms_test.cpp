// Rooms (§3): creation, pre-declared rooms, may-join, leave, lifetime, reserved prefixes.

#include <set>
#include <string>

#include "hub_fixture.hpp"

using namespace roomwire_test;

namespace {
std::int64_t chat_seq(hub_test& t, core::session_id s, std::string_view room,
                      const std::string& id) {
  t.send(s, chat_req(room, "x", id));
  const auto frames = t.pop_all(s);
  REQUIRE(frames.size() == 1);
  const auto ack = expect_ack(frames[0], id);
  REQUIRE(ack.seq.has_value());
  return *ack.seq;
}
}  // namespace

TEST_CASE("a room is created on first join - joining again is accepted and changes nothing") {
  hub_test t;
  const auto a = t.open("alice");
  const auto b = t.member("bob", "lobby");
  t.send(a, join_req("lobby", "j1"));
  CHECK(expect_ack(t.pop_one(a), "j1").room_id == "lobby");
  t.send(a, join_req("lobby", "j2"));
  CHECK(expect_ack(t.pop_one(a), "j2").room_id == "lobby");
  CHECK(t.hub->metrics().rooms == 1);

  // Still one membership: bob's message reaches alice once.
  t.send(b, chat_req("lobby", "hi", "c1"));
  t.pop_all(b);
  CHECK(t.pop_all(a).size() == 1);
  // And one leave is enough to leave.
  t.send(a, leave_req("lobby", "l1"));
  expect_ack(t.pop_one(a), "l1");
  t.send(b, chat_req("lobby", "still there?", "c2"));
  t.expect_nothing(a);
}

TEST_CASE("with pre-declared rooms, any other room is 4003 and declared ones live forever") {
  core::hub_policies p;
  p.declared_rooms = std::set<std::string, std::less<>>{"general"};
  hub_test t({}, p);
  CHECK(t.hub->metrics().rooms == 1);
  const auto a = t.open("alice");
  t.send(a, join_req("random", "j1"));
  const auto e = expect_error(t.pop_one(a), "4003");
  CHECK(e.str("messageId") == "j1");
  CHECK(e.str("type") == "joinRoom");
  CHECK_FALSE(e.has("path"));
  CHECK(t.hub->metrics().rooms == 1);

  t.join(a, "general");
  CHECK(chat_seq(t, a, "general", "c1") == 1);
  t.send(a, leave_req("general", "l1"));
  expect_ack(t.pop_one(a), "l1");
  CHECK(t.hub->metrics().rooms == 1);  // the last member left, the room stays
  // Leaving a declared room one is not in is accepted.
  t.send(a, leave_req("general", "l2"));
  expect_ack(t.pop_one(a), "l2");
  t.join(a, "general");
  CHECK(chat_seq(t, a, "general", "c2") == 2);  // and its seq goes on
}

TEST_CASE("a room the identity may not join is 4004") {
  core::hub_policies p;
  p.may_join = [](const core::identity& who, std::string_view room) {
    return room != "secret" || who.has_role("boss");
  };
  hub_test t({}, p);
  const auto a = t.open("alice");
  t.send(a, join_req("secret", "j1"));
  expect_error(t.pop_one(a), "4004");
  CHECK(t.hub->metrics().rooms == 0);
  const auto boss = t.open("bob", {"boss"});
  t.send(boss, join_req("secret", "j2"));
  expect_ack(t.pop_one(boss), "j2");
}

TEST_CASE("leaving a room one is not in: 4003 if it does not exist, else accepted") {
  hub_test t;
  const auto a = t.open("alice");
  t.member("bob", "lobby");
  t.send(a, leave_req("nowhere", "l1"));
  const auto e = expect_error(t.pop_one(a), "4003");
  CHECK(e.str("messageId") == "l1");
  t.send(a, leave_req("lobby", "l2"));
  CHECK(expect_ack(t.pop_one(a), "l2").room_id == "lobby");
  CHECK(t.hub->metrics().rooms == 1);
}

TEST_CASE("a room created by a join goes with its last member - its seq restarts at 1") {
  hub_test t;
  const auto a = t.member("alice", "lobby");
  const auto b = t.member("bob", "lobby");
  CHECK(chat_seq(t, a, "lobby", "c1") == 1);
  t.pop_all(b);
  t.send(b, leave_req("lobby", "l1"));
  expect_ack(t.pop_one(b), "l1");
  CHECK(t.hub->metrics().rooms == 1);
  CHECK(chat_seq(t, a, "lobby", "c2") == 2);
  t.send(a, leave_req("lobby", "l2"));
  expect_ack(t.pop_one(a), "l2");
  CHECK(t.hub->metrics().rooms == 0);
  // Leaving it again: it no longer exists.
  t.send(a, leave_req("lobby", "l3"));
  expect_error(t.pop_one(a), "4003");

  t.join(a, "lobby");
  CHECK(chat_seq(t, a, "lobby", "c3") == 1);
}

TEST_CASE("task: and system: rooms exist implicitly, but may_join still applies") {
  core::hub_policies p;
  p.declared_rooms = std::set<std::string, std::less<>>{"general"};
  p.may_join = [](const core::identity& who, std::string_view room) {
    return room != "system:health" || who.has_role("ops");
  };
  hub_test t({}, p);
  const auto a = t.open("alice");
  t.send(a, join_req("task:42", "j1"));
  expect_ack(t.pop_one(a), "j1");
  t.send(a, leave_req("task:99", "l1"));  // never joined, never existed: still accepted
  expect_ack(t.pop_one(a), "l1");
  t.send(a, chat_req("task:77", "x", "c1"));  // exists implicitly: not a member is 4004
  expect_error(t.pop_one(a), "4004");
  t.send(a, chat_req("system:other", "x", "c2"));
  expect_error(t.pop_one(a), "4004");
  t.send(a, join_req("system:health", "j2"));
  expect_error(t.pop_one(a), "4004");
  const auto ops = t.open("olga", {"ops"});
  t.send(ops, join_req("system:health", "j3"));
  expect_ack(t.pop_one(ops), "j3");
}

// A session in a few rooms finds the room of a chat message among its memberships, one in more
// in the map of every room (rules.cpp, joined_room): the answers are the same.
TEST_CASE("chat: a session in few or many rooms is answered alike") {
  hub_test t(unlimited());
  const auto a = t.open("alice");
  const auto b = t.open("bob");
  t.join(b, "elsewhere");
  for (int rooms = 1; rooms <= 6; ++rooms) {
    INFO(rooms << " rooms");
    const std::string room = "r" + std::to_string(rooms);
    t.join(a, room);
    const std::string n = std::to_string(rooms);
    CHECK(chat_seq(t, a, room, "c" + n) == 1);
    CHECK(chat_seq(t, a, "r1", "d" + n) == rooms + 1);
    t.send(a, chat_req("elsewhere", "x", "e" + n));  // exists (bob's), not a member
    expect_error(t.pop_one(a), "4004");
    t.send(a, chat_req("task:1", "x", "t" + n));  // implicit, not a member
    expect_error(t.pop_one(a), "4004");
    t.send(a, chat_req("nowhere", "x", "n" + n));
    expect_error(t.pop_one(a), "4003");
  }
  // Leaving one of many: it is not found any more.
  t.send(a, leave_req("r3", "l1"));
  expect_ack(t.pop_one(a), "l1");
  t.send(a, chat_req("r3", "x", "after"));
  expect_error(t.pop_one(a), "4003");  // its last member left: the room is gone
  CHECK(chat_seq(t, a, "r6", "c6b") == 2);
}

TEST_CASE("membership bookkeeping survives many sessions joining and leaving in any order") {
  hub_test t(unlimited());
  std::vector<core::session_id> ids;
  for (int i = 0; i < 20; ++i) {
    const auto s = t.open("u" + std::to_string(i));
    for (const char* room : {"r1", "r2", "r3"}) t.join(s, room);
    ids.push_back(s);
  }
  // Leave r2 from every other session, close a few, then check who gets r1/r2 traffic.
  for (std::size_t i = 0; i < ids.size(); i += 2) {
    t.send(ids[i], leave_req("r2", "l"));
    t.pop_all(ids[i]);
  }
  for (std::size_t i = 0; i < ids.size(); i += 5) t.hub->closed(ids[i], proto::close_code::normal);
  const auto sender = t.member("sender", "r1");
  t.join(sender, "r2");
  CHECK(t.hub->send_to_room("r1", proto::envelope<proto::health_update>{}) == 17);
  CHECK(t.hub->send_to_room("r2", proto::envelope<proto::health_update>{}) == 9);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const bool open = i % 5 != 0;
    const std::size_t expected = !open ? 0 : (i % 2 == 0 ? 1 : 2);
    CHECK(t.pop_all(ids[i]).size() == expected);
  }
  for (auto id : ids) t.hub->closed(id, proto::close_code::normal);
  t.hub->closed(sender, proto::close_code::normal);
  CHECK(t.hub->metrics().rooms == 0);
}
