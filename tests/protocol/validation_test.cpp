// Every refusal of the decoder, with its exact `path` (a JSON Pointer) and `reason`: the
// envelope fields, the whole frame, and every field of every client → server payload.

#include <catch2/catch.hpp>

#include <cstddef>
#include <functional>
#include <string>

#include "protocol_test_support.hpp"
#include "roomwire/protocol.hpp"

namespace rp = roomwire::protocol;
using roomwire_test::decodes;
using roomwire_test::frame;
using roomwire_test::json_string;
using roomwire_test::refused;
using roomwire_test::repeat;

namespace {

// Builds a frame with `value` (JSON text) in the field under test.
using frame_with = std::function<std::string(const std::string& value)>;

const std::string e_acute = "\xC3\xA9";                 // é: 2 bytes, 1 character
const std::string grinning = "\xF0\x9F\x98\x80";        // 😀: 4 bytes, 1 character
const std::string grinning_escaped = "\\ud83d\\ude00";  // the same, as a JSON surrogate pair

std::string length_reason(std::size_t min, std::size_t max) {
  if (min == 0) return "must be at most " + std::to_string(max) + " characters";
  return "must be " + std::to_string(min) + " to " + std::to_string(max) + " characters";
}

// A string field limited to [min, max] Unicode characters.
template <class P>
void check_string_field(const frame_with& make, const std::string& path, std::size_t min,
                        std::size_t max) {
  for (const char* wrong : {"42", "true", "null", "[]", "{}", "1.5"}) {
    refused<P>(make(wrong), path, "must be a string");
  }
  const std::string reason = length_reason(min, max);
  // Characters are counted, not bytes: the limit holds for 1-, 2- and 4-byte characters alike,
  // and for characters written as escapes.
  for (const std::string& unit :
       {std::string("x"), e_acute, grinning, grinning_escaped, std::string("\\u00e9")}) {
    INFO("unit " << unit);
    decodes<P>(make(json_string(unit, max)));
    refused<P>(make(json_string(unit, max + 1)), path, reason);
    if (min > 0) {
      decodes<P>(make(json_string(unit, min)));
      refused<P>(make(json_string(unit, min - 1)), path, reason);
    } else {
      decodes<P>(make("\"\""));
    }
  }
}

// An integer 0–4 priority field.
template <class P>
void check_priority_field(const frame_with& make, const std::string& path) {
  for (const char* good : {"0", "1", "2", "3", "4"}) decodes<P>(make(good));
  for (const char* out : {"5", "-1", "255", "9223372036854775807", "9223372036854775808",
                          "-9223372036854775809", "100000000000000000000"}) {
    refused<P>(make(out), path, "must be between 0 and 4");
  }
  // A number written with a fraction or an exponent is not an integer here, even 2.0.
  for (const char* wrong : {"2.5", "2.0", "2e0", "\"2\"", "null", "true", "[2]", "{}"}) {
    refused<P>(make(wrong), path, "must be an integer");
  }
}

// A free-form object field (metadata, details, metrics).
template <class P>
void check_object_field(const frame_with& make, const std::string& path) {
  for (const char* wrong : {"null", "\"x\"", "1", "[]", "true"}) {
    refused<P>(make(wrong), path, "must be an object");
  }
  decodes<P>(make("{}"));
  decodes<P>(make(R"({"any":[1,{"thing":null}],"goes":"here"})"));
}

std::string join_frame(const std::string& extra) {
  return frame("joinRoom", R"({"roomId":"lobby"})", extra);
}

}  // namespace

// ---- the whole frame ----------------------------------------------------------------------

