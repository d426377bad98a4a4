#include "hub_fixture.hpp"

#include <algorithm>
#include <utility>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace roomwire_test {

namespace {
void append_string(std::string& out, std::string_view s) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  out.append(buffer.GetString(), buffer.GetSize());
}
}  // namespace

std::size_t fake_transport::wakes_for(core::session_id session) const {
  return static_cast<std::size_t>(std::count(wakes.begin(), wakes.end(), session));
}

std::size_t fake_transport::closes_for(core::session_id session) const {
  return static_cast<std::size_t>(std::count_if(
      closes.begin(), closes.end(), [&](const close_call& c) { return c.session == session; }));
}

close_call fake_transport::close_of(core::session_id session) const {
  REQUIRE(closes_for(session) == 1);
  return *std::find_if(closes.begin(), closes.end(),
                       [&](const close_call& c) { return c.session == session; });
}

rapidjson::Document received::json() const {
  rapidjson::Document doc;
  doc.Parse(frame->text.data(), frame->text.size());
  REQUIRE(!doc.HasParseError());
  return doc;
}

std::string error_view::str(const char* key) const {
  INFO("details." << key);
  REQUIRE(details.HasMember(key));
  REQUIRE(details[key].IsString());
  return details[key].GetString();
}

std::int64_t error_view::integer(const char* key) const {
  INFO("details." << key);
  REQUIRE(details.HasMember(key));
  REQUIRE(details[key].IsInt64());
  return details[key].GetInt64();
}

received read(core::frame_ptr f) {
  REQUIRE(f);
  received r;
  proto::inbound_frame parsed;
  INFO(f->text);
  REQUIRE(parsed.parse(f->text));
  r.type.assign(parsed.type());
  r.message_id.assign(parsed.header().message_id);
  r.priority = parsed.header().priority;
  REQUIRE(parsed.header().timestamp.has_value());
  r.timestamp = *parsed.header().timestamp;
  // What the hub recorded about the frame must match the frame.
  CHECK(f->priority == r.priority);
  CHECK(f->type == r.type);
  r.frame = std::move(f);
  return r;
}

hub_test::hub_test(core::hub_options options, core::hub_policies policies,
                   std::shared_ptr<core::broker> broker)
    : hub(std::make_unique<core::hub>(std::move(options), std::move(policies), transport, clock,
                                      std::move(broker))) {}

core::session_id hub_test::open(const std::string& user, std::vector<std::string> roles) {
  return hub->open(core::identity{user, std::move(roles)});
}

std::vector<received> hub_test::pop_all(core::session_id session) {
  std::vector<received> out;
  while (core::frame_ptr f = hub->pop(session)) out.push_back(read(std::move(f)));
  return out;
}

received hub_test::pop_one(core::session_id session) {
  auto all = pop_all(session);
  REQUIRE(all.size() == 1);
  return std::move(all.front());
}

void hub_test::expect_nothing(core::session_id session) {
  for (const auto& r : pop_all(session)) FAIL_CHECK("unexpected frame: " << r.frame->text);
}

void hub_test::join(core::session_id session, std::string_view room) {
  // A fresh id each time: a repeated one would be answered from the dedup memory.
  const std::string id = "join-" + std::string(room) + "-" + std::to_string(++joins_);
  send(session, join_req(room, id));
  const auto frames = pop_all(session);
  REQUIRE(!frames.empty());
  expect_ack(frames.back(), id);
}

core::session_id hub_test::member(const std::string& user, std::string_view room,
                                  std::vector<std::string> roles) {
  const auto id = open(user, std::move(roles));
  join(id, room);
  return id;
}

std::string request(std::string_view type, std::string_view payload_json,
                    std::string_view message_id, int priority) {
  std::string out = R"({"type":)";
  append_string(out, type);
  out += R"(,"payload":)";
  out += payload_json;
  if (!message_id.empty()) {
    out += R"(,"messageId":)";
    append_string(out, message_id);
  }
  if (priority >= 0) out += R"(,"priority":)" + std::to_string(priority);
  out += "}";
  return out;
}

std::string join_req(std::string_view room, std::string_view message_id) {
  std::string payload = R"({"roomId":)";
  append_string(payload, room);
  payload += "}";
  return request("joinRoom", payload, message_id);
}

std::string leave_req(std::string_view room, std::string_view message_id) {
  std::string payload = R"({"roomId":)";
  append_string(payload, room);
  payload += "}";
  return request("leaveRoom", payload, message_id);
}

std::string chat_req(std::string_view room, std::string_view content, std::string_view message_id,
                     int priority, std::string_view metadata_json) {
  std::string payload = R"({"roomId":)";
  append_string(payload, room);
  payload += R"(,"content":)";
  append_string(payload, content);
  if (!metadata_json.empty()) {
    payload += R"(,"metadata":)";
    payload += metadata_json;
  }
  payload += "}";
  return request("message", payload, message_id, priority);
}

std::string assign_req(std::string_view task, std::string_view assignee,
                       std::string_view message_id, int priority, int task_priority) {
  std::string payload = R"({"taskId":)";
  append_string(payload, task);
  payload += R"(,"assigneeId":)";
  append_string(payload, assignee);
  if (task_priority >= 0) payload += R"(,"priority":)" + std::to_string(task_priority);
  payload += "}";
  return request("taskAssign", payload, message_id, priority);
}

std::string update_req(std::string_view task, std::string_view status, double progress,
                       std::string_view message_id, std::string_view metadata_json) {
  std::string payload = R"({"taskId":)";
  append_string(payload, task);
  payload += R"(,"status":)";
  append_string(payload, status);
  rapidjson::StringBuffer number;
  rapidjson::Writer<rapidjson::StringBuffer> writer(number);
  writer.Double(progress);
  payload += R"(,"progress":)";
  payload.append(number.GetString(), number.GetSize());
  if (!metadata_json.empty()) {
    payload += R"(,"metadata":)";
    payload += metadata_json;
  }
  payload += "}";
  return request("taskUpdate", payload, message_id);
}

proto::message_received expect_ack(const received& r, std::string_view message_id) {
  INFO(r.frame->text);
  REQUIRE(r.type == "messageReceived");
  const auto ack = r.as<proto::message_received>();
  CHECK(ack.payload.message_id == message_id);
  // Every server envelope but a delivery has a fresh server-made messageId.
  CHECK(r.message_id != message_id);
  CHECK(r.message_id.rfind("s-", 0) == 0);
  return ack.payload;
}

error_view expect_error(const received& r, std::string_view code) {
  INFO(r.frame->text);
  REQUIRE(r.type == "error");
  const auto env = r.as<proto::error_payload>();
  CHECK(env.payload.code == code);
  CHECK(r.message_id.rfind("s-", 0) == 0);
  error_view view;
  view.code = env.payload.code;
  view.message = env.payload.message;
  const std::string details = env.payload.details.empty() ? "{}" : env.payload.details.text;
  view.details.Parse(details.data(), details.size());
  REQUIRE(!view.details.HasParseError());
  REQUIRE(view.details.IsObject());
  return view;
}

core::hub_options unlimited() {
  core::hub_options o;
  o.rate_per_second = 0;
  return o;
}

}  // namespace roomwire_test
