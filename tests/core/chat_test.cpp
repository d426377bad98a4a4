// Chat messages (§3): membership, seq, fan-out, system and file metadata, content size.

#include <string>

#include "hub_fixture.hpp"

using namespace roomwire_test;

TEST_CASE("a message reaches every other session in the room, the sender's other ones included") {
  hub_test t;
  const auto a1 = t.member("alice", "lobby");
  const auto a2 = t.member("alice", "lobby");
  const auto b = t.member("bob", "lobby");
  const auto c = t.member("carol", "elsewhere");
  const auto d = t.open("dave");
  t.clock.advance(1234);

  t.send(a1, chat_req("lobby", "hello, room", "c-1", 1));

  const received ack_frame = t.pop_one(a1);
  const auto ack = expect_ack(ack_frame, "c-1");
  CHECK(ack.room_id == "lobby");
  CHECK(ack.sender_id == "alice");
  CHECK(ack.seq == 1);
  CHECK(ack.timestamp == t.clock.wall_ms());
  CHECK(ack_frame.priority == proto::priority::high);

  const received to_a2 = t.pop_one(a2);
  const received to_b = t.pop_one(b);
  for (const received* r : {&to_a2, &to_b}) {
    INFO(r->frame->text);
    const auto m = r->as<proto::chat_delivery>();
    CHECK(m.message_id == "c-1");  // the client's id
    CHECK(m.timestamp == ack.timestamp);
    CHECK(m.priority == proto::priority::high);  // the request's priority
    CHECK(m.payload.room_id == "lobby");
    CHECK(m.payload.content == "hello, room");
    CHECK(m.payload.metadata.known.kind == proto::content_kind::text);
    CHECK(m.payload.sender_id == "alice");
    CHECK(m.payload.seq == 1);
  }
  // Encoded once: every recipient's queue holds the same frame.
  CHECK(to_a2.frame.get() == to_b.frame.get());
  t.expect_nothing(c);
  t.expect_nothing(d);
}

