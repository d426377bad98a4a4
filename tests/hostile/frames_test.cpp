// Hostile clients, frame level (issue 6, in the spirit of Autobahn|Testsuite sections 1-7):
// frames a correct client never sends, each answered with the close code of PROTOCOL.md §5/§7,
// while two bystanders on the same server keep chatting within their normal latency.
// session_test.cpp ("the limits table of §5, row by row") has one example of most rows; this
// file goes through the variants.

#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

#include "hostile.hpp"

using namespace rwtest;
using namespace rwtest::hostile;

namespace {

struct attack {
  std::string name;
  std::function<void(wire_client&)> send;
  int expected_close;
};

std::string close_payload(int code, std::string_view reason = {}) {
  std::string p;
  p.push_back(static_cast<char>((code >> 8) & 0xff));
  p.push_back(static_cast<char>(code & 0xff));
  p.append(reason);
  return p;
}

const std::string chat = envelope("message", R"({"roomId":"r","content":"x"})");

// Each attack on a fresh connection of its own; the bystanders are checked after every one.
void run_attacks(const std::vector<attack>& attacks) {
  running_server s(test_options());
  s.start();
  bystanders by(s.at());
  REQUIRE(by.ok());
  for (const auto& a : attacks) {
    INFO("attack: " << a.name);
    auto attacker = connect_as(s.at(), "attacker");
    REQUIRE(attacker);
    a.send(*attacker);
    ROOMWIRE_CHECK_SERVED(by);
    const int code = close_code_after(*attacker);
    std::string seen;
    for (const auto& m : attacker->skipped()) seen += m + "\n";
    INFO("messages before the close:\n" << seen);
    CHECK(code == a.expected_close);
  }
  ROOMWIRE_CHECK_SERVED(by);
}

// Reads `c` until the acknowledgement of `message_id`; returns the pong payloads seen before it.
std::vector<std::string> pongs_until_ack(wire_client& c, const std::string& message_id,
                                         bool& acked) {
  std::vector<std::string> pongs;
  acked = false;
  while (auto f = c.next_frame()) {
    if (f->opcode == 0xA) {
      pongs.push_back(f->payload);
    } else if (f->opcode == 0x1) {
      const auto doc = parse_json(f->payload);
      if (doc.IsObject() && std::string(doc["type"].GetString()) == "messageReceived" &&
          message_id == doc["payload"]["messageId"].GetString()) {
        acked = true;
        break;
      }
    } else {
      break;  // a close: not what a valid message earns
    }
  }
  return pongs;
}

}  // namespace

TEST_CASE("hostile frames: fragmented messages with interleaved ping/pong are reassembled") {
  running_server s(test_options());
  s.start();
  bystanders by(s.at());
  REQUIRE(by.ok());
  auto sender = connect_as(s.at(), "frag-sender");
  auto reader = connect_as(s.at(), "frag-reader");
  REQUIRE(sender);
  REQUIRE(reader);
  REQUIRE(join(*sender, "frag", "fs-join"));
  REQUIRE(join(*reader, "frag", "fr-join"));

  const auto delivered_content = [&](const std::string& id) -> std::string {
    for (;;) {
      auto m = reader->next_of_type("message");
      if (!m) return "<nothing delivered>";
      const auto doc = parse_json(*m);
      if (id == doc["messageId"].GetString()) return doc["payload"]["content"].GetString();
    }
  };

  SECTION("three fragments, a ping and an unsolicited pong in between, an empty fragment") {
    const std::string text =
        envelope("message", R"({"roomId":"frag","content":"one message in pieces"})", "frag-1");
    sender->send_frame(0x1, text.substr(0, 10), false);
    sender->send_frame(0x9, "p1");
    sender->send_frame(0x0, text.substr(10, 20), false);
    sender->send_frame(0xA, "unsolicited");
    sender->send_frame(0x0, "", false);
    ROOMWIRE_CHECK_SERVED(by);  // while the message is still incomplete
    sender->send_frame(0x0, text.substr(30), true);
    bool acked = false;
    const auto pongs = pongs_until_ack(*sender, "frag-1", acked);
    CHECK(acked);
    CHECK(pongs == std::vector<std::string>{"p1"});
    CHECK(delivered_content("frag-1") == "one message in pieces");
  }
  SECTION("one byte per fragment, a ping after every fragment") {
    const std::string text =
        envelope("message", R"({"roomId":"frag","content":"byte by byte"})", "frag-2");
    for (std::size_t i = 0; i < text.size(); ++i) {
      sender->send_frame(i == 0 ? 0x1 : 0x0, text.substr(i, 1), i + 1 == text.size());
      if (i + 1 < text.size()) sender->send_frame(0x9, std::to_string(i));
    }
    bool acked = false;
    const auto pongs = pongs_until_ack(*sender, "frag-2", acked);
    CHECK(acked);
    REQUIRE(pongs.size() == text.size() - 1);
    for (std::size_t i = 0; i < pongs.size(); ++i) CHECK(pongs[i] == std::to_string(i));
    CHECK(delivered_content("frag-2") == "byte by byte");
  }
  SECTION("fragments split inside multi-byte UTF-8 characters") {
    const std::string content = "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80";  // é € 😀
    const std::string text =
        envelope("message", R"({"roomId":"frag","content":")" + content + "\"}", "frag-3");
    const auto at = text.find("\xE2\x82\xAC");
    const auto at2 = text.find("\xF0\x9F\x98\x80");
    sender->send_frame(0x1, text.substr(0, at + 1), false);
    sender->send_frame(0x0, text.substr(at + 1, at2 + 2 - (at + 1)), false);
    sender->send_frame(0x0, text.substr(at2 + 2), true);
    bool acked = false;
    pongs_until_ack(*sender, "frag-3", acked);
    CHECK(acked);
    CHECK(delivered_content("frag-3") == content);
  }
  ROOMWIRE_CHECK_SERVED(by);
}