TEST_CASE("frame: not JSON, not an object, or trailing garbage is refused at path \"\"",
          "[validation][frame]") {
  using rp::join_room;
  refused<join_room>("", "", "is not valid JSON: The document is empty. (at byte 0)");
  refused<join_room>("   ", "", "is not valid JSON: The document is empty. (at byte 3)");
  refused<join_room>("hello", "", "is not valid JSON: Invalid value. (at byte 0)");
  refused<join_room>("{\"type\":\"joinRoom\",", "",
                     "is not valid JSON: Missing a name for object member. (at byte 19)");
  refused<join_room>("{'type':'joinRoom'}", "",
                     "is not valid JSON: Missing a name for object member. (at byte 1)");
  refused<join_room>(join_frame("") + " x", "",
                     "is not valid JSON: The document root must not be followed by other values. "
                     "(at byte 49)");
  refused<join_room>(join_frame("") + "{}", "",
                     "is not valid JSON: The document root must not be followed by other values. "
                     "(at byte 48)");
  // The reader stops at a NUL byte; what follows one is trailing garbage all the same.
  refused<join_room>(join_frame("") + std::string(1, '\0') + "junk", "",
                     "is not valid JSON: The document root must not be followed by other values. "
                     "(at byte 48)");
  for (const char* root :
       {"[]", "[{\"type\":\"joinRoom\"}]", "42", "-1.5", "\"joinRoom\"", "null", "true"}) {
    refused<join_room>(root, "", "must be a JSON object");
  }
  // Whitespace around the object is JSON.
  decodes<join_room>(" \t\r\n" + join_frame("") + " \n");
}

// ---- envelope -----------------------------------------------------------------------------

TEST_CASE("envelope: type", "[validation][envelope]") {
  using rp::join_room;
  refused<join_room>(R"({"payload":{"roomId":"lobby"}})", "/type", "is required");
  for (const char* wrong : {"1", "null", "true", "{}", "[\"joinRoom\"]"}) {
    refused<join_room>(std::string(R"({"type":)") + wrong + R"(,"payload":{"roomId":"lobby"}})",
                       "/type", "must be a string");
  }
  // type is checked before payload.
  refused<join_room>("{}", "/type", "is required");
}

TEST_CASE("envelope: a frame of another type is refused at /type", "[validation][envelope]") {
  const auto err = refused<rp::join_room>(frame("leaveRoom", R"({"roomId":"lobby"})"), "/type",
                                          "expected \"joinRoom\"");
  CHECK(err.type == "leaveRoom");
  refused<rp::task_update>(frame("taskAssign", R"({"taskId":"t","assigneeId":"b"})"), "/type",
                           "expected \"taskUpdate\"");
  refused<rp::chat_message>(frame("Message", R"({"roomId":"r","content":"c"})"), "/type",
                            "expected \"message\"");
  refused<rp::join_room>(frame("", R"({"roomId":"lobby"})"), "/type", "expected \"joinRoom\"");

  // inbound_frame itself accepts any type: the dispatcher decides what it knows.
  rp::inbound_frame f;
  REQUIRE(f.parse(frame("cursorMove", R"({"x":1})")));
  CHECK(f.type() == "cursorMove");
}

TEST_CASE("envelope: payload", "[validation][envelope]") {
  using rp::join_room;
  refused<join_room>(R"({"type":"joinRoom"})", "/payload", "is required");
  for (const char* wrong : {"null", "[]", "\"{}\"", "1", "false"}) {
    refused<join_room>(frame("joinRoom", wrong), "/payload", "must be an object");
  }
  // An empty payload is an object: what is missing is the field inside it.
  refused<join_room>(frame("joinRoom", "{}"), "/payload/roomId", "is required");
}

TEST_CASE("envelope: timestamp", "[validation][envelope]") {
  using rp::join_room;
  CHECK(decodes<join_room>(join_frame(R"(,"timestamp":0)")).timestamp == 0);
  CHECK(decodes<join_room>(join_frame(R"(,"timestamp":1764489600000)")).timestamp == 1764489600000);
  CHECK(decodes<join_room>(join_frame(R"(,"timestamp":9223372036854775807)")).timestamp ==
        INT64_MAX);
  for (const char* wrong :
       {"1.5", "1e3", "1764489600000.0", "\"1764489600000\"", "null", "true", "{}", "[]"}) {
    refused<join_room>(join_frame(std::string(R"(,"timestamp":)") + wrong), "/timestamp",
                       "must be an integer");
  }
  refused<join_room>(join_frame(R"(,"timestamp":-1)"), "/timestamp", "must be at least 0");
  for (const char* huge : {"9223372036854775808", "18446744073709551615", "18446744073709551616",
                           "-9223372036854775809", "1e300"}) {
    refused<join_room>(join_frame(std::string(R"(,"timestamp":)") + huge), "/timestamp",
                       "is out of range");
  }
}

