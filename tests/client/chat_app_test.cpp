// roomwire-chat's pieces: the command line, input lines, and the readable output.

#include <catch2/catch.hpp>

#include "commands.hpp"
#include "format.hpp"
#include "options.hpp"

using roomwire_chat::command;
namespace proto = roomwire::protocol;

TEST_CASE("chat command line") {
  roomwire_chat::command_line cli;
  std::string error;
  REQUIRE(roomwire_chat::parse(
      {"--url", "ws://h:1/api/ws", "--token=t", "--room", "a", "--room=b", "--json"}, cli, error));
  CHECK(cli.url == "ws://h:1/api/ws");
  CHECK(cli.token == "t");
  CHECK(cli.rooms == std::vector<std::string>{"a", "b"});
  CHECK(cli.json);

  for (const std::vector<std::string>& bad : {std::vector<std::string>{"--token", "t"},
                                              {"--url", "ws://h"},
                                              {"--url", "http://h", "--token", "t"},
                                              {"--url", "ws://h", "--token"},
                                              {"--url", "ws://h", "--token", "t", "--what"},
                                              {"--url", "ws://h", "--token", "t", "--room", ""}}) {
    roomwire_chat::command_line c;
    CHECK_FALSE(roomwire_chat::parse(bad, c, error));
    CHECK_FALSE(error.empty());
  }
  roomwire_chat::command_line help;
  CHECK(roomwire_chat::parse({"--help"}, help, error));
  CHECK(help.help);
}

TEST_CASE("chat input lines") {
  auto c = roomwire_chat::parse_line("/join lobby");
  CHECK(c.what == command::kind::join);
  CHECK(c.room == "lobby");
  CHECK(roomwire_chat::parse_line("/leave  lobby\r").room == "lobby");
  c = roomwire_chat::parse_line("/assign T1 bob 1");
  CHECK(c.what == command::kind::assign);
  CHECK(c.task == "T1");
  CHECK(c.user == "bob");
  CHECK(c.priority == 1);
  c = roomwire_chat::parse_line("/task T1 running 45.5");
  CHECK(c.what == command::kind::task);
  CHECK(c.status == "running");
  CHECK(c.progress == 45.5);
  CHECK(roomwire_chat::parse_line("/quit").what == command::kind::quit);

  for (const char* bad :
       {"/join", "/join a b", "/assign T1 bob", "/assign T1 bob 5", "/assign T1 bob 1.5",
        "/task T1 running", "/task T1 running 101", "/task T1 running x"}) {
    INFO(bad);
    CHECK(roomwire_chat::parse_line(bad).what == command::kind::invalid);
  }
  // Anything else is text, as typed.
  for (const char* text : {"hello", "", " /join x", "/me waves", "/quit now", "/"}) {
    c = roomwire_chat::parse_line(text);
    CHECK(c.what == command::kind::text);
    CHECK(c.text == text);
  }
  CHECK(roomwire_chat::parse_line("hello\r").text == "hello");
}

TEST_CASE("chat readable output") {
  proto::envelope<proto::chat_delivery> m;
  m.payload.room_id = "lobby";
  m.payload.sender_id = "alice";
  m.payload.content = "two\nlines";
  CHECK(roomwire_chat::render(m) == "[lobby] alice: two\\nlines");
  m.payload.metadata.known.kind = proto::content_kind::file;
  m.payload.metadata.known.file_url = "https://x/f.png";
  m.payload.metadata.known.file_name = "f.png";
  CHECK(roomwire_chat::render(m) == "[lobby] alice: two\\nlines [file f.png https://x/f.png]");

  proto::envelope<proto::message_received> ack;
  ack.payload.message_id = "m-1";
  ack.payload.room_id = "lobby";
  ack.payload.seq = 3;
  CHECK(roomwire_chat::render(ack) == "ack m-1 [lobby] #3");

  proto::envelope<proto::task_update_delivery> u;
  u.payload.task_id = "T1";
  u.payload.status = "running";
  u.payload.progress = 45;
  u.payload.sender_id = "bob";
  CHECK(roomwire_chat::render(u) == "task T1 [#########-----------]  45% running (bob)");
  CHECK(roomwire_chat::progress_bar(0) == "[--------------------]   0%");
  CHECK(roomwire_chat::progress_bar(100) == "[####################] 100%");

  proto::envelope<proto::task_assign_delivery> a;
  a.payload.task_id = "T1";
  a.payload.assignee_id = "bob";
  a.payload.assigner_id = "alice";
  a.payload.priority = proto::priority::high;
  CHECK(roomwire_chat::render(a) == "task T1 assigned to bob by alice (priority 1)");

  proto::envelope<proto::error_payload> e;
  e.payload.code = "4003";
  e.payload.message = "room not found";
  e.payload.details.text = R"({"messageId":"m-2","type":"message"})";
  CHECK(roomwire_chat::render(e) ==
        R"(error 4003: room not found {"messageId":"m-2","type":"message"})");

  proto::envelope<proto::health_update> h;
  h.payload.status = proto::health_status::draining;
  h.payload.metrics.text = R"({"connections":1})";
  CHECK(roomwire_chat::render(h) == R"(health draining {"connections":1})");
}