TEST_CASE("hostile frames: control frames over 125 bytes or fragmented: close 1002") {
  run_attacks({
      {"ping of 126 bytes", [](wire_client& c) { c.send_frame(0x9, std::string(126, 'p')); }, 1002},
      {"ping of 65,536 bytes (64-bit length)",
       [](wire_client& c) { c.send_frame(0x9, std::string(65536, 'p')); }, 1002},
      {"pong of 126 bytes", [](wire_client& c) { c.send_frame(0xA, std::string(126, 'p')); }, 1002},
      {"close of 126 bytes",
       [](wire_client& c) { c.send_frame(0x8, close_payload(1000, std::string(124, 'r'))); }, 1002},
      {"a fragmented ping (FIN clear)", [](wire_client& c) { c.send_frame(0x9, "part", false); },
       1002},
      {"a ping of 126 bytes inside a fragmented message",
       [](wire_client& c) {
         c.send_frame(0x1, "{", false);
         c.send_frame(0x9, std::string(126, 'p'));
       },
       1002},
  });
}

TEST_CASE("hostile frames: a ping of exactly 125 bytes is answered with the same payload") {
  running_server s(test_options());
  s.start();
  auto c = connect_as(s.at(), "pinger");
  REQUIRE(c);
  const std::string payload(125, 'q');
  c->send_frame(0x9, payload);
  auto pong = c->next_frame();
  REQUIRE(pong);
  CHECK(pong->opcode == 0xA);
  CHECK(pong->payload == payload);
}

TEST_CASE("hostile frames: reserved (RSV) bits without a negotiated extension: close 1002") {
  run_attacks({
      {"RSV1 on a text frame", [](wire_client& c) { c.send_frame(0x1, chat, true, true, 4); },
       1002},
      {"RSV2 on a text frame", [](wire_client& c) { c.send_frame(0x1, chat, true, true, 2); },
       1002},
      {"RSV3 on a text frame", [](wire_client& c) { c.send_frame(0x1, chat, true, true, 1); },
       1002},
      {"all three on a text frame", [](wire_client& c) { c.send_frame(0x1, chat, true, true, 7); },
       1002},
      {"RSV1 on a ping", [](wire_client& c) { c.send_frame(0x9, "p", true, true, 4); }, 1002},
      {"RSV3 on a close",
       [](wire_client& c) { c.send_frame(0x8, close_payload(1000), true, true, 1); }, 1002},
      {"RSV2 on a continuation",
       [](wire_client& c) {
         c.send_frame(0x1, chat.substr(0, 5), false);
         c.send_frame(0x0, chat.substr(5), true, true, 2);
       },
       1002},
  });
}

TEST_CASE("hostile frames: unknown opcodes, data (3-7) and control (11-15): close 1002") {
  std::vector<attack> attacks;
  for (int op : {3, 4, 5, 6, 7, 11, 12, 13, 14, 15}) {
    attacks.push_back(
        {"opcode " + std::to_string(op), [op](wire_client& c) { c.send_frame(op, "x"); }, 1002});
  }
  attacks.push_back({"opcode 3 inside a fragmented message",
                     [](wire_client& c) {
                       c.send_frame(0x1, "{", false);
                       c.send_frame(0x3, "x");
                     },
                     1002});
  run_attacks(attacks);
}

TEST_CASE("hostile frames: unmasked client frames: close 1002") {
  run_attacks({
      {"unmasked text", [](wire_client& c) { c.send_frame(0x1, chat, true, false); }, 1002},
      {"unmasked ping", [](wire_client& c) { c.send_frame(0x9, "p", true, false); }, 1002},
      {"unmasked close",
       [](wire_client& c) { c.send_frame(0x8, close_payload(1000), true, false); }, 1002},
      {"unmasked continuation of a masked start",
       [](wire_client& c) {
         c.send_frame(0x1, chat.substr(0, 5), false);
         c.send_frame(0x0, chat.substr(5), true, false);
       },
       1002},
  });
}

