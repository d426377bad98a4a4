// PROTOCOL.md §1: paths, tokens (query and Bearer), the 4000 close, the origin allow-list,
// the connection limit — against a real server and a raw client.

#include <catch2/catch.hpp>

#include "test_server.hpp"

using namespace rwtest;

namespace {

// The sender id of the acknowledgement of a joinRoom: who the server thinks we are.
std::string whoami(wire_client& c) {
  c.send_text(envelope("joinRoom", R"({"roomId":"whoami"})", "who-1"));
  auto ack = c.next_of_type("messageReceived");
  if (!ack) return {};
  return parse_json(*ack)["payload"]["senderId"].GetString();
}

// Upgraded, then a close with 4000 as the very first frame.
void require_4000_and_nothing_else(wire_client& c) {
  auto first = c.next_frame();
  REQUIRE(first);
  REQUIRE(first->opcode == 0x8);
  REQUIRE(first->payload.size() >= 2);
  const int code = (static_cast<unsigned char>(first->payload[0]) << 8) |
                   static_cast<unsigned char>(first->payload[1]);
  CHECK(code == 4000);
}

}  // namespace

TEST_CASE("a request for another path gets 404 and no upgrade") {
  running_server s(test_options());
  s.start();
  wire_client c(s.at());
  CHECK(c.connect("/elsewhere?token=alice") == 404);
  CHECK(c.response().body == "not found\n");
  wire_client d(s.at());
  CHECK(d.connect("/api/wsx?token=alice") == 404);
  // A plain GET of the WebSocket path is not an upgrade either.
  CHECK(http_request(s.at(), "GET", "/api/ws?token=alice").status == 426);
  CHECK(http_request(s.at(), "GET", "/nothing-here").status == 404);
}

TEST_CASE("a configured path replaces the default") {
  auto o = test_options();
  o.path = "/chat";
  running_server s(o);
  s.start();
  wire_client c(s.at());
  CHECK(c.connect("/api/ws?token=alice") == 404);
  auto ok = connect_as(s.at(), "alice", "/chat");
  REQUIRE(ok);
  CHECK(whoami(*ok) == "alice");
}

TEST_CASE("a missing token: the upgrade completes, then close 4000 and nothing else") {
  running_server s(test_options());
  s.start();
  wire_client c(s.at());
  REQUIRE(c.connect("/api/ws") == 101);
  require_4000_and_nothing_else(c);
}

TEST_CASE("a rejected token: close 4000 and nothing else") {
  running_server s(test_options());
  s.start();
  for (const char* target : {"/api/ws?token=bad%20token", "/api/ws?token=no!", "/api/ws?token="}) {
    wire_client c(s.at());
    REQUIRE(c.connect(target) == 101);
    require_4000_and_nothing_else(c);
  }
  // 65 characters: one too many for the demo authenticator.
  wire_client c(s.at());
  REQUIRE(c.connect("/api/ws?token=" + std::string(65, 'a')) == 101);
  require_4000_and_nothing_else(c);
}

TEST_CASE("an authenticator that throws rejects the connection") {
  auto o = test_options();
  o.authenticate = [](std::string_view) -> std::optional<roomwire::core::identity> {
    throw std::runtime_error("directory down");
  };
  running_server s(o);
  s.start();
  wire_client c(s.at());
  REQUIRE(c.connect("/api/ws?token=alice") == 101);
  require_4000_and_nothing_else(c);
}

