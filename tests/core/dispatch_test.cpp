// Every request gets exactly one answer: messageReceived when accepted, error when refused.

#include <string>

#include "hub_fixture.hpp"

using namespace roomwire_test;

TEST_CASE("an accepted request gets exactly one messageReceived") {
  hub_test t;
  const auto a = t.open("alice");
  t.send(a, request("joinRoom", R"({"roomId":"lobby"})", "j-1", 1));
  const received r = t.pop_one(a);
  const auto ack = expect_ack(r, "j-1");
  CHECK(ack.room_id == "lobby");
  CHECK(ack.sender_id == "alice");
  CHECK(ack.timestamp == t.clock.wall_ms());
  CHECK(ack.seq == 0);  // the room's last seq when alice became a member: none yet
  CHECK(r.timestamp == t.clock.wall_ms());
  CHECK(r.priority == proto::priority::high);
}

TEST_CASE("a join's acknowledgement carries the room's last seq; joining again does not") {
  hub_test t;
  const auto a = t.open("alice");
  const auto b = t.open("bob");
  t.send(a, join_req("lobby", "j-1"));
  t.send(a, chat_req("lobby", "one", "m-1"));
  t.send(a, chat_req("lobby", "two", "m-2"));
  t.pop_all(a);
  t.send(b, join_req("lobby", "j-2"));
  CHECK(expect_ack(t.pop_one(b), "j-2").seq == 2);
  t.send(b, join_req("lobby", "j-3"));
  const received again = t.pop_one(b);
  CHECK_FALSE(expect_ack(again, "j-3").seq.has_value());
  CHECK(again.frame->text.find("\"seq\"") == std::string::npos);
}

TEST_CASE("answers carry priority min(request priority, 2)") {
  hub_test t;
  const auto a = t.open("alice");
  t.send(a, request("joinRoom", R"({"roomId":"lobby"})", "j0", 0));
  CHECK(t.pop_one(a).priority == proto::priority::critical);
  t.send(a, request("joinRoom", R"({"roomId":"lobby"})", "j4", 4));
  CHECK(t.pop_one(a).priority == proto::priority::normal);
  t.send(a, request("joinRoom", R"({"roomId":"lobby"})", "j3", 3));
  CHECK(t.pop_one(a).priority == proto::priority::normal);
  t.send(a, request("joinRoom", R"({"roomId":42})", "bad0", 0));
  CHECK(t.pop_one(a).priority == proto::priority::critical);
  t.send(a, request("joinRoom", R"({"roomId":42})", "bad4", 4));
  CHECK(t.pop_one(a).priority == proto::priority::normal);
  t.send(a, request("message", R"({"roomId":"nowhere","content":"x"})", "ref1", 1));
  CHECK(t.pop_one(a).priority == proto::priority::high);
}

TEST_CASE("a request without a messageId gets one assigned") {
  hub_test t;
  const auto a = t.member("alice", "lobby");
  const auto b = t.member("bob", "lobby");
  t.send(a, R"({"type":"message","payload":{"roomId":"lobby","content":"hi"}})");
  const received r = t.pop_one(a);
  REQUIRE(r.type == "messageReceived");
  const auto ack = r.as<proto::message_received>().payload;
  CHECK(ack.message_id.rfind("s-", 0) == 0);
  CHECK(ack.message_id != r.message_id);
  // The delivery keeps the request's (assigned) id.
  const received d = t.pop_one(b);
  CHECK(d.message_id == ack.message_id);
}

TEST_CASE("the client's timestamp is not the server's accept time") {
  hub_test t;
  const auto a = t.open("alice");
  t.send(a, R"({"type":"joinRoom","payload":{"roomId":"lobby"},"messageId":"j","timestamp":5})");
  const auto ack = expect_ack(t.pop_one(a), "j");
  CHECK(ack.timestamp == t.clock.wall_ms());
}

