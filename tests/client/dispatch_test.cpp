// Received frames: typed handlers, the raw frame handler, invalid frames, and the order in which
// callbacks run.

#include <string>
#include <vector>

#include "client_fixture.hpp"

using namespace roomwire_test;

namespace {

// A type the host application defined (PROTOCOL.md §3, custom types).
struct score_update {
  static constexpr std::string_view type = "scoreUpdate";
  std::string game;
  std::int64_t points = 0;
  static constexpr auto fields() {
    return proto::fields(proto::field("game", &score_update::game),
                         proto::field("points", &score_update::points));
  }
};

}  // namespace

TEST_CASE("each server → client type reaches its typed handler") {
  client_test t;
  std::vector<std::string> seen;
  t.core.on<proto::chat_delivery>([&](const proto::envelope<proto::chat_delivery>& m) {
    seen.push_back("message " + m.payload.room_id + " " + m.payload.sender_id + " " +
                   m.payload.content + " " + std::to_string(m.payload.seq) + " " + m.message_id);
  });
  t.core.on<proto::message_received>([&](const proto::envelope<proto::message_received>& m) {
    seen.push_back("ack " + m.payload.message_id);
  });
  t.core.on<proto::task_assign_delivery>(
      [&](const proto::envelope<proto::task_assign_delivery>& m) {
        seen.push_back("assign " + m.payload.task_id + " " + m.payload.assigner_id);
      });
  t.core.on<proto::task_update_delivery>(
      [&](const proto::envelope<proto::task_update_delivery>& m) {
        seen.push_back("update " + m.payload.task_id + " " +
                       std::to_string(int(m.payload.progress)));
      });
  t.core.on<proto::error_payload>([&](const proto::envelope<proto::error_payload>& m) {
    seen.push_back("error " + m.payload.code);
  });
  t.core.on<proto::health_update>([&](const proto::envelope<proto::health_update>& m) {
    seen.push_back(std::string("health ") +
                   (m.payload.status == proto::health_status::draining ? "draining" : "other"));
  });
  t.core.on<score_update>([&](const proto::envelope<score_update>& m) {
    seen.push_back("score " + m.payload.game + " " + std::to_string(m.payload.points));
  });
  std::vector<std::string> raw;
  t.core.on_frame([&](std::string_view json) { raw.emplace_back(json); });
  t.connect_and_open();

  const std::vector<std::string> frames{
      R"({"type":"message","payload":{"roomId":"lobby","content":"hi","metadata":{"type":"text"},"senderId":"bob","seq":3},"timestamp":1,"messageId":"b-1","priority":2})",
      R"({"type":"messageReceived","payload":{"messageId":"x-1","roomId":"","senderId":"alice","timestamp":1},"timestamp":1,"messageId":"s-1","priority":2})",
      R"({"type":"taskAssign","payload":{"taskId":"T1","assigneeId":"alice","priority":1,"assignerId":"bob"},"timestamp":1,"messageId":"s-2","priority":1})",
      R"({"type":"taskUpdate","payload":{"taskId":"T1","status":"running","progress":40,"metadata":{},"senderId":"bob"},"timestamp":1,"messageId":"s-3","priority":2})",
      R"({"type":"error","payload":{"code":"4002","message":"bad","details":{"path":"","reason":"x"}},"timestamp":1,"messageId":"s-4","priority":2})",
      R"({"type":"healthUpdate","payload":{"status":"draining","metrics":{"connections":1}},"timestamp":1,"messageId":"s-5","priority":0})",
      R"({"type":"scoreUpdate","payload":{"game":"chess","points":12},"timestamp":1,"messageId":"s-6","priority":3})",
  };
  for (const auto& f : frames) t.receive(f);
  CHECK(seen == std::vector<std::string>{"message lobby bob hi 3 b-1", "ack x-1", "assign T1 bob",
                                         "update T1 40", "error 4002", "health draining",
                                         "score chess 12"});
  CHECK(raw == frames);  // exactly as received
}

TEST_CASE("a later on<T> replaces the handler, and unknown types reach only the raw handler") {
  client_test t;
  int first = 0, second = 0, raw = 0;
  t.core.on<proto::health_update>([&](const auto&) { ++first; });
  t.core.on<proto::health_update>([&](const auto&) { ++second; });
  t.core.on_frame([&](std::string_view) { ++raw; });
  t.connect_and_open();
  t.receive(
      R"({"type":"healthUpdate","payload":{"status":"ok"},"timestamp":1,"messageId":"s","priority":3})");
  t.receive(R"({"type":"somethingNew","payload":{},"timestamp":1,"messageId":"s","priority":3})");
  CHECK(first == 0);
  CHECK(second == 1);
  CHECK(raw == 2);
}