TEST_CASE("a Bearer header authenticates; the query token wins when both are present") {
  running_server s(test_options());
  s.start();
  SECTION("Bearer only") {
    wire_client c(s.at());
    REQUIRE(c.connect("/api/ws", {{"Authorization", "Bearer bob"}}) == 101);
    CHECK(whoami(c) == "bob");
  }
  SECTION("scheme is case-insensitive") {
    wire_client c(s.at());
    REQUIRE(c.connect("/api/ws", {{"Authorization", "bearer carol"}}) == 101);
    CHECK(whoami(c) == "carol");
  }
  SECTION("query and Bearer: the query is used") {
    wire_client c(s.at());
    REQUIRE(c.connect("/api/ws?token=alice", {{"Authorization", "Bearer bob"}}) == 101);
    CHECK(whoami(c) == "alice");
  }
  SECTION("a bad query token is not rescued by a good Bearer header") {
    wire_client c(s.at());
    REQUIRE(c.connect("/api/ws?token=bad!", {{"Authorization", "Bearer bob"}}) == 101);
    require_4000_and_nothing_else(c);
  }
  SECTION("another scheme is no token") {
    wire_client c(s.at());
    REQUIRE(c.connect("/api/ws", {{"Authorization", "Basic Ym9iOnB3"}}) == 101);
    require_4000_and_nothing_else(c);
  }
}

TEST_CASE("tokens and Authorization values never reach the log") {
  log_capture logs;
  auto o = test_options(&logs);
  o.authenticate = [](std::string_view token) -> std::optional<roomwire::core::identity> {
    if (token == "s3cret-alice-token") return roomwire::core::identity{"alice", {}};
    return std::nullopt;
  };
  {
    running_server s(o);
    s.start();
    wire_client good(s.at());
    REQUIRE(good.connect("/api/ws?token=s3cret-alice-token") == 101);
    CHECK(whoami(good) == "alice");
    wire_client bad(s.at());
    REQUIRE(bad.connect("/api/ws?token=wrong-s3cret-value") == 101);
    REQUIRE(bad.wait_close());
    wire_client bearer(s.at());
    REQUIRE(bearer.connect("/api/ws", {{"Authorization", "Bearer bearer-s3cret-value"}}) == 101);
    REQUIRE(bearer.wait_close());
    wire_client lost(s.at());
    CHECK(lost.connect("/wrong?token=path-s3cret-value") == 404);
    good.send_close();
    REQUIRE(good.wait_close());
  }
  CHECK(logs.size() > 0);
  CHECK_FALSE(logs.any_contains("s3cret"));
  CHECK_FALSE(logs.any_contains("Bearer"));
}

TEST_CASE("the origin allow-list refuses other origins with 403") {
  auto o = test_options();
  o.allowed_origins = {"https://good.example"};
  running_server s(o);
  s.start();
  wire_client evil(s.at());
  CHECK(evil.connect("/api/ws?token=alice", {{"Origin", "https://evil.example"}}) == 403);
  wire_client good(s.at());
  REQUIRE(good.connect("/api/ws?token=alice", {{"Origin", "https://good.example"}}) == 101);
  CHECK(whoami(good) == "alice");
  // A non-browser client sends no Origin at all.
  wire_client tool(s.at());
  REQUIRE(tool.connect("/api/ws?token=bob") == 101);
  CHECK(whoami(tool) == "bob");
}

TEST_CASE("past max_connections a handshake gets 503") {
  auto o = test_options();
  o.max_connections = 2;
  running_server s(o);
  s.start();
  auto a = connect_as(s.at(), "a");
  auto b = connect_as(s.at(), "b");
  REQUIRE(a);
  REQUIRE(b);
  wire_client c(s.at());
  CHECK(c.connect("/api/ws?token=c") == 503);
  // A slot frees up when a connection ends.
  a->send_close();
  REQUIRE(a->wait_close());
  CHECK(a->closed()->code == 1000);
  for (int attempt = 0; attempt < 50; ++attempt) {
    // The server counts the slot free once its close handler ran: retry on the event of a 503.
    wire_client d(s.at());
    const int status = d.connect("/api/ws?token=d");
    if (status == 101) {
      CHECK(whoami(d) == "d");
      return;
    }
    REQUIRE(status == 503);
  }
  FAIL("the slot of the closed connection never came back");
}
