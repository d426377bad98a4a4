// roomwire-server as PROTOCOL.md §9 describes it, driven as a child process.

#include <catch2/catch.hpp>

#include <csignal>

#include "child_process.hpp"
#include "test_server.hpp"

using namespace rwtest;

namespace {

const std::string server_exe = ROOMWIRE_SERVER_EXE;

// Starts roomwire-server with `args` and --port 0; returns the port of its listening line.
std::uint16_t start(child_process& p, std::string* line_out = nullptr) {
  REQUIRE(p.started());
  auto line = p.stdout_line(10000ms);
  REQUIRE(line);
  if (line_out) *line_out = *line;
  const std::string prefix = "listening on ws://127.0.0.1:";
  REQUIRE(line->rfind(prefix, 0) == 0);
  const auto slash = line->find('/', prefix.size());
  REQUIRE(slash != std::string::npos);
  return static_cast<std::uint16_t>(std::stoi(line->substr(prefix.size(), slash - prefix.size())));
}

endpoint_options at_port(std::uint16_t port) {
  endpoint_options at;
  at.port = port;
  return at;
}

std::string error_code_of(wire_client& c) {
  auto e = c.next_of_type("error");
  return e ? parse_json(*e)["payload"]["code"].GetString() : "";
}

}  // namespace

TEST_CASE("roomwire-server: listening line, a real session, SIGTERM drains and exits 0") {
  child_process p({server_exe, "--port", "0", "--ping-interval-ms", "1000", "--pace-readers"});
  std::string line;
  const auto port = start(p, &line);
  CHECK(line == "listening on ws://127.0.0.1:" + std::to_string(port) + "/api/ws");
  CHECK(p.stderr_until("demo mode", 5000ms));

  auto alice = connect_as(at_port(port), "alice");
  auto bob = connect_as(at_port(port), "bob");
  REQUIRE(alice);
  REQUIRE(bob);
  REQUIRE(join(*alice, "lobby", "a-j"));
  REQUIRE(join(*bob, "lobby", "b-j"));
  alice->send_text(envelope("message", R"({"roomId":"lobby","content":"hi"})", "m-1"));
  REQUIRE(bob->next_of_type("message"));

  p.signal(SIGTERM);
  auto health = alice->next_of_type("healthUpdate");
  REQUIRE(health);
  CHECK(std::string(parse_json(*health)["payload"]["status"].GetString()) == "draining");
  auto closed = alice->wait_close();
  REQUIRE(closed);
  CHECK(closed->code == 1001);
  REQUIRE(bob->wait_close());
  const auto status = p.wait_exit(15000ms);
  REQUIRE(status);
  CHECK(*status == 0);
}

TEST_CASE("roomwire-server: SIGINT with no sessions exits 0") {
  child_process p({server_exe, "--port", "0", "--path", "/ws"});
  std::string line;
  const auto port = start(p, &line);
  CHECK(line == "listening on ws://127.0.0.1:" + std::to_string(port) + "/ws");
  p.signal(SIGINT);
  const auto status = p.wait_exit(15000ms);
  REQUIRE(status);
  CHECK(*status == 0);
}

TEST_CASE("roomwire-server: a bad flag or an unreadable file is one line on stderr and exit 2") {
  const std::vector<std::vector<std::string>> cases = {
      {"--no-such-flag"},
      {"--port"},
      {"--port", "70000"},
      {"--port", "12x"},
      {"--rate", "-1"},
      {"--threads", "0"},
      {"--acl", "no-equals-sign"},
      {"--tokens", "/nonexistent/tokens.txt"},
      {"--static", "/nonexistent/dir"},
      {"--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"},
      {"--queue-soft-bytes", "100", "--queue-hard-bytes", "10"},
      {"--handshake-timeout-ms", "0"},
      {"--room-history", "-1"},
  };
  for (const auto& args : cases) {
    std::vector<std::string> argv = {server_exe};
    argv.insert(argv.end(), args.begin(), args.end());
    INFO(args.front());
    child_process p(argv);
    REQUIRE(p.started());
    const auto status = p.wait_exit(10000ms);
    REQUIRE(status);
    CHECK(*status == 2);
    const std::string& err = p.stderr_text();
    CHECK(!err.empty());
    CHECK(err.find('\n') == err.size() - 1);  // exactly one line
    CHECK_FALSE(p.stdout_line(100ms));
  }
}

TEST_CASE("roomwire-server: --handshake-timeout-ms ends an upgrade that never finishes") {
  child_process p({server_exe, "--port", "0", "--handshake-timeout-ms", "300"});
  const auto port = start(p);
  wire_client slow(at_port(port));
  REQUIRE(slow.connect_tcp());
  const auto began = std::chrono::steady_clock::now();
  REQUIRE(slow.send_raw("GET /api/ws?token=slow HTTP/1.1\r\nHost: 127.0.0.1\r\n"));  // unfinished
  CHECK(slow.wait_eof(5000ms));
  const auto waited = std::chrono::steady_clock::now() - began;
  CHECK(waited >= 250ms);
  CHECK(waited < 3000ms);  // not the 5 s default
  p.signal(SIGTERM);
  CHECK(p.wait_exit(15000ms) == 0);
}

TEST_CASE("roomwire-server: --tokens, --rooms and --acl") {
  temp_dir dir;
  const auto tokens = dir.write("tokens.txt",
                                "# token   user   roles\n"
                                "tok-alice alice admin   # the operator\n"
                                "tok-bob   bob\n"
                                "\n"
                                "tok-carol carol editor\n");
  child_process p({server_exe, "--port", "0", "--tokens", tokens.string(), "--rooms", "lobby,ops",
                   "--acl", "ops=alice,carol"});
  const auto port = start(p);
  CHECK_FALSE(p.stderr_text().find("demo mode") != std::string::npos);

  // Unknown token (and a demo-style one): 4000.
  wire_client stranger(at_port(port));
  REQUIRE(stranger.connect("/api/ws?token=alice") == 101);
  auto closed = stranger.wait_close();
  REQUIRE(closed);
  CHECK(closed->code == 4000);

  auto alice = connect_as(at_port(port), "tok-alice");
  auto bob = connect_as(at_port(port), "tok-bob");
  REQUIRE(alice);
  REQUIRE(bob);
  REQUIRE(join(*alice, "ops", "a-ops"));
  REQUIRE(join(*alice, "lobby", "a-lobby"));
  REQUIRE(join(*bob, "lobby", "b-lobby"));

  bob->send_text(envelope("joinRoom", R"({"roomId":"ops"})", "b-ops"));
  CHECK(error_code_of(*bob) == "4004");  // --acl
  bob->send_text(envelope("joinRoom", R"({"roomId":"elsewhere"})", "b-else"));
  CHECK(error_code_of(*bob) == "4003");  // --rooms

  // 'system' messages need role admin.
  const std::string system_message =
      R"({"roomId":"lobby","content":"maintenance","metadata":{"type":"system"}})";
  bob->send_text(envelope("message", system_message, "b-sys"));
  CHECK(error_code_of(*bob) == "4004");
  alice->send_text(envelope("message", system_message, "a-sys"));
  auto delivered = bob->next_of_type("message");
  REQUIRE(delivered);
  CHECK(std::string(parse_json(*delivered)["payload"]["senderId"].GetString()) == "alice");

  p.signal(SIGTERM);
  const auto status = p.wait_exit(15000ms);
  REQUIRE(status);
  CHECK(*status == 0);
}
