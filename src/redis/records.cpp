#include "records.hpp"

#include <array>
#include <charconv>
#include <memory>
#include <utility>

namespace roomwire::redis::detail {

namespace {

template <class Int>
void append_decimal(std::string& out, Int value) {
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
  (void)ec;  // 24 characters hold every 64-bit integer
  append_field(out, std::string_view(digits, static_cast<std::size_t>(end - digits)));
}

template <class Int>
bool parse_whole(std::string_view text, Int& out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

void append_field(std::string& out, std::string_view value) {
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value.size());
  (void)ec;
  out.append(digits, end);
  out.push_back(':');
  out.append(value);
}

void append_field(std::string& out, std::int64_t value) { append_decimal(out, value); }
void append_field(std::string& out, std::uint64_t value) { append_decimal(out, value); }

std::string_view field_reader::text() {
  if (!ok_) return {};
  // A length has at most 20 digits; anything longer, or no colon, is not a field.
  const std::size_t colon = rest_.find(':');
  std::size_t length = 0;
  const bool framed = colon != std::string_view::npos && colon > 0 && colon <= 20 &&
                      parse_whole(rest_.substr(0, colon), length) &&
                      length <= rest_.size() - colon - 1;
  if (!framed) {
    ok_ = false;
    return {};
  }
  const std::string_view value = rest_.substr(colon + 1, length);
  rest_.remove_prefix(colon + 1 + length);
  return value;
}

std::int64_t field_reader::integer() {
  const std::string_view t = text();
  std::int64_t value = 0;
  if (ok_ && !parse_whole(t, value)) ok_ = false;
  return value;
}

std::uint64_t field_reader::unsigned_integer() {
  const std::string_view t = text();
  std::uint64_t value = 0;
  if (ok_ && !parse_whole(t, value)) ok_ = false;
  return value;
}

protocol::priority field_reader::priority() {
  const std::string_view t = text();
  if (!ok_ || t.size() != 1 || t[0] < '0' || t[0] >= '0' + protocol::priority_count) {
    ok_ = false;
    return protocol::priority::normal;
  }
  return static_cast<protocol::priority>(t[0] - '0');
}

bool field_reader::flag() {
  const std::string_view t = text();
  if (ok_ && t != "0" && t != "1") ok_ = false;
  return ok_ && t == "1";
}

std::string_view priority_text(protocol::priority p) {
  static constexpr std::string_view digits = "01234";
  return digits.substr(static_cast<std::size_t>(p), 1);
}

std::string_view static_type(std::string_view type) {
  static constexpr std::array<std::string_view, 8> known = {
      protocol::type_of<protocol::join_room>(),     protocol::type_of<protocol::leave_room>(),
      protocol::type_of<protocol::chat_delivery>(), protocol::type_of<protocol::message_received>(),
      protocol::type_of<protocol::task_assign>(),   protocol::type_of<protocol::task_update>(),
      protocol::type_of<protocol::error_payload>(), protocol::type_of<protocol::health_update>(),
  };
  for (const std::string_view k : known) {
    if (k == type) return k;
  }
  static constexpr std::string_view custom = "custom";
  return custom;
}

std::string encode_task(const core::task_info& task) {
  std::string out;
  append_field(out, task.task_id);
  append_field(out, task.assigner_id);
  append_field(out, task.assignee_id);
  append_field(out, task.status);
  char digits[32];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, task.progress);
  (void)ec;  // the shortest form of a double fits in 32 characters
  append_field(out, std::string_view(digits, static_cast<std::size_t>(end - digits)));
  return out;
}

std::optional<core::task_info> decode_task(field_reader& in) {
  core::task_info task;
  task.task_id.assign(in.text());
  task.assigner_id.assign(in.text());
  task.assignee_id.assign(in.text());
  task.status.assign(in.text());
  const std::string_view progress = in.text();
  if (!in.ok() || task.task_id.empty()) return std::nullopt;
  const auto [end, ec] =
      std::from_chars(progress.data(), progress.data() + progress.size(), task.progress);
  if (ec != std::errc() || end != progress.data() + progress.size()) return std::nullopt;
  return task;
}

std::string encode_ack(const protocol::message_received& ack) {
  std::string out;
  append_field(out, ack.room_id);
  if (ack.seq) {
    append_field(out, *ack.seq);
  } else {
    append_field(out, std::string_view());
  }
  append_field(out, ack.timestamp);
  return out;
}

std::optional<protocol::message_received> decode_ack(std::string_view text,
                                                     std::string_view user_id,
                                                     std::string_view message_id) {
  field_reader in(text);
  protocol::message_received ack;
  ack.room_id.assign(in.text());
  const std::string_view seq = in.text();
  ack.timestamp = in.integer();
  if (!in.finished()) return std::nullopt;
  if (!seq.empty()) {
    std::int64_t value = 0;
    if (!parse_whole(seq, value)) return std::nullopt;
    ack.seq = value;
  }
  ack.message_id.assign(message_id);
  ack.sender_id.assign(user_id);
  return ack;
}

core::frame_ptr make_frame(std::string text, protocol::priority priority, std::string_view type) {
  auto f = std::make_shared<core::frame>();
  f->text = std::move(text);
  f->priority = priority;
  f->type = static_type(type);
  return f;
}

}  // namespace roomwire::redis::detail
