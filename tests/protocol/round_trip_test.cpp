// encode → decode gives back the same value, and decode → encode gives back the same bytes, for
// every message type of messages.hpp.

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>

#include "protocol_test_support.hpp"
#include "roomwire/protocol.hpp"

namespace rp = roomwire::protocol;
using roomwire_test::decodes;

namespace {

// Text that exercises the string encoder: quotes, backslash, control characters, multibyte
// characters, U+2028, and the JSON Pointer specials.
const std::string tricky = "say \"hi\" \\ \t\n\x01 caf\xC3\xA9 \xF0\x9F\x98\x80 \xE2\x80\xA8 a/b~c";

template <class P>
rp::envelope<P> with_envelope(P payload, rp::priority prio = rp::priority::normal) {
  rp::envelope<P> env;
  env.payload = std::move(payload);
  env.timestamp = 1764489600123;
  env.message_id = "id-\xC3\xA9-1";
  env.priority = prio;
  return env;
}

template <class P>
void round_trip(const rp::envelope<P>& env) {
  const std::string wire = rp::encode(env);
  INFO("wire: " << wire);
  const auto back = rp::decode<P>(wire);
  INFO("refused at \"" << back.error.path << "\": " << back.error.reason);
  REQUIRE(back);
  CHECK(back->payload == env.payload);
  CHECK(back->timestamp == env.timestamp);
  CHECK(back->message_id == env.message_id);
  CHECK(back->priority == env.priority);
  CHECK(rp::encode(*back) == wire);
}

}  // namespace

TEST_CASE("round trip: joinRoom and leaveRoom", "[round-trip]") {
  round_trip(with_envelope(rp::join_room{"lobby", {}}));
  round_trip(with_envelope(rp::join_room{tricky, {}}));
  round_trip(with_envelope(rp::join_room{"task:build-1", {}}, rp::priority::critical));
  round_trip(with_envelope(rp::leave_room{"system:health"}, rp::priority::background));
  round_trip(with_envelope(rp::leave_room{std::string(128, 'r')}));
}

TEST_CASE("round trip: joinRoom with since", "[round-trip]") {
  round_trip(with_envelope(rp::join_room{"lobby", 0}));
  round_trip(with_envelope(rp::join_room{"lobby", 41}));
  round_trip(with_envelope(rp::join_room{tricky, 9007199254740991}));  // 2^53 - 1, the most
  // Absent stays absent: no since is not since 0 (that would replay the whole history).
  const auto absent = rp::encode(with_envelope(rp::join_room{"lobby", {}}));
  CHECK(absent.find("since") == std::string::npos);
  CHECK_FALSE(decodes<rp::join_room>(absent).payload.since);
}

TEST_CASE("round trip: message from a client", "[round-trip]") {
  rp::chat_message m;
  m.room_id = "lobby";
  m.content = tricky;
  round_trip(with_envelope(m));

  m.content = "";
  round_trip(with_envelope(m, rp::priority::low));

  m.content = std::string(rp::max_content_bytes, 'x');
  round_trip(with_envelope(m));

  rp::chat_message file;
  file.room_id = "design";
  file.content = "see attachment";
  file.metadata.known.kind = rp::content_kind::file;
  file.metadata.known.file_url = "https://example.com/a%20b?x=1&y=\xC3\xA9";
  file.metadata.known.file_name = "";
  round_trip(with_envelope(file));

  rp::chat_message system;
  system.room_id = "lobby";
  system.content = "maintenance at 18:00";
  system.metadata.known.kind = rp::content_kind::system;
  round_trip(with_envelope(system, rp::priority::critical));
}

TEST_CASE("round trip: message delivered", "[round-trip]") {
  rp::chat_delivery d;
  d.room_id = "lobby";
  d.content = tricky;
  d.sender_id = "alice";
  d.seq = 1;
  round_trip(with_envelope(d));
  d.seq = 9007199254740991;  // 2^53 - 1, the largest seq a JavaScript client reads exactly
  d.metadata.known.kind = rp::content_kind::file;
  d.metadata.known.file_url = "u";
  round_trip(with_envelope(d, rp::priority::high));
}

TEST_CASE("round trip: messageReceived with and without seq", "[round-trip]") {
  round_trip(with_envelope(rp::message_received{"c-1", "lobby", "alice", 1764489600000, 7, std::nullopt}));
  round_trip(with_envelope(rp::message_received{"c-2", "", "bob", 0, std::nullopt, std::nullopt}));
}

TEST_CASE("round trip: messageReceived with recovered", "[round-trip]") {
  round_trip(with_envelope(rp::message_received{"c-3", "lobby", "alice", 1, std::nullopt, true}));
  round_trip(with_envelope(rp::message_received{"c-4", "lobby", "alice", 1, std::nullopt, false}));
  // false is written, not left out: absent means the server did not try to recover.
  const auto gap =
      rp::encode(with_envelope(rp::message_received{"c-4", "lobby", "", 1, std::nullopt, false}));
  CHECK(gap.find(R"("recovered":false)") != std::string::npos);
}

TEST_CASE("round trip: taskAssign from a client and delivered", "[round-trip]") {
  for (int p = 0; p < rp::priority_count; ++p) {
    const auto prio = static_cast<rp::priority>(p);
    round_trip(with_envelope(rp::task_assign{"t-1", "bob", prio}, prio));
    round_trip(with_envelope(rp::task_assign_delivery{"t-1", "bob", prio, "alice"}, prio));
  }
  round_trip(with_envelope(rp::task_assign{tricky, tricky, rp::priority::normal}));
}

