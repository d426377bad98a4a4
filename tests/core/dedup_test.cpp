// Dedup (§6): a repeated messageId of an accepted request is answered with the original
// acknowledgement and not acted on again.

#include <string>

#include "hub_fixture.hpp"

using namespace roomwire_test;

TEST_CASE("a repeated message gets the original acknowledgement and is not delivered again") {
  hub_test t;
  const auto a = t.member("alice", "lobby");
  const auto b = t.member("bob", "lobby");
  t.send(a, chat_req("lobby", "hello", "c-1", 1));
  const auto original = expect_ack(t.pop_one(a), "c-1");
  CHECK(t.pop_all(b).size() == 1);

  t.clock.advance(1500);
  t.send(a, chat_req("lobby", "different content: not compared", "c-1", 3));
  const received again = t.pop_one(a);
  const auto repeat = expect_ack(again, "c-1");
  CHECK(repeat == original);  // same seq, timestamp, room and sender
  CHECK(repeat.seq == 1);
  CHECK(repeat.timestamp == t.clock.wall_ms() - 1500);
  CHECK(again.priority == proto::priority::normal);
  t.expect_nothing(b);

  // The repeat took no seq.
  t.send(a, chat_req("lobby", "next", "c-2"));
  CHECK(expect_ack(t.pop_one(a), "c-2").seq == 2);
}

TEST_CASE("a retry from another session of the same user is recognised - other users are not") {
  hub_test t;
  const auto a1 = t.member("alice", "lobby");
  const auto b = t.member("bob", "lobby");
  t.send(a1, chat_req("lobby", "hello", "c-1"));
  const auto original = expect_ack(t.pop_one(a1), "c-1");
  t.pop_all(b);
  t.hub->closed(a1, proto::close_code::going_away);

  // Reconnected, and resending before even rejoining the room.
  const auto a2 = t.open("alice");
  t.send(a2, chat_req("lobby", "hello", "c-1"));
  CHECK(expect_ack(t.pop_one(a2), "c-1") == original);
  t.expect_nothing(b);

  // The same id from bob is bob's own, new message.
  t.join(a2, "lobby");
  t.send(b, chat_req("lobby", "mine", "c-1"));
  CHECK(expect_ack(t.pop_one(b), "c-1").seq == 2);
  CHECK(t.pop_one(a2).as<proto::chat_delivery>().payload.content == "mine");
}

TEST_CASE("refused requests are not remembered") {
  hub_test t;
  const auto a = t.open("alice");
  const auto b = t.member("bob", "lobby");
  t.send(a, chat_req("lobby", "early", "c-1"));
  expect_error(t.pop_one(a), "4004");
  t.send(a, request("message", R"({"roomId":"lobby","content":7})", "c-2"));
  expect_error(t.pop_one(a), "4002");
  t.join(a, "lobby");
  t.send(a, chat_req("lobby", "now", "c-1"));
  CHECK(expect_ack(t.pop_one(a), "c-1").seq == 1);
  t.send(a, chat_req("lobby", "now2", "c-2"));
  CHECK(expect_ack(t.pop_one(a), "c-2").seq == 2);
  CHECK(t.pop_all(b).size() == 2);
}

TEST_CASE("requests of every type are remembered") {
  hub_test t;
  const auto a = t.open("alice");
  const auto b = t.open("bob");
  t.send(a, join_req("lobby", "j-1"));
  const auto join_ack = expect_ack(t.pop_one(a), "j-1");
  t.send(a, leave_req("lobby", "l-1"));
  expect_ack(t.pop_one(a), "l-1");
  t.clock.advance(10);
  t.send(a, join_req("lobby", "j-1"));  // answered, not acted on: alice stays out
  CHECK(expect_ack(t.pop_one(a), "j-1") == join_ack);
  CHECK(t.hub->metrics().rooms == 0);

  t.send(a, assign_req("t1", "bob", "a-1"));
  const auto assign_ack = expect_ack(t.pop_one(a), "a-1");
  CHECK(t.pop_all(b).size() == 1);
  t.send(a, assign_req("t1", "bob", "a-1"));
  CHECK(expect_ack(t.pop_one(a), "a-1") == assign_ack);
  t.expect_nothing(b);

  t.send(a, update_req("t1", "x", 1, "u-1"));
  expect_ack(t.pop_one(a), "u-1");
  CHECK(t.pop_all(b).size() == 1);
  t.send(a, update_req("t1", "x", 1, "u-1"));
  expect_ack(t.pop_one(a), "u-1");
  t.expect_nothing(b);
}

TEST_CASE("remembered ids expire after dedup_ttl_ms (default 5 minutes)") {
  hub_test t;
  const auto a = t.member("alice", "lobby");
  t.send(a, chat_req("lobby", "x", "c-1"));
  CHECK(expect_ack(t.pop_one(a), "c-1").seq == 1);
  t.clock.advance(5 * 60 * 1000 - 1);
  t.hub->tick();
  t.send(a, chat_req("lobby", "x", "c-1"));
  CHECK(expect_ack(t.pop_one(a), "c-1").seq == 1);
  t.clock.advance(1);
  t.hub->tick();
  t.send(a, chat_req("lobby", "x", "c-1"));
  CHECK(expect_ack(t.pop_one(a), "c-1").seq == 2);  // forgotten: a new message
}

TEST_CASE("at most dedup_entries ids are remembered per user (default 1024), oldest forgotten") {
  hub_test t(unlimited());
  const auto a = t.member("alice", "lobby");
  for (int i = 0; i <= 1024; ++i) {
    t.send(a, chat_req("lobby", "x", "m-" + std::to_string(i)));
  }
  CHECK(t.pop_all(a).size() == 1025);
  t.send(a, chat_req("lobby", "x", "m-1024"));
  CHECK(expect_ack(t.pop_one(a), "m-1024").seq == 1025);  // remembered
  t.send(a, chat_req("lobby", "x", "m-1"));
  CHECK(expect_ack(t.pop_one(a), "m-1").seq == 2);  // the oldest still remembered
  t.send(a, chat_req("lobby", "x", "m-0"));
  CHECK(expect_ack(t.pop_one(a), "m-0").seq == 1026);  // forgotten: new
}

TEST_CASE("ids the server assigned are not remembered") {
  hub_test t;
  const auto a = t.member("alice", "lobby");
  t.send(a, R"({"type":"message","payload":{"roomId":"lobby","content":"x"}})");
  const auto ack = t.pop_one(a).as<proto::message_received>().payload;
  CHECK(ack.seq == 1);
  // Only a client-chosen id can be retried; the same text as a client id is a new request.
  t.send(a, chat_req("lobby", "x", ack.message_id));
  CHECK(expect_ack(t.pop_one(a), ack.message_id).seq == 2);
}
