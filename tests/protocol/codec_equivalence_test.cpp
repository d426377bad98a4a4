// The codec writes JSON itself (detail::json_writer, and a plain copy for free-form objects whose
// strings need no escapes). Both must give, byte for byte, what rapidjson::Writer writes: for
// strings (every escape), numbers, and free-form objects in any spelling.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "protocol_test_support.hpp"
#include "roomwire/protocol.hpp"

namespace rp = roomwire::protocol;
using roomwire_test::frame;

namespace {

// A random string of UTF-8: ASCII of every kind (control characters, quote, backslash, DEL),
// 2-, 3- and 4-byte characters, of 0 to 40 bytes, so that both the 8-byte scan and its tail run.
std::string random_text(std::mt19937& rng) {
  static const char* const pieces[] = {
      "\xC3\xA9", "\xE2\x80\xA8", "\xF0\x9F\x98\x80", "\"", "\\", "/", "\x7F", "~"};
  std::string s;
  const std::size_t n = rng() % 41;
  while (s.size() < n) {
    const unsigned pick = rng() % 4;
    if (pick == 0) {
      s += pieces[rng() % (sizeof pieces / sizeof pieces[0])];
    } else if (pick == 1) {
      s += static_cast<char>(rng() % 0x20);
    } else {
      s += static_cast<char>(0x20 + rng() % 0x5F);
    }
  }
  return s;
}

double random_double(std::mt19937& rng) {
  for (;;) {
    const std::uint64_t bits = (std::uint64_t{rng()} << 32) | rng();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    if (std::isfinite(d)) return d;
  }
}

// The same calls to both writers; the texts must match.
template <class F>
void same_text(F&& write) {
  rapidjson::StringBuffer expected;
  rapidjson::Writer<rapidjson::StringBuffer> reference(expected);
  write(reference);
  std::string actual = "x";  // the codec's writer appends
  {
    rp::detail::json_writer ours(actual);
    write(ours);
  }
  CHECK(actual == "x" + std::string(expected.GetString(), expected.GetSize()));
}

std::string compact(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

TEST_CASE("json_writer writes what rapidjson::Writer writes", "[equivalence]") {
  std::mt19937 rng(20250601u);
  for (int round = 0; round < 2000; ++round) {
    const std::string key = random_text(rng);
    const std::string value = random_text(rng);
    const double d = random_double(rng);
    const auto i = static_cast<std::int64_t>((std::uint64_t{rng()} << 32) | rng());
    const std::uint64_t u = (std::uint64_t{rng()} << 32) | rng();
    INFO("round " << round);
    same_text([&](auto& w) {
      w.StartObject();
      w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
      w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
      w.Key("n", 1);
      w.StartArray();
      w.Double(d);
      w.Int64(i);
      w.Uint64(u);
      w.Int(static_cast<int>(i));
      w.Double(static_cast<double>(i % 1000000) / 8);
      w.StartArray();
      w.EndArray();
      w.StartObject();
      w.EndObject();
      w.Bool(round % 2 == 0);
      w.Null();
      w.EndArray();
      w.EndObject();
    });
  }
  same_text([](auto& w) {
    w.StartArray();
    for (const double d :
         {0.0, -0.0, 1.0, 0.1, 1e21, 1e-7, 123456789012345678.0, std::numeric_limits<double>::max(),
          std::numeric_limits<double>::min(), std::numeric_limits<double>::denorm_min()}) {
      w.Double(d);
    }
    w.Int64(std::numeric_limits<std::int64_t>::min());
    w.Int64(std::numeric_limits<std::int64_t>::max());
    w.Uint64(std::numeric_limits<std::uint64_t>::max());
    w.EndArray();
  });
}

TEST_CASE("free-form objects come out as rapidjson::Writer writes the parsed value",
          "[equivalence]") {
  // Spellings that may or may not be written back as they came: whitespace, escapes, every kind
  // of number. The reference is the parsed value (payload(), numbers converted by the codec)
  // written by rapidjson::Writer.
  const char* const members[] = {
      R"("a":1)",
      R"("b":-0)",
      R"("c":2.50)",
      R"("d":2.5)",
      R"("e":1e2)",
      R"("f":1E2)",
      R"("g":100.0)",
      R"("h":-0.0)",
      R"("i":0.1)",
      R"("j":1e-400)",
      R"("k":-1e-400)",
      R"("l":123456789012345678)",
      R"("m":9223372036854775807)",
      R"("n":9223372036854775808)",
      R"("o":18446744073709551615)",
      R"("p":18446744073709551616)",
      R"("q":-9223372036854775808)",
      R"("r":-9223372036854775809)",
      R"("s":true)",
      R"("t":false)",
      R"("u":null)",
      R"("v":"plain")",
      R"("w":"caf\u00e9")",
      R"("x":"a\/b")",
      R"("y":"q\"q")",
      R"("z":"\n\u0001")",
      R"("\u0041":[])",
      R"("arr":[1,[2,{}],"x"])",
      R"("obj":{"k":{"k":[]}})",
      R"("e\u0301":"\ud83d\ude00")",
      "\"raw\":\"\xC3\xA9\xF0\x9F\x98\x80\"",
      R"("dup":1,"dup":2)",
      R"("big":1.7976931348623157e308)",
  };
  const char* const gaps[] = {"", " ", "\n", "\t ", "\r\n  "};
  std::mt19937 rng(7u);
  rp::inbound_frame f;
  int copied = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string metadata = "{";
    metadata += gaps[rng() % 5 == 0 ? 1 + rng() % 4 : 0];
    const unsigned count = rng() % 5;
    for (unsigned m = 0; m < count; ++m) {
      if (m > 0) metadata += ",";
      std::string member = members[rng() % (sizeof members / sizeof members[0])];
      if (rng() % 6 == 0) {
        const std::size_t colon = member.find("\":") + 1;
        member.insert(colon, gaps[1 + rng() % 4]);
      }
      metadata += member;
    }
    metadata += gaps[rng() % 5 == 0 ? 1 + rng() % 4 : 0];
    metadata += "}";
    const std::string text = frame(
        "taskUpdate", R"({"taskId":"t","status":"s","progress":1,"metadata":)" + metadata + "}");
    INFO("metadata " << metadata);
    REQUIRE(f.parse(text));
    rp::envelope<rp::task_update> env;
    REQUIRE(f.decode(env));
    const rapidjson::Value* payload = f.payload();
    REQUIRE(payload != nullptr);
    const std::string expected = compact((*payload)["metadata"]);
    CHECK(env.payload.metadata.text == expected);
    if (env.payload.metadata.text == metadata) ++copied;
  }
  // Some objects were compact as they came, others were spelled otherwise.
  CHECK(copied > 100);
  CHECK(copied < 2900);
}

