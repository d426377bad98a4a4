#pragma once

// Small helpers shared by the hub's source files. Internal: not installed.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "roomwire/core/hub.hpp"
#include "roomwire/core/types.hpp"
#include "roomwire/protocol/codec.hpp"
#include "roomwire/protocol/messages.hpp"

namespace roomwire::core::hub_detail {

inline constexpr std::string_view task_room_prefix = "task:";
inline constexpr std::string_view system_room_prefix = "system:";
inline constexpr std::string_view health_room = "system:health";
// The refusal of a request that needs other nodes while the shared broker is unreachable.
inline constexpr std::string_view cluster_unavailable =
    "cluster unavailable: the message was not delivered; send it again later";

inline bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// task: and system: rooms exist implicitly (§3): never 4003.
inline bool is_implicit_room(std::string_view room_id) {
  return starts_with(room_id, task_room_prefix) || starts_with(room_id, system_room_prefix);
}

// The client requests with a built-in rule.
enum class builtin_type : std::uint8_t { join, leave, chat, assign, update, health, none };
inline constexpr std::size_t builtin_count = 6;

inline builtin_type classify(std::string_view type) {
  if (type == protocol::chat_message::type) return builtin_type::chat;
  if (type == protocol::join_room::type) return builtin_type::join;
  if (type == protocol::leave_room::type) return builtin_type::leave;
  if (type == protocol::task_update::type) return builtin_type::update;
  if (type == protocol::task_assign::type) return builtin_type::assign;
  if (type == protocol::health_update::type) return builtin_type::health;
  return builtin_type::none;
}

// Acknowledgements and errors are never shed (§2).
inline protocol::priority answer_priority(protocol::priority request) {
  return std::min(request, protocol::priority::normal);
}

inline void append_hex(std::string& out, std::uint64_t v) {
  char digits[16];
  std::size_t n = 0;
  do {
    digits[n++] = "0123456789abcdef"[v & 15u];
    v >>= 4;
  } while (v != 0);
  while (n != 0) out.push_back(digits[--n]);
}

using by_type = std::map<std::string, hub_metrics::per_priority, std::less<>>;

inline hub_metrics::per_priority& slot_of(by_type& counts, std::string_view type) {
  auto it = counts.find(type);
  if (it == counts.end()) it = counts.emplace(std::string(type), hub_metrics::per_priority{}).first;
  return it->second;
}

inline void bump(by_type& counts, std::string_view type, protocol::priority p) {
  ++slot_of(counts, type)[static_cast<std::size_t>(p)];
}

// bump() for frame types, which are wire tags in static storage (frame::type): the slot of the
// last tag is remembered by its address. One message's frames are counted once per recipient in
// a row: a map lookup per delivery was about 150 of the hub's 480 instructions per recipient
// (bench/probe).
class frame_tally {
 public:
  explicit frame_tally(by_type& counts) noexcept : counts_(&counts) {}

  void bump(std::string_view static_type, protocol::priority p) {
    if (slot_ == nullptr || static_type.data() != last_.data() ||
        static_type.size() != last_.size()) {
      slot_ = &slot_of(*counts_, static_type);
      last_ = static_type;
    }
    ++(*slot_)[static_cast<std::size_t>(p)];
  }

 private:
  by_type* counts_;
  std::string_view last_;
  hub_metrics::per_priority* slot_ = nullptr;  // std::map nodes stay put
};

// Encodes an envelope into a new frame, the only copy every recipient's queue will share.
template <class P>
frame_ptr encode_frame(const protocol::envelope<P>& env, std::size_t reserve) {
  auto f = std::make_shared<frame>();
  f->priority = env.priority;
  f->type = protocol::type_of<P>();
  f->text.reserve(reserve);
  protocol::encode(env, f->text);
  return f;
}

// A JSON object written field by field (error details, health metrics).
class json_object {
 public:
  json_object() : writer_(sink_) { writer_.StartObject(); }
  json_object(const json_object&) = delete;
  json_object& operator=(const json_object&) = delete;

  json_object& string(const char* key, std::string_view value) {
    writer_.Key(key);
    writer_.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
    return *this;
  }
  json_object& integer(const char* key, std::int64_t value) {
    writer_.Key(key);
    writer_.Int64(value);
    return *this;
  }
  std::string finish() {
    writer_.EndObject();
    return std::move(text_);
  }

 private:
  std::string text_;
  protocol::detail::string_sink sink_{&text_};
  protocol::string_writer writer_;
};

}  // namespace roomwire::core::hub_detail
