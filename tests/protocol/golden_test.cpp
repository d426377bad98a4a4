// The golden files document the protocol: each holds one message type exactly as it travels on
// the wire. Each must decode, re-encode to the same bytes, equal the value built in code, and
// that value must encode to the same bytes.

#include <catch2/catch.hpp>

#include <filesystem>
#include <set>
#include <string>

#include "protocol_test_support.hpp"
#include "roomwire/protocol.hpp"

namespace rp = roomwire::protocol;
using roomwire_test::read_golden;

namespace {

template <class P>
rp::envelope<P> make(P payload, std::int64_t timestamp, std::string message_id, rp::priority prio) {
  rp::envelope<P> env;
  env.payload = std::move(payload);
  env.timestamp = timestamp;
  env.message_id = std::move(message_id);
  env.priority = prio;
  return env;
}

template <class P>
void check_golden(const std::string& file, const rp::envelope<P>& expected) {
  INFO("golden file " << file);
  const std::string text = read_golden(file);
  const auto r = rp::decode<P>(text);
  INFO("refused at \"" << r.error.path << "\": " << r.error.reason);
  REQUIRE(r);
  CHECK(rp::encode(*r) == text);
  CHECK(r->payload == expected.payload);
  CHECK(r->timestamp == expected.timestamp);
  CHECK(r->message_id == expected.message_id);
  CHECK(r->priority == expected.priority);
  CHECK(rp::encode(expected) == text);
}

}  // namespace

TEST_CASE("golden: joinRoom and leaveRoom", "[golden]") {
  check_golden("joinRoom.json",
               make(rp::join_room{"lobby", {}}, 1764489600000, "c1f0a3e2-0001", rp::priority::normal));
  check_golden("leaveRoom.json",
               make(rp::leave_room{"lobby"}, 1764489660000, "c1f0a3e2-0009", rp::priority::normal));
}

TEST_CASE("golden: a rejoin with since and its recovered acknowledgement (§6)", "[golden]") {
  check_golden("joinRoom.since.json", make(rp::join_room{"lobby", 41}, 1764489700000,
                                           "c1f0a3e2-0010", rp::priority::normal));
  check_golden("messageReceived.recovered.json",
               make(rp::message_received{"c1f0a3e2-0010", "lobby", "alice", 1764489700004, 57,
                                         true},
                    1764489700004, "s-7d1e-0007", rp::priority::normal));
}

TEST_CASE("golden: message from a client, text and file", "[golden]") {
  rp::chat_message text;
  text.room_id = "lobby";
  text.content = "hello, room";
  check_golden("message.client.json",
               make(text, 1764489601000, "c1f0a3e2-0002", rp::priority::normal));

  // A file message whose metadata carries a field of the client's own (`width`): forwarded.
  rp::chat_message file;
  file.room_id = "design";
  file.content = "Latest mock-up";
  file.metadata.known.kind = rp::content_kind::file;
  file.metadata.known.file_url = "https://files.example.com/m/42.png";
  file.metadata.known.file_name = "mock-up v3.png";
  file.metadata.raw.text =
      R"({"type":"file","fileUrl":"https://files.example.com/m/42.png","fileName":"mock-up v3.png","width":1280})";
  check_golden("message.client.file.json",
               make(file, 1764489602000, "c1f0a3e2-0003", rp::priority::high));

  const auto decoded = rp::decode<rp::chat_message>(read_golden("message.client.file.json"));
  REQUIRE(decoded);
  CHECK(decoded->payload.metadata.raw.text == file.metadata.raw.text);
}

TEST_CASE("golden: message delivered to room members", "[golden]") {
  rp::chat_delivery d;
  d.room_id = "lobby";
  d.content = "hello, room";
  d.sender_id = "alice";
  d.seq = 1;
  check_golden("message.delivered.json",
               make(d, 1764489601003, "c1f0a3e2-0002", rp::priority::normal));
}

TEST_CASE("golden: messageReceived for a chat message and for a task", "[golden]") {
  check_golden("messageReceived.json",
               make(rp::message_received{"c1f0a3e2-0002", "lobby", "alice", 1764489601003, 1, std::nullopt},
                    1764489601003, "s-7d1e-0001", rp::priority::normal));
  check_golden("messageReceived.task.json",
               make(rp::message_received{"c1f0a3e2-0004", "", "alice", 1764489603001, std::nullopt, std::nullopt},
                    1764489603001, "s-7d1e-0002", rp::priority::high));
}

TEST_CASE("golden: taskAssign from a client and delivered", "[golden]") {
  check_golden("taskAssign.client.json",
               make(rp::task_assign{"build-1432", "bob", rp::priority::high}, 1764489603000,
                    "c1f0a3e2-0004", rp::priority::high));
  check_golden("taskAssign.delivered.json",
               make(rp::task_assign_delivery{"build-1432", "bob", rp::priority::high, "alice"},
                    1764489603001, "c1f0a3e2-0004", rp::priority::high));
}

TEST_CASE("golden: taskUpdate from a client and delivered", "[golden]") {
  const rp::raw_json metadata{R"({"step":"link","eta":{"seconds":90}})"};
  check_golden("taskUpdate.client.json",
               make(rp::task_update{"build-1432", "running", 42.5, metadata}, 1764489604000,
                    "b0b-0001", rp::priority::normal));
  check_golden("taskUpdate.delivered.json",
               make(rp::task_update_delivery{"build-1432", "running", 42.5, metadata, "bob"},
                    1764489604002, "b0b-0001", rp::priority::normal));
}

TEST_CASE("golden: error 4002 and 4001", "[golden]") {
  check_golden(
      "error.json",
      make(
          rp::error_payload{
              "4002",
              "invalid message: /payload/roomId must be a string",
              {R"({"messageId":"c1f0a3e2-0005","type":"joinRoom","path":"/payload/roomId","reason":"must be a string"})"}},
          1764489605001, "s-7d1e-0003", rp::priority::normal));
  check_golden("error.rateLimited.json",
               make(
                   rp::error_payload{
                       rp::to_wire(rp::error_code::rate_limited),
                       std::string(rp::describe(rp::error_code::rate_limited)),
                       {R"({"messageId":"c1f0a3e2-0100","type":"message","retryAfterMs":20})"}},
                   1764489606001, "s-7d1e-0004", rp::priority::normal));
}

TEST_CASE("golden: healthUpdate, periodic and draining", "[golden]") {
  check_golden(
      "healthUpdate.json",
      make(
          rp::health_update{
              rp::health_status::ok,
              {R"({"connections":3,"rooms":2,"messagesIn":120,"messagesOut":241,"messagesDropped":0,"uptimeSeconds":3600})"}},
          1764489610000, "s-7d1e-0005", rp::priority::low));
  check_golden(
      "healthUpdate.draining.json",
      make(
          rp::health_update{
              rp::health_status::draining,
              {R"({"connections":3,"rooms":2,"messagesIn":180,"messagesOut":362,"messagesDropped":0,"uptimeSeconds":3725})"}},
          1764489725000, "s-7d1e-0006", rp::priority::critical));
}

TEST_CASE("golden: the directory holds exactly the listed files", "[golden]") {
  std::set<std::string> on_disk;
  for (const auto& entry : std::filesystem::directory_iterator(roomwire_test::golden_dir())) {
    if (entry.path().extension() == ".json") on_disk.insert(entry.path().filename().string());
  }
  const std::set<std::string> listed(std::begin(roomwire_test::golden_files),
                                     std::end(roomwire_test::golden_files));
  CHECK(on_disk == listed);
}