TEST_CASE("envelope: messageId", "[validation][envelope]") {
  using rp::join_room;
  for (const char* wrong : {"7", "null", "true", "[]", "{}"}) {
    const auto err = refused<join_room>(join_frame(std::string(R"(,"messageId":)") + wrong),
                                        "/messageId", "must be a string");
    CHECK(err.message_id.empty());
  }
  const std::string reason = "must be 1 to 128 characters";
  refused<join_room>(join_frame(R"(,"messageId":"")"), "/messageId", reason);
  for (const std::string& unit : {std::string("m"), e_acute, grinning, grinning_escaped}) {
    INFO("unit " << unit);
    const auto err = refused<join_room>(join_frame(",\"messageId\":" + json_string(unit, 129)),
                                        "/messageId", reason);
    CHECK(err.message_id.empty());  // a refused id is not echoed back
    CHECK(decodes<join_room>(join_frame(",\"messageId\":" + json_string(unit, 128)))
              .message_id.size() == (unit == grinning_escaped ? 4 : unit.size()) * 128);
  }
  CHECK(decodes<join_room>(join_frame(R"(,"messageId":"c")")).message_id == "c");
}

TEST_CASE("envelope: priority", "[validation][envelope]") {
  check_priority_field<rp::join_room>(
      [](const std::string& v) { return join_frame(",\"priority\":" + v); }, "/priority");
  CHECK(decodes<rp::join_room>(join_frame(R"(,"priority":0)")).priority == rp::priority::critical);
  CHECK(decodes<rp::join_room>(join_frame(R"(,"priority":4)")).priority ==
        rp::priority::background);
  CHECK(decodes<rp::join_room>(join_frame("")).priority == rp::priority::normal);
}

TEST_CASE("envelope: unknown members are ignored, the first error wins", "[validation][envelope]") {
  using rp::join_room;
  decodes<join_room>(join_frame(R"(,"since":12,"extra":{"deep":[null]},"priority":1)"));
  decodes<join_room>(frame("joinRoom", R"({"roomId":"lobby","unknown":[1,2,3]})"));
  // Envelope fields are checked in the order type, payload, timestamp, messageId, priority,
  // then the payload.
  refused<join_room>(R"({"type":"joinRoom","payload":1,"timestamp":-1})", "/payload",
                     "must be an object");
  refused<join_room>(
      frame("joinRoom", R"({"roomId":1})", R"(,"priority":9,"messageId":"","timestamp":-1)"),
      "/timestamp", "must be at least 0");
  refused<join_room>(frame("joinRoom", R"({"roomId":1})", R"(,"priority":9,"messageId":"")"),
                     "/messageId", "must be 1 to 128 characters");
  refused<join_room>(frame("joinRoom", R"({"roomId":1})", R"(,"priority":9)"), "/priority",
                     "must be between 0 and 4");
}

TEST_CASE("envelope: a refusal carries the frame's type and messageId when they were readable",
          "[validation][envelope]") {
  auto err = refused<rp::join_room>(frame("joinRoom", R"({"roomId":42})", R"(,"messageId":"c-7")"),
                                    "/payload/roomId", "must be a string");
  CHECK(err.type == "joinRoom");
  CHECK(err.message_id == "c-7");

  err = refused<rp::join_room>(R"({"messageId":"c-8","payload":{}})", "/type", "is required");
  CHECK(err.type.empty());
  CHECK(err.message_id == "c-8");

  err = refused<rp::join_room>("{\"messageId\":\"c-9\"", "",
                               "is not valid JSON: Missing a comma or '}' after an object member. "
                               "(at byte 18)");
  CHECK(err.type.empty());
  CHECK(err.message_id.empty());
}

// ---- payloads: joinRoom / leaveRoom -------------------------------------------------------

TEMPLATE_TEST_CASE("payload: roomId of joinRoom and leaveRoom", "[validation][payload]",
                   rp::join_room, rp::leave_room) {
  const std::string type(TestType::type);
  refused<TestType>(frame(type, "{}"), "/payload/roomId", "is required");
  refused<TestType>(frame(type, R"({"roomid":"lobby"})"), "/payload/roomId", "is required");
  check_string_field<TestType>(
      [&](const std::string& v) { return frame(type, "{\"roomId\":" + v + "}"); },
      "/payload/roomId", 1, 128);
  CHECK(decodes<TestType>(frame(type, R"({"roomId":"\u00e9\ud83d\ude00"})")).payload.room_id ==
        e_acute + grinning);
}