TEST_CASE("hostile frames: bad continuation: close 1002") {
  run_attacks({
      {"a continuation with nothing to continue", [](wire_client& c) { c.send_frame(0x0, chat); },
       1002},
      {"a continuation after a complete message",
       [](wire_client& c) {
         c.send_text(envelope("joinRoom", R"({"roomId":"r"})", "j"));
         c.send_frame(0x0, "more");
       },
       1002},
      {"a new text frame inside a fragmented message",
       [](wire_client& c) {
         c.send_frame(0x1, chat.substr(0, 5), false);
         c.send_frame(0x1, chat);
       },
       1002},
      {"a binary frame inside a fragmented text message",
       [](wire_client& c) {
         c.send_frame(0x1, chat.substr(0, 5), false);
         c.send_frame(0x2, "bin");
       },
       1002},
  });
}

TEST_CASE("hostile frames: invalid close codes and close payloads: close 1002") {
  std::vector<attack> attacks;
  // Never valid on the wire (RFC 6455 §7.4.1-7.4.2): below 1000, 1004 (reserved), 1005, 1006
  // and 1015 (local-only), 1016-2999 (reserved for the protocol), 5000 and above.
  for (int code : {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
    attacks.push_back({"close code " + std::to_string(code),
                       [code](wire_client& c) { c.send_frame(0x8, close_payload(code)); }, 1002});
  }
  attacks.push_back(
      {"a close payload of one byte", [](wire_client& c) { c.send_frame(0x8, "\x03"); }, 1002});
  // A reason that is not UTF-8. RFC 6455 allows 1002 (§7.4.1, a protocol error) or 1007
  // (§8.1, invalid UTF-8), and so does Autobahn case 7.5.1; PROTOCOL.md §5 gives 1007 only to
  // *text frames* and 1002 to frames that violate RFC 6455, and a close is a control frame:
  // roomwire (websocketpp) answers 1002, which this pins.
  attacks.push_back({"a close reason that is invalid UTF-8 (Autobahn 7.5.1)",
                     [](wire_client& c) {
                       c.send_frame(0x8,
                                    close_payload(1000,
                                                  "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
                                                  "\xed\xa0\x80"
                                                  "edited"));
                     },
                     1002});
  attacks.push_back({"a close reason that is a lone 0xFF byte",
                     [](wire_client& c) { c.send_frame(0x8, close_payload(1000, "\xff")); }, 1002});
  run_attacks(attacks);
}

TEST_CASE("hostile frames: valid close codes are echoed") {
  std::vector<attack> attacks;
  for (int code : {1000, 1001, 1003, 1011, 3000, 4000, 4999}) {
    attacks.push_back({"close code " + std::to_string(code),
                       [code](wire_client& c) { c.send_frame(0x8, close_payload(code, "bye")); },
                       code});
  }
  run_attacks(attacks);
}

TEST_CASE("hostile frames: invalid UTF-8 in a text frame: close 1007") {
  std::vector<attack> attacks;
  const std::vector<std::pair<std::string, std::string>> invalid = {
      {"a broken two-byte sequence", "\xC3\x28"},
      {"an overlong '/'", "\xC0\xAF"},
      {"a UTF-16 surrogate encoded in UTF-8", "\xED\xA0\x80"},
      {"a code point above U+10FFFF", "\xF4\x90\x80\x80"},
      {"a 0xFF byte", "\xFF"},
      {"a truncated three-byte sequence at the end", "\xE2\x82"},
  };
  for (const auto& [name, bytes] : invalid) {
    const std::string text = R"({"type":"joinRoom","payload":{"roomId":")" + bytes + "\"}}";
    attacks.push_back({name, [text](wire_client& c) { c.send_frame(0x1, text); }, 1007});
  }
  attacks.push_back({"invalid in the second fragment",
                     [](wire_client& c) {
                       c.send_frame(0x1, R"({"type":"joinRoom",)", false);
                       c.send_frame(0x0, "\"payload\":\"\xC3\x28\"}", true);
                     },
                     1007});
  // Fail fast: the message is never finished, the first fragment alone is answered.
  attacks.push_back({"invalid in an unfinished first fragment",
                     [](wire_client& c) { c.send_frame(0x1, "{\"type\":\"\xFF", false); }, 1007});
  attacks.push_back({"a sequence cut at the end of a fragmented message",
                     [](wire_client& c) {
                       c.send_frame(0x1, "{\"type\":\"\xE2", false);
                       c.send_frame(0x0, "\x82", true);
                     },
                     1007});
  run_attacks(attacks);
}