TEST_CASE("round trip: taskUpdate from a client and delivered", "[round-trip]") {
  round_trip(with_envelope(rp::task_update{"t-1", "assigned", 0, {}}));
  round_trip(with_envelope(rp::task_update{"t-1", "done", 100, {R"({"artifacts":["a.tar"]})"}}));
  round_trip(with_envelope(rp::task_update{"t-1", "st\xC3\xA9p \"2\"\t", 33.333333333333336, {}}));
  round_trip(with_envelope(
      rp::task_update_delivery{"t-1", "running", 0.1, {R"({"a":{"b":[1,2.5,null,true]}})"}, "b"}));
}

TEST_CASE("round trip: error", "[round-trip]") {
  round_trip(with_envelope(rp::error_payload{"4003", "room not found", {}}));
  round_trip(with_envelope(rp::error_payload{
      "4002",
      "invalid message format",
      {R"({"messageId":"c-1","type":"joinRoom","path":"/payload/a~1b~0c","reason":"is required"})"}}));
}

TEST_CASE("round trip: healthUpdate", "[round-trip]") {
  round_trip(with_envelope(rp::health_update{rp::health_status::ok, {}}, rp::priority::low));
  round_trip(with_envelope(
      rp::health_update{rp::health_status::degraded, {R"({"connections":0,"broker":"down"})"}},
      rp::priority::critical));
}

TEST_CASE("round trip: a number in progress reads back as the same double", "[round-trip]") {
  std::mt19937_64 rng(20240601);
  for (int i = 0; i < 20000; ++i) {
    // A uniform double in [0, 100], from the generator's raw bits (portable across libraries).
    const double progress = static_cast<double>(rng() >> 11) * 0x1.0p-53 * 100.0;
    rp::envelope<rp::task_update> env;
    env.payload = rp::task_update{"t", "s", progress, {}};
    env.message_id = "m";
    const std::string wire = rp::encode(env);
    const auto back = rp::decode<rp::task_update>(wire);
    if (!back || back->payload.progress != progress) {
      FAIL_CHECK("progress " << progress << " did not survive: " << wire);
      break;
    }
  }
}

TEST_CASE("decode then encode: absent optional fields are written with their defaults",
          "[round-trip]") {
  // messageId and timestamp are left empty and 0 when a client leaves them out (the server
  // assigns them); the encoder writes whatever the envelope holds.
  const auto join = decodes<rp::join_room>(R"({"type":"joinRoom","payload":{"roomId":"lobby"}})");
  CHECK(join.message_id.empty());
  CHECK(join.timestamp == 0);
  CHECK(join.priority == rp::priority::normal);
  CHECK(
      rp::encode(join) ==
      R"({"type":"joinRoom","payload":{"roomId":"lobby"},"timestamp":0,"messageId":"","priority":2})");

  const auto chat =
      decodes<rp::chat_message>(R"({"type":"message","payload":{"roomId":"r","content":"c"}})");
  CHECK(chat.payload.metadata.known.kind == rp::content_kind::text);
  CHECK(
      rp::encode(chat) ==
      R"({"type":"message","payload":{"roomId":"r","content":"c","metadata":{"type":"text"}},"timestamp":0,"messageId":"","priority":2})");

  const auto assign = decodes<rp::task_assign>(
      R"({"type":"taskAssign","payload":{"taskId":"t","assigneeId":"b"},"priority":1})");
  CHECK(assign.payload.priority == rp::priority::normal);
  CHECK(assign.priority == rp::priority::high);

  const auto update = decodes<rp::task_update>(
      R"({"type":"taskUpdate","payload":{"taskId":"t","status":"s","progress":50}})");
  std::string payload;
  rp::encode_payload(update.payload, payload);
  CHECK(payload == R"({"taskId":"t","status":"s","progress":50,"metadata":{}})");

  const auto error =
      decodes<rp::error_payload>(R"({"type":"error","payload":{"code":"4003","message":"m"}})");
  payload.clear();
  rp::encode_payload(error.payload, payload);
  CHECK(payload == R"({"code":"4003","message":"m","details":{}})");
}

TEST_CASE("decode then encode: free-form objects come back compact, members in order",
          "[round-trip]") {
  const auto update = decodes<rp::task_update>(
      "{ \"type\" : \"taskUpdate\" ,\n \"payload\" : { \"taskId\" : \"t\", \"status\" : \"s\", "
      "\"progress\" : 5.0, \"metadata\" : { \"z\" : [ 1 , 2.50 , \"\\u00e9\\/\" ], \"a\" : {} } "
      "} , \"unknown\": [1] }");
  CHECK(update.payload.metadata.text == "{\"z\":[1,2.5,\"\xC3\xA9/\"],\"a\":{}}");
  CHECK(update.payload.progress == 5.0);
  CHECK(rp::encode(update) ==
        "{\"type\":\"taskUpdate\",\"payload\":{\"taskId\":\"t\",\"status\":\"s\",\"progress\":5,"
        "\"metadata\":{\"z\":[1,2.5,\"\xC3\xA9/\"],\"a\":{}}},\"timestamp\":0,\"messageId\":\"\","
        "\"priority\":2}");
}

TEST_CASE("encode appends to the string it is given", "[round-trip]") {
  rp::envelope<rp::join_room> env;
  env.payload.room_id = "r";
  std::string out = "prefix:";
  rp::encode(env, out);
  CHECK(out == "prefix:" + rp::encode(env));
}