TEST_CASE("invalid frames go to on_invalid_frame") {
  client_test t;
  std::vector<std::string> invalid;
  t.core.on_invalid_frame([&](std::string_view json, const proto::decode_error& e) {
    invalid.push_back(std::string(json) + " @" + e.path);
  });
  int health = 0;
  t.core.on<proto::health_update>([&](const auto&) { ++health; });
  t.connect_and_open();
  t.receive("not json");
  t.receive(R"({"type":"healthUpdate","payload":{"status":"bogus"}})");
  CHECK(health == 0);
  CHECK(invalid == std::vector<std::string>{
                       "not json @",
                       R"({"type":"healthUpdate","payload":{"status":"bogus"}} @/payload/status)"});
}

TEST_CASE("callbacks are queued, never run inside a core call, and keep their order") {
  client_test t;
  std::vector<std::string> order;
  t.core.on<proto::message_received>(
      [&](const auto& m) { order.push_back("handler " + m.payload.message_id); });
  t.core.on_frame([&](std::string_view) { order.push_back("frame"); });
  t.connect_and_open();
  rw::send_options o;
  o.on_done = [&](const rw::send_result& r) {
    order.push_back("done " + r.message_id);
    throw std::runtime_error("a callback that throws");
  };
  auto h = t.core.send(proto::join_room{"lobby", {}}, o);
  proto::envelope<proto::message_received> ack;
  ack.payload.message_id = h.message_id();
  ack.message_id = "s-1";
  t.core.received(t.core.connection(), proto::encode(ack));
  CHECK(order.empty());
  CHECK_FALSE(h.ready());
  auto calls = t.core.take_callbacks();
  REQUIRE(calls.size() == 3);
  calls[0]();
  calls[1]();
  CHECK_THROWS(calls[2]());
  CHECK(order ==
        std::vector<std::string>{"frame", "handler " + h.message_id(), "done " + h.message_id()});
  REQUIRE(h.ready());  // even though the callback threw
  CHECK(h.get().ok());
}

namespace {

std::string chat(const std::string& sender, const std::string& room, const std::string& id,
                 int seq) {
  return R"({"type":"message","payload":{"roomId":")" + room + R"(","content":"c","metadata":{"type":"text"},"senderId":")" +
         sender + R"(","seq":)" + std::to_string(seq) + R"(},"timestamp":1,"messageId":")" + id +
         R"(","priority":2})";
}

}  // namespace

TEST_CASE("a delivery seen before is not passed on again (a restarted server's repeat)") {
  rw::client_core_options options;
  options.delivery_memory = 3;
  client_test t(options);
  std::vector<std::string> seen;
  t.core.on<proto::chat_delivery>([&](const proto::envelope<proto::chat_delivery>& m) {
    seen.push_back(m.payload.sender_id + " " + m.payload.room_id + " " + m.message_id + " " +
                   std::to_string(m.payload.seq));
  });
  t.core.on<proto::task_update_delivery>(
      [&](const proto::envelope<proto::task_update_delivery>& m) {
        seen.push_back("update " + m.message_id);
      });
  std::vector<std::string> raw;
  t.core.on_frame([&](std::string_view json) { raw.emplace_back(json); });
  t.connect_and_open();

  t.receive(chat("bob", "lobby", "b-1", 1));
  t.receive(chat("bob", "lobby", "b-1", 1));   // the same request again: dropped
  t.receive(chat("bob", "lobby", "b-1", 7));   // after a restart the seq differs: still dropped
  t.receive(chat("carol", "lobby", "b-1", 2));  // another sender's id that happens to match
  t.receive(chat("bob", "other", "b-1", 1));    // the same id in another room
  const std::string update =
      R"({"type":"taskUpdate","payload":{"taskId":"T","status":"s","progress":1,"metadata":{},"senderId":"bob"},"timestamp":1,"messageId":"b-1","priority":2})";
  t.receive(update);  // another type: the fourth key, and "bob lobby b-1" is forgotten
  t.receive(update);
  t.receive(chat("bob", "lobby", "b-1", 1));  // out of the memory of 3: passed on again
  CHECK(seen == std::vector<std::string>{"bob lobby b-1 1", "carol lobby b-1 2",
                                         "bob other b-1 1", "update b-1", "bob lobby b-1 1"});
  CHECK(raw.size() == 8);  // the raw handler sees every frame as received

  SECTION("delivery_memory 0 passes every delivery on") {
    rw::client_core_options off;
    off.delivery_memory = 0;
    client_test u(off);
    int count = 0;
    u.core.on<proto::chat_delivery>([&](const auto&) { ++count; });
    u.connect_and_open();
    u.receive(chat("bob", "lobby", "b-1", 1));
    u.receive(chat("bob", "lobby", "b-1", 1));
    CHECK(count == 2);
  }
}