TEST_CASE("payload: since of joinRoom (§6 recovery)", "[validation][payload]") {
  using rp::join_room;
  const auto make = [](const std::string& v) {
    return frame("joinRoom", "{\"roomId\":\"lobby\",\"since\":" + v + "}");
  };
  CHECK_FALSE(decodes<join_room>(frame("joinRoom", R"({"roomId":"lobby"})")).payload.since);
  CHECK(decodes<join_room>(make("0")).payload.since == 0);
  CHECK(decodes<join_room>(make("41")).payload.since == 41);
  CHECK(decodes<join_room>(make("9007199254740991")).payload.since == 9007199254740991);
  // Not an integer, whatever its value: a fraction or an exponent, even 2.0; null is not absent.
  for (const char* wrong : {"1.5", "2.0", "1e3", "\"41\"", "null", "true", "[41]", "{}"}) {
    refused<join_room>(make(wrong), "/payload/since", "must be an integer");
  }
  // A seq is never below 0 nor above 2^53 - 1 (what a JavaScript client reads exactly).
  for (const char* out :
       {"-1", "-9223372036854775808", "9007199254740992", "9223372036854775807"}) {
    refused<join_room>(make(out), "/payload/since", "must be between 0 and 9007199254740991");
  }
  for (const char* huge : {"9223372036854775808", "18446744073709551616", "-9223372036854775809"}) {
    refused<join_room>(make(huge), "/payload/since", "is out of range");
  }
  refused<join_room>(frame("joinRoom", R"({"roomId":"lobby","since":1,"since":2})"),
                     "/payload/since", "must appear only once");
  // roomId is checked first.
  refused<join_room>(frame("joinRoom", R"({"since":-1})"), "/payload/roomId", "is required");
}

// ---- payloads: message --------------------------------------------------------------------

namespace {
std::string chat_frame(const std::string& members) { return frame("message", "{" + members + "}"); }
}  // namespace

TEST_CASE("payload: message roomId", "[validation][payload]") {
  refused<rp::chat_message>(chat_frame(R"("content":"c")"), "/payload/roomId", "is required");
  check_string_field<rp::chat_message>(
      [](const std::string& v) { return chat_frame("\"roomId\":" + v + ",\"content\":\"c\""); },
      "/payload/roomId", 1, 128);
}

TEST_CASE("payload: message content is limited in bytes, not characters", "[validation][payload]") {
  using rp::chat_message;
  const auto make = [](const std::string& v) {
    return chat_frame("\"roomId\":\"r\",\"content\":" + v);
  };
  refused<chat_message>(chat_frame(R"("roomId":"r")"), "/payload/content", "is required");
  for (const char* wrong : {"1", "null", "true", "[\"c\"]", "{}"}) {
    refused<chat_message>(make(wrong), "/payload/content", "must be a string");
  }
  const std::string reason = "must be at most 65536 bytes";
  CHECK(decodes<chat_message>(make("\"\"")).payload.content.empty());
  CHECK(decodes<chat_message>(make(json_string("x", 65536))).payload.content.size() == 65536);
  refused<chat_message>(make(json_string("x", 65537)), "/payload/content", reason);
  // 32,768 two-byte characters are 65,536 bytes; one more byte is too many.
  decodes<chat_message>(make(json_string(e_acute, 32768)));
  refused<chat_message>(make("\"" + repeat(e_acute, 32768) + "x\""), "/payload/content", reason);
  refused<chat_message>(make(json_string(e_acute, 65536)), "/payload/content", reason);
  decodes<chat_message>(make(json_string(grinning, 16384)));
  refused<chat_message>(make(json_string(grinning, 16385)), "/payload/content", reason);
  // Bytes of the decoded UTF-8 count, not bytes of the escapes that wrote them.
  decodes<chat_message>(make(json_string("\\u00e9", 32768)));
  refused<chat_message>(make("\"" + repeat("\\u00e9", 32768) + "x\""), "/payload/content", reason);
  decodes<chat_message>(make(json_string("\\n", 65536)));
}

