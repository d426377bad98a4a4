// A real server and raw clients: chat between two users, the limits table of PROTOCOL.md §5
// row by row, the heartbeat, host handlers and pushes.

#include <catch2/catch.hpp>

#include <future>
#include <thread>

#include "test_server.hpp"

using namespace rwtest;

namespace {

int close_code_after(wire_client& c) {
  auto closed = c.wait_close();
  return closed ? closed->code : -1;
}

}  // namespace

TEST_CASE("two users chat: acknowledgement to the sender, delivery to the other") {
  running_server s(test_options());
  s.start();
  auto alice = connect_as(s.at(), "alice");
  auto bob = connect_as(s.at(), "bob");
  REQUIRE(alice);
  REQUIRE(bob);
  REQUIRE(join(*alice, "lobby", "a-join"));
  REQUIRE(join(*bob, "lobby", "b-join"));

  alice->send_text(envelope("message", R"({"roomId":"lobby","content":"hello, bob"})", "a-1", 1));
  auto ack = alice->next_of_type("messageReceived");
  REQUIRE(ack);
  const auto a = parse_json(*ack);
  CHECK(std::string(a["payload"]["messageId"].GetString()) == "a-1");
  CHECK(std::string(a["payload"]["roomId"].GetString()) == "lobby");
  CHECK(std::string(a["payload"]["senderId"].GetString()) == "alice");
  CHECK(a["payload"]["seq"].GetInt64() == 1);
  CHECK(a["priority"].GetInt() == 1);

  auto delivered = bob->next_of_type("message");
  REQUIRE(delivered);
  const auto d = parse_json(*delivered);
  CHECK(std::string(d["messageId"].GetString()) == "a-1");
  CHECK(d["priority"].GetInt() == 1);
  CHECK(d["timestamp"].GetInt64() == a["payload"]["timestamp"].GetInt64());
  CHECK(std::string(d["payload"]["content"].GetString()) == "hello, bob");
  CHECK(std::string(d["payload"]["senderId"].GetString()) == "alice");
  CHECK(std::string(d["payload"]["roomId"].GetString()) == "lobby");
  CHECK(d["payload"]["seq"].GetInt64() == 1);

  // And back, in order.
  for (int i = 0; i < 20; ++i) {
    bob->send_text(envelope("message",
                            R"({"roomId":"lobby","content":"n)" + std::to_string(i) + "\"}",
                            "b-" + std::to_string(i)));
  }
  for (int i = 0; i < 20; ++i) {
    auto m = alice->next_of_type("message");
    REQUIRE(m);
    const auto doc = parse_json(*m);
    CHECK(doc["payload"]["seq"].GetInt64() == 2 + i);
    CHECK(std::string(doc["payload"]["content"].GetString()) == "n" + std::to_string(i));
  }
  // Every server frame is an unmasked text frame.
  bob->send_text(envelope("leaveRoom", R"({"roomId":"lobby"})", "b-leave"));
  auto f = bob->next_frame();
  REQUIRE(f);
  CHECK(f->opcode == 0x1);
}

