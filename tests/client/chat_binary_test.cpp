// roomwire-chat as a process (PROTOCOL.md §9), against a roomwire::server in this process.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <rapidjson/document.h>
#include <catch2/catch.hpp>

#include "chat_process.hpp"
#include "client_test_server.hpp"
#include "client_waiting.hpp"
#include "roomwire/client.hpp"

using namespace roomwire_test;
namespace proto = roomwire::protocol;

namespace {

std::vector<std::string> chat_args(const std::string& url, const std::string& token,
                                   std::vector<std::string> extra = {}) {
  std::vector<std::string> args{ROOMWIRE_CHAT_BINARY, "--url", url, "--token", token};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

}  // namespace

TEST_CASE("roomwire-chat: text to the last joined room, readable and --json output, exit 0") {
  test_server server;
  chat_process bob(chat_args(server.url(), "bob", {"--room", "lobby"}));
  REQUIRE(bob.started());
  // bob's join is acknowledged: he is in the room.
  REQUIRE(bob.wait_stdout("ack ", 10s));
  REQUIRE(bob.wait_stderr("connected to " + server.url(), 10s));

  chat_process alice(
      chat_args(server.url(), "alice", {"--room", "elsewhere", "--room", "lobby", "--json"}));
  alice.write("hello bob\n");
  REQUIRE(bob.wait_stdout("[lobby] alice: hello bob", 10s));

  alice.write("/assign T1 bob 1\n");
  REQUIRE(bob.wait_stdout("task T1 assigned to bob by alice (priority 1)", 10s));
  bob.write("/task T1 running 45\n");
  REQUIRE(alice.wait_stdout(R"("type":"taskUpdate")", 10s));

  bob.write("/join\n");
  REQUIRE(bob.wait_stderr("usage: /join ROOM", 10s));
  bob.write("/quit\n");
  CHECK(bob.wait_exit(10s) == 0);
  CHECK(bob.stderr_lines().back() == "closed with 1000");

  alice.write("/leave lobby\nto elsewhere\n");
  alice.close_stdin();
  CHECK(alice.wait_exit(10s) == 0);

  // --json: every line is exactly one JSON object as received.
  const auto lines = alice.stdout_lines();
  std::vector<std::string> types;
  for (const auto& line : lines) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    REQUIRE_FALSE(d.HasParseError());
    REQUIRE(d.IsObject());
    types.emplace_back(d["type"].GetString());
  }
  // Two joins, the message, the assignment, bob's update, the leave and the last message (the
  // update's delivery and acknowledgements may interleave).
  CHECK(std::count(types.begin(), types.end(), "messageReceived") == 6);
  CHECK(std::count(types.begin(), types.end(), "taskUpdate") == 1);
  CHECK(alice.wait_stdout(R"("roomId":"elsewhere","senderId":"alice","timestamp")", 0s));
  const auto task = alice.wait_stdout("taskUpdate", 0s);
  REQUIRE(task);
  CHECK(task->find(R"("progress":45)") != std::string::npos);
}

TEST_CASE("roomwire-chat: a rejected token ends with 4000 and exit 1") {
  test_server server;
  chat_process eve(chat_args(server.url(), "not valid!", {"--room", "lobby"}));
  CHECK(eve.wait_exit(10s) == 1);
  const auto err = eve.stderr_lines();
  REQUIRE_FALSE(err.empty());
  CHECK(err.back() == "roomwire-chat: authentication refused (close 4000)");
  CHECK(eve.wait_stderr("closed with 4000", 0s));
}

TEST_CASE("roomwire-chat: bad command lines exit 2") {
  chat_process no_token({ROOMWIRE_CHAT_BINARY, "--url", "ws://127.0.0.1:1/api/ws"});
  CHECK(no_token.wait_exit(10s) == 2);
  CHECK(no_token.stderr_lines().size() == 1);
  chat_process unknown({ROOMWIRE_CHAT_BINARY, "--url", "ws://h/api/ws", "--token", "t", "--x"});
  CHECK(unknown.wait_exit(10s) == 2);
}

TEST_CASE("roomwire-chat: reconnects after a server restart, and lines typed meanwhile wait") {
  auto first = std::make_unique<test_server>();
  const auto port = first->port();
  const std::string url = first->url();
  chat_process carol(chat_args(url, "carol", {"--room", "lobby"}));
  REQUIRE(carol.wait_stdout("ack ", 10s));

  first->stop();
  REQUIRE(carol.wait_stderr("closed with 1001", 10s));
  REQUIRE(carol.wait_stderr("reconnecting in 1000 ms (attempt 1 of 5)", 10s));
  carol.write("typed while the server was down\n");
  first.reset();

  test_server second(port);
  REQUIRE(second.received.wait_size(1, 20s));
  CHECK(second.received.items().front().find(" typed while the server was down") !=
        std::string::npos);
  carol.close_stdin();
  CHECK(carol.wait_exit(10s) == 0);
  const auto err = carol.stderr_lines();
  CHECK(std::count(err.begin(), err.end(), "connected to " + url) == 2);
}

TEST_CASE("roomwire-chat: gives up after 1000, 1500, 2250, 3375 and 5062 ms, then exits 1") {
  // A port with nothing listening: bound, then released.
  std::uint16_t port = 0;
  {
    test_server probe;
    port = probe.port();
  }
  chat_process frank(chat_args(test_server::url_for(port), "frank", {"--room", "lobby"}));
  frank.write("never delivered\n");
  CHECK(frank.wait_exit(30s) == 1);
  std::vector<std::string> reconnecting;
  for (const auto& line : frank.stderr_lines()) {
    if (line.rfind("reconnecting", 0) == 0) reconnecting.push_back(line);
  }
  CHECK(reconnecting == std::vector<std::string>{"reconnecting in 1000 ms (attempt 1 of 5)",
                                                 "reconnecting in 1500 ms (attempt 2 of 5)",
                                                 "reconnecting in 2250 ms (attempt 3 of 5)",
                                                 "reconnecting in 3375 ms (attempt 4 of 5)",
                                                 "reconnecting in 5062 ms (attempt 5 of 5)"});
  const auto err = frank.stderr_lines();
  REQUIRE_FALSE(err.empty());
  CHECK(err.back().rfind("roomwire-chat: gave up reconnecting: 5 reconnection attempts failed",
                         0) == 0);
  CHECK(frank.wait_stderr("not sent: gave up reconnecting", 0s));
}