TEST_CASE("payload: message metadata", "[validation][payload]") {
  using rp::chat_message;
  const auto make = [](const std::string& v) {
    return chat_frame("\"roomId\":\"r\",\"content\":\"c\",\"metadata\":" + v);
  };
  const auto meta = [&](const std::string& members) { return make("{" + members + "}"); };

  for (const char* wrong : {"null", "\"text\"", "[]", "1", "true"}) {
    refused<chat_message>(make(wrong), "/payload/metadata", "must be an object");
  }
  refused<chat_message>(make("{}"), "/payload/metadata/type", "is required");
  refused<chat_message>(meta(R"("fileUrl":"u")"), "/payload/metadata/type", "is required");
  for (const char* wrong : {"1", "null", "[]", "{}"}) {
    refused<chat_message>(meta(std::string("\"type\":") + wrong), "/payload/metadata/type",
                          "must be a string");
  }
  for (const char* wrong : {"\"video\"", "\"TEXT\"", "\"\"", "\"text \""}) {
    refused<chat_message>(meta(std::string("\"type\":") + wrong), "/payload/metadata/type",
                          "must be one of text, file, system");
  }
  CHECK(decodes<chat_message>(meta(R"("type":"text")")).payload.metadata.known.kind ==
        rp::content_kind::text);
  CHECK(decodes<chat_message>(meta(R"("type":"system")")).payload.metadata.known.kind ==
        rp::content_kind::system);

  // file needs fileUrl; fileName stays optional.
  refused<chat_message>(meta(R"("type":"file")"), "/payload/metadata/fileUrl",
                        "is required when type is \"file\"");
  refused<chat_message>(meta(R"("type":"file","fileName":"a.png")"), "/payload/metadata/fileUrl",
                        "is required when type is \"file\"");
  const auto file = decodes<chat_message>(meta(R"("type":"file","fileUrl":"u")"));
  CHECK(file.payload.metadata.known.file_url == "u");
  CHECK_FALSE(file.payload.metadata.known.file_name);
  // fileUrl on a text message is allowed and kept.
  CHECK(decodes<chat_message>(meta(R"("type":"text","fileUrl":"u")"))
            .payload.metadata.known.file_url == "u");

  check_string_field<chat_message>(
      [&](const std::string& v) { return meta("\"type\":\"file\",\"fileUrl\":" + v); },
      "/payload/metadata/fileUrl", 1, 4096);
  check_string_field<chat_message>(
      [&](const std::string& v) {
        return meta("\"type\":\"file\",\"fileUrl\":\"u\",\"fileName\":" + v);
      },
      "/payload/metadata/fileName", 0, 1024);
  // null is not absent: an optional field sent as null is a wrong type.
  refused<chat_message>(meta(R"("type":"text","fileName":null)"), "/payload/metadata/fileName",
                        "must be a string");
  refused<chat_message>(meta(R"("type":"text","fileUrl":null)"), "/payload/metadata/fileUrl",
                        "must be a string");

  // Fields of the client's own travel on.
  const auto extra = decodes<chat_message>(meta(R"("type":"text","mentions":["bob"],"x":{"y":1})"));
  CHECK(extra.payload.metadata.raw.text == R"({"type":"text","mentions":["bob"],"x":{"y":1}})");
}

// ---- payloads: taskAssign -----------------------------------------------------------------

TEST_CASE("payload: taskAssign", "[validation][payload]") {
  using rp::task_assign;
  const auto make = [](const std::string& members) {
    return frame("taskAssign", "{" + members + "}");
  };
  refused<task_assign>(make(R"("assigneeId":"b")"), "/payload/taskId", "is required");
  refused<task_assign>(make(R"("taskId":"t")"), "/payload/assigneeId", "is required");
  check_string_field<task_assign>(
      [&](const std::string& v) { return make("\"taskId\":" + v + ",\"assigneeId\":\"b\""); },
      "/payload/taskId", 1, 128);
  check_string_field<task_assign>(
      [&](const std::string& v) { return make("\"taskId\":\"t\",\"assigneeId\":" + v); },
      "/payload/assigneeId", 1, 128);
  check_priority_field<task_assign>(
      [&](const std::string& v) {
        return make("\"taskId\":\"t\",\"assigneeId\":\"b\",\"priority\":" + v);
      },
      "/payload/priority");
  CHECK(decodes<task_assign>(make(R"("taskId":"t","assigneeId":"b")")).payload.priority ==
        rp::priority::normal);
  CHECK(decodes<task_assign>(make(R"("taskId":"t","assigneeId":"b","priority":0)"))
            .payload.priority == rp::priority::critical);
}

// ---- payloads: taskUpdate -----------------------------------------------------------------

