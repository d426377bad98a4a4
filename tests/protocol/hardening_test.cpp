// Hostile input: deep nesting, lone surrogates, invalid UTF-8, numbers that do not fit, and an
// inbound_frame reused across good and bad frames.

#include <catch2/catch.hpp>

#include <string>

#include "protocol_test_support.hpp"
#include "roomwire/protocol.hpp"

namespace rp = roomwire::protocol;
using roomwire_test::decodes;
using roomwire_test::frame;
using roomwire_test::refused;
using roomwire_test::repeat;

namespace {

const std::string too_deep = "nesting deeper than 32 levels";

std::string chat_with_metadata(const std::string& metadata) {
  return frame("message", R"({"roomId":"r","content":"c","metadata":)" + metadata + "}");
}

}  // namespace

TEST_CASE("nesting: 100,000 levels are refused at the first value past level 32",
          "[hardening][depth]") {
  const std::size_t n = 100000;
  // The envelope is level 1 and "x" opens level 2; the array at level 33 is the first element
  // of the one at level 32.
  refused<rp::join_room>(
      frame("joinRoom", R"({"roomId":"r"})", ",\"x\":" + repeat("[", n) + repeat("]", n)),
      "/x" + repeat("/0", 31), too_deep);
  // Unterminated: refused for depth before the reader finds the missing brackets.
  refused<rp::join_room>(frame("joinRoom", R"({"roomId":"r"})", ",\"x\":" + repeat("[", n)),
                         "/x" + repeat("/0", 31), too_deep);
  refused<rp::join_room>(frame("joinRoom", R"({"roomId":"r"})",
                               ",\"x\":" + repeat(R"({"a":)", n) + "1" + repeat("}", n)),
                         "/x" + repeat("/a", 31), too_deep);
  // Indexes count the elements before: [0,[0,[...]]] nests at index 1.
  refused<rp::join_room>(
      frame("joinRoom", R"({"roomId":"r"})", ",\"x\":" + repeat("[0,", n) + repeat("]", n)),
      "/x" + repeat("/1", 31), too_deep);
  // The root itself: a bare array 100,000 deep.
  refused<rp::join_room>(repeat("[", n) + repeat("]", n), repeat("/0", 32), too_deep);
  // Inside the payload: envelope 1, payload 2, metadata 3, then d.
  refused<rp::chat_message>(
      chat_with_metadata(R"({"type":"text","d":)" + repeat("[", n) + repeat("]", n) + "}"),
      "/payload/metadata/d" + repeat("/0", 29), too_deep);
}

TEST_CASE("nesting: exactly 32 levels are accepted and forwarded", "[hardening][depth]") {
  // metadata is level 3, so 29 arrays inside it reach level 32.
  const std::string deepest =
      R"({"type":"text","d":)" + repeat("[", 29) + "\"bottom\"" + repeat("]", 29) + "}";
  auto env = decodes<rp::chat_message>(chat_with_metadata(deepest));
  CHECK(env.payload.metadata.raw.text == deepest);
  env.message_id = "m-1";
  // Re-encoded, it still decodes: the limit holds for what the server forwards.
  decodes<rp::chat_message>(rp::encode(env));

  refused<rp::chat_message>(
      chat_with_metadata(R"({"type":"text","d":)" + repeat("[", 30) + repeat("]", 30) + "}"),
      "/payload/metadata/d" + repeat("/0", 29), too_deep);
  // An empty object at level 33 counts as much as a full one.
  refused<rp::chat_message>(
      chat_with_metadata(R"({"type":"text","d":)" + repeat("[", 29) + "{}" + repeat("]", 29) + "}"),
      "/payload/metadata/d" + repeat("/0", 29), too_deep);
  // A scalar at level 33 opens no level.
  decodes<rp::chat_message>(chat_with_metadata(R"({"type":"text","d":)" + repeat("[", 28) +
                                               "[1,\"2\",null]" + repeat("]", 28) + "}"));
}

TEST_CASE("nesting: the limit is an option", "[hardening][depth]") {
  rp::decode_limits lim;
  lim.max_depth = 3;
  const std::string ok = frame("joinRoom", R"({"roomId":"r"})", R"(,"x":[1])");
  CHECK(rp::decode<rp::join_room>(ok, lim));
  const auto r =
      rp::decode<rp::join_room>(frame("joinRoom", R"({"roomId":"r"})", R"(,"x":[1,[2,[3]]])"), lim);
  REQUIRE_FALSE(r);
  CHECK(r.error.path == "/x/1/1");
  CHECK(r.error.reason == "nesting deeper than 3 levels");
}