TEST_CASE("absent metadata is delivered as type text") {
  hub_test t;
  const auto a = t.member("alice", "lobby");
  const auto b = t.member("bob", "lobby");
  t.send(a, chat_req("lobby", "x", "c1"));
  const auto doc = t.pop_one(b).json();
  REQUIRE(doc["payload"].HasMember("metadata"));
  CHECK(std::string(doc["payload"]["metadata"]["type"].GetString()) == "text");
  CHECK(doc["payload"]["metadata"].MemberCount() == 1);
  t.pop_all(a);

  // A previous message's metadata never leaks into the next one.
  t.send(a, chat_req("lobby", "f", "c2", -1, R"({"type":"file","fileUrl":"http://h/f"})"));
  t.pop_all(b);
  t.send(a, chat_req("lobby", "y", "c3"));
  const auto doc3 = t.pop_one(b).json();
  CHECK(doc3["payload"]["metadata"].MemberCount() == 1);
  CHECK(std::string(doc3["payload"]["metadata"]["type"].GetString()) == "text");
}

TEST_CASE("seq starts at 1 per room and only grows") {
  hub_test t;
  const auto a = t.member("alice", "one");
  t.join(a, "two");
  const auto b = t.member("bob", "one");
  t.join(b, "two");
  const std::pair<const char*, std::int64_t> expected[] = {
      {"one", 1}, {"one", 2}, {"two", 1}, {"one", 3}, {"two", 2}};
  int n = 0;
  for (const auto& [room, seq] : expected) {
    const std::string id = "c" + std::to_string(n++);
    t.send(a, chat_req(room, "x", id));
    CHECK(expect_ack(t.pop_one(a), id).seq == seq);
    const auto m = t.pop_one(b).as<proto::chat_delivery>();
    CHECK(m.payload.room_id == room);
    CHECK(m.payload.seq == seq);
  }
}

TEST_CASE("deliver_to_sender also delivers to the sending session") {
  core::hub_options o;
  o.deliver_to_sender = true;
  hub_test t(o);
  const auto a = t.member("alice", "lobby");
  const auto b = t.member("bob", "lobby");
  t.send(a, chat_req("lobby", "echo", "c1"));
  const auto mine = t.pop_all(a);
  REQUIRE(mine.size() == 2);
  expect_ack(mine[0], "c1");
  CHECK(mine[1].as<proto::chat_delivery>().payload.content == "echo");
  const received theirs = t.pop_one(b);
  CHECK(mine[1].frame.get() == theirs.frame.get());
}

TEST_CASE("the sender must be a member: 4004, or 4003 when the room does not exist") {
  hub_test t;
  const auto a = t.open("alice");
  const auto b = t.member("bob", "lobby");
  t.send(a, chat_req("nowhere", "x", "c1"));
  const auto e1 = expect_error(t.pop_one(a), "4003");
  CHECK(e1.str("messageId") == "c1");
  CHECK(e1.str("type") == "message");
  t.send(a, chat_req("lobby", "x", "c2"));
  const auto e2 = expect_error(t.pop_one(a), "4004");
  CHECK(e2.str("messageId") == "c2");
  t.expect_nothing(b);
  // A refused message takes no seq.
  t.send(b, chat_req("lobby", "x", "c3"));
  CHECK(expect_ack(t.pop_one(b), "c3").seq == 1);
}

TEST_CASE("a system message needs may_send_system (default: role admin)") {
  const std::string system = R"({"type":"system"})";
  SECTION("default policy") {
    hub_test t;
    const auto a = t.member("alice", "lobby");
    const auto root = t.member("root", "lobby", {"admin"});
    t.send(a, chat_req("lobby", "reboot", "c1", -1, system));
    expect_error(t.pop_one(a), "4004");
    t.expect_nothing(root);
    t.send(root, chat_req("lobby", "reboot", "c2", -1, system));
    CHECK(expect_ack(t.pop_one(root), "c2").seq == 1);
    const auto m = t.pop_one(a).as<proto::chat_delivery>();
    CHECK(m.payload.metadata.known.kind == proto::content_kind::system);
  }
  SECTION("host policy") {
    core::hub_policies p;
    p.may_send_system = [](const core::identity& who, std::string_view room) {
      return who.user_id == "alice" && room == "lobby";
    };
    hub_test t({}, p);
    const auto a = t.member("alice", "lobby");
    t.join(a, "other");
    const auto root = t.member("root", "lobby", {"admin"});
    t.send(a, chat_req("lobby", "ok", "c1", -1, system));
    expect_ack(t.pop_one(a), "c1");
    t.send(a, chat_req("other", "no", "c2", -1, system));
    expect_error(t.pop_one(a), "4004");
    t.pop_all(root);
    t.send(root, chat_req("lobby", "no", "c3", -1, system));
    expect_error(t.pop_one(root), "4004");
  }
}

TEST_CASE("a file message needs fileUrl") {
  hub_test t;
  const auto a = t.member("alice", "lobby");
  t.send(a, chat_req("lobby", "x", "c1", -1, R"({"type":"file","fileName":"a.txt"})"));
  const auto e = expect_error(t.pop_one(a), "4002");
  CHECK(e.str("path") == "/payload/metadata/fileUrl");
  CHECK(e.str("messageId") == "c1");
  CHECK(e.str("type") == "message");
}

TEST_CASE("content may hold 65536 bytes, not more") {
  hub_test t;
  const auto a = t.member("alice", "lobby");
  const auto b = t.member("bob", "lobby");
  // Multi-byte characters: the limit is in bytes of UTF-8.
  std::string content;
  for (int i = 0; i < 65536 / 2; ++i) content += "\xc3\xa9";  // é
  t.send(a, chat_req("lobby", content, "c1"));
  expect_ack(t.pop_one(a), "c1");
  CHECK(t.pop_one(b).as<proto::chat_delivery>().payload.content == content);
  t.send(a, chat_req("lobby", content + "x", "c2"));
  const auto e = expect_error(t.pop_one(a), "4002");
  CHECK(e.str("path") == "/payload/content");
  t.expect_nothing(b);
}

TEST_CASE("metadata is forwarded verbatim, with the client's own fields") {
  hub_test t;
  const auto a = t.member("alice", "lobby");
  const auto b = t.member("bob", "lobby");
  t.send(a, chat_req("lobby", "see file", "c1", -1,
                     R"({"type":"file","fileUrl":"https://h/f.png","fileName":"f.png",)"
                     R"("thumb":{"w":3,"h":[1,2]}})"));
  t.pop_all(a);
  const received r = t.pop_one(b);
  const auto m = r.as<proto::chat_delivery>();
  CHECK(m.payload.metadata.known.kind == proto::content_kind::file);
  CHECK(m.payload.metadata.known.file_url == "https://h/f.png");
  CHECK(m.payload.metadata.known.file_name == "f.png");
  const auto doc = r.json();
  const auto& meta = doc["payload"]["metadata"];
  REQUIRE(meta.HasMember("thumb"));
  CHECK(meta["thumb"]["w"].GetInt() == 3);
  CHECK(meta["thumb"]["h"].Size() == 2);
}

TEST_CASE("a client cannot choose its senderId or seq") {
  hub_test t;
  const auto a = t.member("alice", "lobby");
  const auto b = t.member("bob", "lobby");
  t.send(a, request("message", R"({"roomId":"lobby","content":"x","senderId":"root","seq":99})",
                    "c1"));
  t.pop_all(a);
  const auto m = t.pop_one(b).as<proto::chat_delivery>();
  CHECK(m.payload.sender_id == "alice");
  CHECK(m.payload.seq == 1);
}