TEST_CASE("payload: taskUpdate", "[validation][payload]") {
  using rp::task_update;
  const auto make = [](const std::string& members) {
    return frame("taskUpdate", "{" + members + "}");
  };
  refused<task_update>(make(R"("status":"s","progress":1)"), "/payload/taskId", "is required");
  refused<task_update>(make(R"("taskId":"t","progress":1)"), "/payload/status", "is required");
  refused<task_update>(make(R"("taskId":"t","status":"s")"), "/payload/progress", "is required");
  check_string_field<task_update>(
      [&](const std::string& v) {
        return make("\"taskId\":" + v + ",\"status\":\"s\",\"progress\":1");
      },
      "/payload/taskId", 1, 128);
  check_string_field<task_update>(
      [&](const std::string& v) {
        return make("\"taskId\":\"t\",\"status\":" + v + ",\"progress\":1");
      },
      "/payload/status", 1, 64);

  const auto progress = [&](const std::string& v) {
    return make("\"taskId\":\"t\",\"status\":\"s\",\"progress\":" + v);
  };
  for (const char* wrong : {"\"50\"", "null", "true", "[50]", "{}"}) {
    refused<task_update>(progress(wrong), "/payload/progress", "must be a number");
  }
  for (const char* out :
       {"-1", "-0.5", "-1e-300", "100.5", "101", "1e308", "18446744073709551616"}) {
    refused<task_update>(progress(out), "/payload/progress", "must be between 0 and 100");
  }
  // The range includes both ends; progress is any number, not only an integer.
  CHECK(decodes<task_update>(progress("0")).payload.progress == 0);
  CHECK(decodes<task_update>(progress("-0")).payload.progress == 0);
  CHECK(decodes<task_update>(progress("100")).payload.progress == 100);
  CHECK(decodes<task_update>(progress("1e2")).payload.progress == 100);
  CHECK(decodes<task_update>(progress("42.5")).payload.progress == 42.5);
  CHECK(decodes<task_update>(progress("5e-324")).payload.progress > 0);

  check_object_field<task_update>(
      [&](const std::string& v) {
        return make("\"taskId\":\"t\",\"status\":\"s\",\"progress\":1,\"metadata\":" + v);
      },
      "/payload/metadata");
}

// ---- payloads: healthUpdate (a client may send one where the host allows it) --------------

TEST_CASE("payload: healthUpdate", "[validation][payload]") {
  using rp::health_update;
  const auto make = [](const std::string& members) {
    return frame("healthUpdate", "{" + members + "}");
  };
  refused<health_update>(make(""), "/payload/status", "is required");
  for (const char* wrong : {"1", "null", "[]"}) {
    refused<health_update>(make(std::string("\"status\":") + wrong), "/payload/status",
                           "must be a string");
  }
  refused<health_update>(make(R"("status":"fine")"), "/payload/status",
                         "must be one of ok, degraded, draining");
  CHECK(decodes<health_update>(make(R"("status":"degraded")")).payload.status ==
        rp::health_status::degraded);
  check_object_field<health_update>(
      [&](const std::string& v) { return make("\"status\":\"ok\",\"metrics\":" + v); },
      "/payload/metrics");
}

// ---- payloads of server → client types (what a client decodes) ----------------------------