TEST_CASE("surrogates: a lone low surrogate escape is refused in values and keys",
          "[hardening][unicode]") {
  const std::string lone = "contains a lone surrogate escape";
  refused<rp::join_room>(frame("joinRoom", R"({"roomId":"\udc00"})"), "/payload/roomId", lone);
  refused<rp::join_room>(frame("joinRoom", R"({"roomId":"ab\udfffcd"})"), "/payload/roomId", lone);
  refused<rp::join_room>(frame("joinRoom", R"({"roomId":"r"})", R"(,"messageId":"\udc00")"),
                         "/messageId", lone);
  refused<rp::join_room>(frame("joinRoom", R"({"roomId":"r"})", R"(,"x":[1,"\udc00"])"), "/x/1",
                         lone);
  // In a part nobody reads (metadata fields of the client's own): refused all the same, since
  // it would be forwarded.
  refused<rp::chat_message>(chat_with_metadata(R"({"type":"text","note":"\udc00"})"),
                            "/payload/metadata/note", lone);
  // A bad key: the path is that of its object, since the key itself is not text.
  const std::string key = "key contains a lone surrogate escape";
  refused<rp::join_room>(frame("joinRoom", R"({"\udc00":1,"roomId":"r"})"), "/payload", key);
  refused<rp::join_room>(frame("joinRoom", R"({"roomId":"r"})", R"(,"x":[0,{"\udc00":1}])"), "/x/1",
                         key);
  refused<rp::join_room>(R"({"\udc00":"joinRoom"})", "", key);
}

TEST_CASE("surrogates: a lone high surrogate escape is refused", "[hardening][unicode]") {
  const std::string pair = "is not valid JSON: The surrogate pair in string is invalid. (at byte ";
  // Followed by a character that is not an escape, by another escape that is not a low
  // surrogate, by the end of the string.
  refused<rp::join_room>(frame("joinRoom", R"({"roomId":"\ud800x"})"), "", pair + "40)");
  refused<rp::join_room>(frame("joinRoom", R"({"roomId":"\ud800\u0041"})"), "", pair + "40)");
  refused<rp::join_room>(frame("joinRoom", R"({"roomId":"\ud800\ud800"})"), "", pair + "40)");
  refused<rp::join_room>(frame("joinRoom", R"({"roomId":"\ud800"})"), "", pair + "40)");
  refused<rp::join_room>(frame("joinRoom", R"({"\udbff":1,"roomId":"r"})"), "", pair + "31)");
}

TEST_CASE("surrogates: a valid pair is one character", "[hardening][unicode]") {
  const auto env = decodes<rp::join_room>(
      frame("joinRoom", R"({"roomId":"\ud83d\ude00","\ud83d\ude00":"key"})"));
  CHECK(env.payload.room_id == "\xF0\x9F\x98\x80");
  CHECK(rp::encode(env).find("\"roomId\":\"\xF0\x9F\x98\x80\"") != std::string::npos);
}

TEST_CASE("raw bytes that are not UTF-8 are refused", "[hardening][unicode]") {
  const std::string reason = "is not valid UTF-8";
  for (const char* bad : {
           "\xFF",              // never in UTF-8
           "\xC0\xAF",          // overlong '/'
           "\xE0\x80\xAF",      // overlong '/', three bytes
           "\xE2\x82",          // truncated
           "\x80",              // continuation with no lead
           "\xED\xA0\x80",      // an encoded surrogate (U+D800)
           "\xF4\x90\x80\x80",  // past U+10FFFF
       }) {
    INFO("bytes " << bad);
    refused<rp::join_room>(frame("joinRoom", std::string("{\"roomId\":\"a") + bad + "\"}"), "",
                           reason);
    refused<rp::join_room>(frame("joinRoom", std::string("{\"room") + bad + "Id\":\"a\"}"), "",
                           reason);
    refused<rp::chat_message>(
        chat_with_metadata(std::string("{\"type\":\"text\",\"x\":\"") + bad + "\"}"), "", reason);
  }
}