TEST_CASE("error() names an accepted frame as it does a refused one", "[equivalence]") {
  rp::inbound_frame f;
  REQUIRE(f.parse(frame("joinRoom", R"({"roomId":"lobby"})", R"(,"messageId":"m-7")")));
  CHECK(f.error().type == "joinRoom");
  CHECK(f.error().message_id == "m-7");
  CHECK(f.error().path.empty());
  CHECK(f.error().reason.empty());
  rp::envelope<rp::task_update> wrong;
  REQUIRE_FALSE(f.decode(wrong));
  CHECK(f.error().type == "joinRoom");
  CHECK(f.error().message_id == "m-7");
  CHECK(f.error().path == "/payload/taskId");
  // A frame refused at its messageId names its type only.
  REQUIRE_FALSE(f.parse(frame("joinRoom", R"({"roomId":"lobby"})", R"(,"messageId":"")")));
  CHECK(f.error().type == "joinRoom");
  CHECK(f.error().message_id.empty());
  // And a frame that is not JSON names nothing.
  REQUIRE_FALSE(f.parse("{"));
  CHECK(f.error().type.empty());
  CHECK(f.error().message_id.empty());
}

namespace {

// What encode() writes, spelled out with rapidjson::Writer and the names as plain Key() calls,
// for comparison with the codec's names made at compile time (member_key, envelope_head).
template <class P>
std::string reference_envelope(const rp::envelope<P>& env) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  const std::string_view type = rp::type_of<P>();
  w.StartObject();
  w.Key("type");
  w.String(type.data(), static_cast<rapidjson::SizeType>(type.size()));
  w.Key("payload");
  rp::detail::encode_object(w, env.payload);
  w.Key("timestamp");
  w.Int64(env.timestamp);
  w.Key("messageId");
  w.String(env.message_id.data(), static_cast<rapidjson::SizeType>(env.message_id.size()));
  w.Key("priority");
  w.Int(static_cast<int>(env.priority));
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

TEMPLATE_TEST_CASE("every envelope's names come out as rapidjson::Writer writes them",
                   "[equivalence]", rp::join_room, rp::leave_room, rp::chat_message,
                   rp::chat_delivery, rp::message_received, rp::task_assign,
                   rp::task_assign_delivery, rp::task_update, rp::task_update_delivery,
                   rp::error_payload, rp::health_update) {
  rp::envelope<TestType> env;  // optional members absent: the names between them still differ
  env.timestamp = 1767225600123;
  env.message_id = "m-1";
  const std::string actual = rp::encode(env);
  CHECK(actual == reference_envelope(env));
  CHECK(actual.rfind("{\"type\":\"" + std::string(rp::type_of<TestType>()) + "\",\"payload\":{", 0) == 0);
}

TEST_CASE("an acknowledgement with every optional member comes out as rapidjson::Writer writes it",
          "[equivalence]") {
  rp::envelope<rp::message_received> ack;
  ack.timestamp = 1767225600123;
  ack.message_id = "s-\"7\"";  // values are still escaped
  ack.priority = rp::priority::high;
  ack.payload.message_id = "c\\1";
  ack.payload.room_id = "lobby";
  ack.payload.sender_id = "ada";
  ack.payload.timestamp = 1767225600000;
  ack.payload.seq = 42;
  ack.payload.recovered = true;
  const std::string actual = rp::encode(ack);
  CHECK(actual == reference_envelope(ack));
  CHECK(actual ==
        "{\"type\":\"messageReceived\",\"payload\":{\"messageId\":\"c\\\\1\",\"roomId\":\"lobby\","
        "\"senderId\":\"ada\",\"timestamp\":1767225600000,\"seq\":42,\"recovered\":true},"
        "\"timestamp\":1767225600123,\"messageId\":\"s-\\\"7\\\"\",\"priority\":1}");
}