TEST_CASE("the limits table of §5, row by row") {
  running_server s(test_options());
  s.start();
  auto c = connect_as(s.at(), "tester");
  REQUIRE(c);

  SECTION("a frame larger than the limit (64 KiB): close 1009") {
    c->send_text(
        envelope("message", "{\"roomId\":\"r\",\"content\":\"" + std::string(70000, 'x') + "\"}"));
    CHECK(close_code_after(*c) == 1009);
  }
  SECTION("a message over the limit in several fragments: close 1009") {
    c->send_frame(0x1, std::string(40000, 'x'), false);
    c->send_frame(0x0, std::string(40000, 'x'), true);
    CHECK(close_code_after(*c) == 1009);
  }
  SECTION("invalid UTF-8 in a text frame: close 1007") {
    c->send_frame(0x1, "{\"type\":\"\xC3\x28\"}");
    CHECK(close_code_after(*c) == 1007);
  }
  SECTION("a binary frame: close 1003") {
    c->send_binary("{\"type\":\"joinRoom\"}");
    CHECK(close_code_after(*c) == 1003);
  }
  SECTION("an unmasked frame: close 1002") {
    c->send_frame(0x1, "{}", true, false);
    CHECK(close_code_after(*c) == 1002);
  }
  SECTION("a reserved opcode: close 1002") {
    c->send_frame(0x3, "x");
    CHECK(close_code_after(*c) == 1002);
  }
  SECTION("a reserved bit without an extension: close 1002") {
    c->send_frame(0x1, "{}", true, true, 0x4);
    CHECK(close_code_after(*c) == 1002);
  }
  SECTION("a continuation with nothing to continue: close 1002") {
    c->send_frame(0x0, "x");
    CHECK(close_code_after(*c) == 1002);
  }
  SECTION("a control frame over 125 bytes: close 1002") {
    c->send_frame(0x9, std::string(126, 'p'));
    CHECK(close_code_after(*c) == 1002);
  }
  SECTION("not JSON: error 4002 with path \"\", and the connection stays open") {
    c->send_text("this is not json");
    auto err = c->next_of_type("error");
    REQUIRE(err);
    const auto e = parse_json(*err);
    CHECK(std::string(e["payload"]["code"].GetString()) == "4002");
    REQUIRE(e["payload"]["details"].HasMember("path"));
    CHECK(std::string(e["payload"]["details"]["path"].GetString()).empty());
    CHECK(e["payload"]["details"].HasMember("reason"));
    CHECK(join(*c, "still-open", "j-1"));
  }
  SECTION("a wrong field type: error 4002 naming the field") {
    c->send_text(envelope("joinRoom", R"({"roomId":42})", "bad-1"));
    auto err = c->next_of_type("error");
    REQUIRE(err);
    const auto e = parse_json(*err);
    CHECK(std::string(e["payload"]["code"].GetString()) == "4002");
    CHECK(std::string(e["payload"]["details"]["path"].GetString()) == "/payload/roomId");
    CHECK(std::string(e["payload"]["details"]["messageId"].GetString()) == "bad-1");
    CHECK(join(*c, "still-open", "j-2"));
  }
  SECTION("eleven invalid messages in a row: the 11th is answered, then close 4002") {
    for (int i = 0; i < 11; ++i) c->send_text("[]");
    int errors = 0;
    while (c->next_of_type("error", 2000ms)) ++errors;
    CHECK(errors == 11);
    REQUIRE(c->closed());
    CHECK(c->closed()->code == 4002);
  }
}

TEST_CASE("the rate limit row: 4001 with retryAfterMs, and the connection stays open") {
  auto o = test_options();
  o.hub.rate_per_second = 1;
  o.hub.burst = 3;
  running_server s(o);
  s.start();
  auto c = connect_as(s.at(), "eager");
  REQUIRE(c);
  for (int i = 0; i < 4; ++i) {
    c->send_text(envelope("joinRoom", R"({"roomId":"r"})", "r-" + std::to_string(i)));
  }
  for (int i = 0; i < 3; ++i) REQUIRE(c->next_of_type("messageReceived"));
  auto refused = c->next_of_type("error");
  REQUIRE(refused);
  const auto e = parse_json(*refused);
  CHECK(std::string(e["payload"]["code"].GetString()) == "4001");
  CHECK(std::string(e["payload"]["details"]["messageId"].GetString()) == "r-3");
  REQUIRE(e["payload"]["details"].HasMember("retryAfterMs"));
  CHECK(e["payload"]["details"]["retryAfterMs"].GetInt64() > 0);
  CHECK_FALSE(c->closed());
}

TEST_CASE("heartbeat: a client that never answers pings is closed with 1001") {
  auto o = test_options();
  o.ping_interval_ms = 50;
  o.pong_timeout_ms = 400;
  running_server s(o);
  s.start();
  auto silent = connect_as(s.at(), "silent");
  auto lively = connect_as(s.at(), "lively");
  REQUIRE(silent);
  REQUIRE(lively);
  silent->auto_pong(false);

  // Both read at once: the lively one must keep answering while the silent one waits.
  auto silent_end = std::async(std::launch::async, [&] { return close_code_after(*silent); });
  // The lively one answers every ping and is still served well past the timeout.
  for (int pings = 0; pings < 16;) {
    auto f = lively->next_frame(1000ms);
    REQUIRE(f);
    REQUIRE(f->opcode == 0x9);
    lively->send_frame(0xA, f->payload);
    ++pings;
  }
  CHECK(join(*lively, "still-here", "j-1"));

  CHECK(silent_end.get() == 1001);
  CHECK(silent->pings_seen() >= 2);  // pinged every 50 ms, closed 400 ms after the first
}

namespace {

struct echo {
  static constexpr std::string_view type = "echo";
  std::string text;
  static constexpr auto fields() {
    return roomwire::protocol::fields(roomwire::protocol::field("text", &echo::text));
  }
};

struct counter_data {
  int echoes = 0;
};

}  // namespace