TEST_CASE("numbers that do not fit are refused cleanly", "[hardening][numbers]") {
  const std::string too_big = "is not valid JSON: Number too big to be stored in double. (at byte ";
  const auto update = [](const std::string& progress) {
    return frame("taskUpdate", R"({"taskId":"t","status":"s","progress":)" + progress + "}");
  };
  refused<rp::task_update>(update("1e400"), "", too_big + "69)");
  refused<rp::task_update>(update("-1e400"), "", too_big + "69)");
  refused<rp::task_update>(update("1" + std::string(400, '0')), "", too_big + "69)");
  // Anywhere in the frame, even where nothing is read.
  refused<rp::join_room>(frame("joinRoom", R"({"roomId":"r"})", R"(,"x":1e400)"), "",
                         too_big + "48)");
  // Integers above int64 in integer fields.
  refused<rp::join_room>(
      frame("joinRoom", R"({"roomId":"r"})", R"(,"timestamp":9223372036854775808)"), "/timestamp",
      "is out of range");
  refused<rp::chat_delivery>(
      frame("message",
            R"({"roomId":"r","content":"c","senderId":"a","seq":99999999999999999999999})"),
      "/payload/seq", "is out of range");
  refused<rp::task_assign>(
      frame("taskAssign", R"({"taskId":"t","assigneeId":"b","priority":18446744073709551615})"),
      "/payload/priority", "must be between 0 and 4");
  // Tiny numbers are numbers.
  CHECK(decodes<rp::task_update>(update("1e-400")).payload.progress == 0);
}

TEST_CASE("numbers with tens of thousands of digits are read exactly, not crash the reader",
          "[hardening][numbers]") {
  // RapidJSON 1.1.0's full-precision path reads past a table on such input (seen under ASan);
  // the codec converts numbers itself.
  const auto update = [](const std::string& progress) {
    return frame("taskUpdate", R"({"taskId":"t","status":"s","progress":)" + progress + "}");
  };
  CHECK(decodes<rp::task_update>(update("0." + std::string(60000, '0') + "1")).payload.progress ==
        0);
  CHECK(decodes<rp::task_update>(update("0.5" + std::string(60000, '0') + "1")).payload.progress ==
        0.5);
  CHECK(decodes<rp::task_update>(update("2.2250738585072011" + std::string(60000, '4') + "e-308"))
            .payload.progress > 0);
  CHECK(decodes<rp::task_update>(update("99." + std::string(60000, '9'))).payload.progress == 100);
  refused<rp::task_update>(update("1" + std::string(200, '0') + "." + std::string(60000, '1')),
                           "/payload/progress", "must be between 0 and 100");
}

TEST_CASE("an inbound_frame reused after a refused frame never decodes stale data",
          "[hardening][frame]") {
  rp::inbound_frame f;
  // A frame bigger than the frame's inline buffers, so that its DOM lives on the heap.
  const std::string big =
      frame("joinRoom", "{\"roomId\":\"" + std::string(100, 'r') + "\",\"pad\":[" +
                            repeat("\"padding padding\",", 300) + "0]}");
  REQUIRE(f.parse(big));
  rp::envelope<rp::join_room> env;
  REQUIRE(f.decode(env));
  CHECK(env.payload.room_id == std::string(100, 'r'));

  CHECK_FALSE(f.parse("not json"));
  CHECK(f.payload() == nullptr);
  CHECK(f.type().empty());
  rp::envelope<rp::join_room> stale;
  CHECK_FALSE(f.decode(stale));
  CHECK(f.error().path.empty());
  CHECK(f.error().reason == "no frame was parsed");
  CHECK(stale.payload.room_id.empty());

  // Refused in the envelope after the payload was found: no decode either.
  REQUIRE(f.parse(big));
  CHECK_FALSE(f.parse(frame("joinRoom", R"({"roomId":"lobby"})", R"(,"timestamp":-1)")));
  CHECK(f.type() == "joinRoom");
  CHECK(f.error().path == "/timestamp");
  CHECK_FALSE(f.decode(stale));

  // And good again.
  REQUIRE(f.parse(frame("joinRoom", R"({"roomId":"lobby"})", R"(,"priority":0)")));
  REQUIRE(f.decode(env));
  CHECK(env.payload.room_id == "lobby");
  CHECK(env.priority == rp::priority::critical);
  CHECK(f.header().priority == rp::priority::critical);
  CHECK_FALSE(f.header().timestamp);
}

TEST_CASE("an inbound_frame decodes one parsed frame as several types", "[hardening][frame]") {
  rp::inbound_frame f;
  REQUIRE(f.parse(frame("message", R"({"roomId":"r","content":"c","senderId":"a","seq":3})",
                        R"(,"messageId":"m-1","timestamp":5)")));
  CHECK(f.header().message_id == "m-1");
  CHECK(f.header().timestamp == 5);
  rp::envelope<rp::chat_message> as_client;
  rp::envelope<rp::chat_delivery> as_delivery;
  REQUIRE(f.decode(as_client));
  REQUIRE(f.decode(as_delivery));
  CHECK(as_client.payload.room_id == "r");
  CHECK(as_delivery.payload.seq == 3);
  CHECK(as_delivery.message_id == "m-1");
  CHECK(as_delivery.timestamp == 5);
  REQUIRE(f.payload() != nullptr);
  CHECK(f.payload()->IsObject());
}