TEST_CASE("payload: server → client types", "[validation][payload]") {
  refused<rp::chat_delivery>(frame("message", R"({"roomId":"r","content":"c","seq":1})"),
                             "/payload/senderId", "is required");
  refused<rp::chat_delivery>(frame("message", R"({"roomId":"r","content":"c","senderId":"a"})"),
                             "/payload/seq", "is required");
  refused<rp::chat_delivery>(
      frame("message", R"({"roomId":"r","content":"c","senderId":"a","seq":0})"), "/payload/seq",
      "must be between 1 and 9007199254740991");
  refused<rp::chat_delivery>(
      frame("message", R"({"roomId":"r","content":"c","senderId":"a","seq":9007199254740992})"),
      "/payload/seq", "must be between 1 and 9007199254740991");
  refused<rp::chat_delivery>(
      frame("message", R"({"roomId":"r","content":"c","senderId":"a","seq":1.5})"), "/payload/seq",
      "must be an integer");
  refused<rp::chat_delivery>(
      frame("message", R"({"roomId":"r","content":"c","senderId":"a","seq":9223372036854775808})"),
      "/payload/seq", "is out of range");

  const std::string ack = R"("messageId":"m","roomId":"","senderId":"a","timestamp":1)";
  for (const char* name : {"messageId", "roomId", "senderId", "timestamp"}) {
    INFO(name);
    // Drop one member from the acknowledgement.
    std::string members = ack;
    const std::string key = std::string("\"") + name + "\":";
    const auto at = members.find(key);
    auto end = members.find(',', at);
    members.erase(at, end == std::string::npos ? std::string::npos : end - at + 1);
    if (!members.empty() && members.back() == ',') members.pop_back();
    refused<rp::message_received>(frame("messageReceived", "{" + members + "}"),
                                  std::string("/payload/") + name, "is required");
  }
  refused<rp::message_received>(frame("messageReceived", "{" + ack + ",\"seq\":null}"),
                                "/payload/seq", "must be an integer");
  refused<rp::message_received>(
      frame("messageReceived", R"({"messageId":"m","roomId":"","senderId":"a","timestamp":"1"})"),
      "/payload/timestamp", "must be an integer");
  CHECK_FALSE(decodes<rp::message_received>(frame("messageReceived", "{" + ack + "}")).payload.seq);
  CHECK_FALSE(
      decodes<rp::message_received>(frame("messageReceived", "{" + ack + "}")).payload.recovered);
  CHECK(decodes<rp::message_received>(frame("messageReceived", "{" + ack + ",\"recovered\":false}"))
            .payload.recovered == false);
  for (const char* wrong : {"null", "0", "1", "\"true\"", "[]", "{}"}) {
    refused<rp::message_received>(
        frame("messageReceived", "{" + ack + ",\"recovered\":" + wrong + "}"), "/payload/recovered",
        "must be a boolean");
  }

  refused<rp::task_assign_delivery>(frame("taskAssign", R"({"taskId":"t","assigneeId":"b"})"),
                                    "/payload/assignerId", "is required");
  refused<rp::task_update_delivery>(
      frame("taskUpdate", R"({"taskId":"t","status":"s","progress":1})"), "/payload/senderId",
      "is required");

  refused<rp::error_payload>(frame("error", R"({"message":"m"})"), "/payload/code", "is required");
  refused<rp::error_payload>(frame("error", R"({"code":4002,"message":"m"})"), "/payload/code",
                             "must be a string");
  refused<rp::error_payload>(frame("error", R"({"code":"4002"})"), "/payload/message",
                             "is required");
  check_object_field<rp::error_payload>(
      [](const std::string& v) {
        return frame("error", "{\"code\":\"4002\",\"message\":\"m\",\"details\":" + v + "}");
      },
      "/payload/details");
}

TEST_CASE("paths escape '~' and '/' in member names (RFC 6901)", "[validation]") {
  rp::decode_limits lim;
  lim.max_depth = 2;
  const auto r = rp::decode<rp::join_room>(
      frame("joinRoom", R"({"roomId":"r"})", R"(,"a/b~c":{"x":[]})"), lim);
  REQUIRE_FALSE(r);
  CHECK(r.error.path == "/a~1b~0c/x");
  CHECK(r.error.reason == "nesting deeper than 2 levels");
}

TEST_CASE("a known field given twice is refused", "[validation][payload]") {
  // Readers disagree on which of two members counts; chat metadata is forwarded as it came, so
  // a client reading the last "type" would see a system message the server checked as text.
  refused<rp::chat_message>(
      chat_frame(R"("roomId":"r","content":"c","metadata":{"type":"text","type":"system"})"),
      "/payload/metadata/type", "must appear only once");
  refused<rp::chat_message>(
      chat_frame(
          R"("roomId":"r","content":"c","metadata":{"type":"file","fileUrl":"a","fileUrl":"b"})"),
      "/payload/metadata/fileUrl", "must appear only once");
  refused<rp::join_room>(frame("joinRoom", R"({"roomId":"a","roomId":"b"})"), "/payload/roomId",
                         "must appear only once");
  refused<rp::task_update>(
      frame("taskUpdate", R"({"taskId":"t","status":"s","progress":1,"progress":200})"),
      "/payload/progress", "must appear only once");
  // Fields nobody reads travel on, duplicates and all.
  const auto chat = decodes<rp::chat_message>(
      chat_frame(R"("roomId":"r","content":"c","metadata":{"type":"text","x":1,"x":2})"));
  CHECK(chat.payload.metadata.raw.text == R"({"type":"text","x":1,"x":2})");
  // Envelope fields: the first one is read.
  CHECK(decodes<rp::join_room>(join_frame(R"(,"priority":1,"priority":3)")).priority ==
        rp::priority::high);
}