TEST_CASE("host handlers: typed session data, replies, refusals, and pushes from another thread") {
  basic_running_server<counter_data> s(test_options());
  std::atomic<int> connects{0};
  std::atomic<int> disconnects{0};
  s.server.on_connect([&](roomwire::session<counter_data>&) { ++connects; });
  s.server.on_disconnect(
      [&](roomwire::session<counter_data>&, roomwire::protocol::close_code) { ++disconnects; });
  s.server.on<echo>([](roomwire::session<counter_data>& session,
                       const roomwire::protocol::envelope<echo>& env) {
    if (env.payload.text == "refuse") {
      return roomwire::core::verdict::refuse(roomwire::protocol::error_code::permission_denied,
                                             "not this one");
    }
    if (env.payload.text == "throw") throw std::runtime_error("handler bug");
    ++session.data().echoes;
    roomwire::protocol::envelope<echo> reply;
    reply.payload.text =
        session.user_id() + ":" + env.payload.text + ":" + std::to_string(session.data().echoes);
    session.send(reply);
    return roomwire::core::verdict::replied();
  });
  s.start();
  auto c = connect_as(s.at(), "dana");
  REQUIRE(c);

  c->send_text(envelope("echo", R"({"text":"one"})", "e-1"));
  auto r1 = c->next_of_type("echo");
  REQUIRE(r1);
  CHECK(std::string(parse_json(*r1)["payload"]["text"].GetString()) == "dana:one:1");
  c->send_text(envelope("echo", R"({"text":"two"})", "e-2"));
  auto r2 = c->next_of_type("echo");
  REQUIRE(r2);
  CHECK(std::string(parse_json(*r2)["payload"]["text"].GetString()) == "dana:two:2");

  c->send_text(envelope("echo", R"({"text":"refuse"})", "e-3"));
  auto refused = c->next_of_type("error");
  REQUIRE(refused);
  CHECK(std::string(parse_json(*refused)["payload"]["code"].GetString()) == "4004");

  c->send_text(envelope("echo", R"({"text":"throw"})", "e-4"));
  auto failed = c->next_of_type("error");
  REQUIRE(failed);  // answered, and the server is still there
  c->send_text(envelope("echo", R"({"text":"after"})", "e-5"));
  auto r3 = c->next_of_type("echo");
  REQUIRE(r3);

  // Pushes from a thread that is not the server's.
  REQUIRE(join(*c, "news", "j-news"));
  std::thread pusher([&] {
    roomwire::protocol::envelope<echo> note;
    note.payload.text = "from the host";
    s.server.send_to_room("news", note);
    roomwire::protocol::envelope<echo> direct;
    direct.payload.text = "to dana";
    s.server.send_to_user("dana", direct);
  });
  pusher.join();
  auto n1 = c->next_of_type("echo");
  auto n2 = c->next_of_type("echo");
  REQUIRE(n1);
  REQUIRE(n2);
  CHECK(std::string(parse_json(*n1)["payload"]["text"].GetString()) == "from the host");
  CHECK(std::string(parse_json(*n2)["payload"]["text"].GetString()) == "to dana");

  c->send_close();
  REQUIRE(c->wait_close());
  CHECK(connects == 1);
  s.server.stop();
  CHECK(disconnects == 1);
}

TEST_CASE("host task pushes reach the assignee and the task's watchers") {
  running_server s(test_options());
  s.start();
  auto worker = connect_as(s.at(), "worker");
  auto watcher = connect_as(s.at(), "watcher");
  REQUIRE(worker);
  REQUIRE(watcher);
  REQUIRE(join(*watcher, "task:build-7", "w-join"));

  roomwire::protocol::task_assign assignment;
  assignment.task_id = "build-7";
  assignment.assignee_id = "worker";
  s.server.assign_task("scheduler", assignment, roomwire::protocol::priority::high);
  auto assigned = worker->next_of_type("taskAssign");
  REQUIRE(assigned);
  CHECK(std::string(parse_json(*assigned)["payload"]["assignerId"].GetString()) == "scheduler");

  roomwire::protocol::task_update update;
  update.task_id = "build-7";
  update.status = "running";
  update.progress = 40;
  s.server.publish_task_update("scheduler", update);
  auto seen = watcher->next_of_type("taskUpdate");
  REQUIRE(seen);
  CHECK(parse_json(*seen)["payload"]["progress"].GetDouble() == 40);
}