TEST_CASE("a frame that is not JSON is answered with 4002 - the session stays open") {
  hub_test t;
  const auto a = t.open("alice");
  t.send(a, "not json");
  const auto e = expect_error(t.pop_one(a), "4002");
  CHECK(e.str("path").empty());
  CHECK(e.str("reason").find("is not valid JSON") != std::string::npos);
  CHECK_FALSE(e.has("messageId"));
  CHECK(t.transport.closes.empty());

  t.send(a, "[1,2]");
  const auto e2 = expect_error(t.pop_one(a), "4002");
  CHECK(e2.str("path").empty());
  CHECK(e2.str("reason") == "must be a JSON object");

  t.send(a, join_req("lobby", "ok"));
  expect_ack(t.pop_one(a), "ok");
}

TEST_CASE("error details hold the request's messageId, type, path and reason") {
  hub_test t;
  const auto a = t.open("alice");
  t.send(a, R"({"type":"joinRoom","payload":{"roomId":42},"messageId":"m-7"})");
  const auto e = expect_error(t.pop_one(a), "4002");
  CHECK(e.str("messageId") == "m-7");
  CHECK(e.str("type") == "joinRoom");
  CHECK(e.str("path") == "/payload/roomId");
  CHECK(e.str("reason") == "must be a string");
  CHECK_FALSE(e.message.empty());

  // An envelope field of the wrong type.
  t.send(a, R"({"type":"joinRoom","payload":{"roomId":"x"},"messageId":"m-8","priority":9})");
  const auto e2 = expect_error(t.pop_one(a), "4002");
  CHECK(e2.str("messageId") == "m-8");
  CHECK(e2.str("path") == "/priority");

  // null is not absent.
  t.send(a, R"({"type":"joinRoom","payload":{"roomId":"x"},"messageId":null})");
  const auto e3 = expect_error(t.pop_one(a), "4002");
  CHECK(e3.str("path") == "/messageId");
}

TEST_CASE("an unregistered type is 4002 'unknown message type'") {
  hub_test t;
  const auto a = t.open("alice");
  t.send(a, request("dance", "{}", "d1"));
  const auto e = expect_error(t.pop_one(a), "4002");
  CHECK(e.str("path") == "/type");
  CHECK(e.str("reason") == "unknown message type");
  CHECK(e.str("type") == "dance");
  CHECK(e.str("messageId") == "d1");

  // Server-to-client types are not requests either.
  t.send(a, request("messageReceived", "{}", "d2"));
  CHECK(expect_error(t.pop_one(a), "4002").str("reason") == "unknown message type");
}

TEST_CASE("nesting is limited by options.max_depth") {
  core::hub_options o;
  o.max_depth = 3;
  hub_test t(o);
  const auto a = t.open("alice");
  t.send(a, request("joinRoom", R"({"roomId":"x","extra":{}})", "ok"));
  expect_ack(t.pop_one(a), "ok");
  t.send(a, request("joinRoom", R"({"roomId":"x","extra":{"deeper":{}}})", "deep"));
  const auto e = expect_error(t.pop_one(a), "4002");
  CHECK(e.str("path") == "/payload/extra/deeper");
}

TEST_CASE("messagesIn counts every envelope received, by type") {
  hub_test t;
  const auto a = t.open("alice");
  t.send(a, join_req("lobby", "j"));
  t.send(a, request("joinRoom", R"({"roomId":"lobby"})", "j3", 3));
  t.send(a, "{");
  t.send(a, request("dance", "{}"));
  t.pop_all(a);
  const auto m = t.hub->metrics();
  CHECK(m.messages_in == 4);
  CHECK(m.in_by_type.at("joinRoom")[2] == 1);
  CHECK(m.in_by_type.at("joinRoom")[3] == 1);
  CHECK(m.in_by_type.at("(invalid)")[2] == 1);
  CHECK(m.in_by_type.at("(unknown)")[2] == 1);
  CHECK(m.in_by_type.count("dance") == 0);  // client-chosen strings never become keys
  CHECK(m.messages_out == 4);
  CHECK(m.out_by_type.at("messageReceived")[2] == 2);
  CHECK(m.out_by_type.at("error")[2] == 2);
}
