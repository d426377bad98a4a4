#pragma once

// The JSON codec: decode with validation into typed envelopes, encode by streaming.
//
//   roomwire::protocol::inbound_frame frame;
//   if (!frame.parse(text)) { /* frame.error(): path + reason */ }
//   if (frame.type() == join_room::type) {
//     envelope<join_room> env;
//     if (!frame.decode(env)) { /* frame.error() */ }
//   }
//
//   std::string json = roomwire::protocol::encode(env);

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include "roomwire/detail/json_guard.hpp"
#include "roomwire/detail/utf8.hpp"
#include "roomwire/detail/value_codec.hpp"
#include "roomwire/protocol/envelope.hpp"
#include "roomwire/protocol/schema.hpp"

namespace roomwire::protocol {

using detail::string_writer;

struct decode_limits {
  // Objects and arrays each count one level; the envelope object is level 1.
  std::size_t max_depth = 32;
};

// The envelope fields of a parsed frame. `type` and `message_id` view the frame's own buffer.
struct envelope_header {
  std::string_view type;
  std::string_view message_id;            // empty when absent
  std::optional<std::int64_t> timestamp;  // absent: the receiver stamps its own time
  protocol::priority priority = protocol::priority::normal;
};

// One inbound text frame, parsed once; its payload can then be decoded by the type its `type`
// names. Reuse one object per connection: its buffers are kept between frames.
class inbound_frame {
 public:
  inbound_frame() = default;
  inbound_frame(const inbound_frame&) = delete;
  inbound_frame& operator=(const inbound_frame&) = delete;

  // Parses `text` and validates the envelope fields. On false, error() says why.
  bool parse(std::string_view text, const decode_limits& lim = {}) {
    // Cleared, not reassigned: their buffers are kept for the next refusal.
    error_.path.clear();
    error_.reason.clear();
    error_.type.clear();
    error_.message_id.clear();
    identity_pending_ = false;
    header_ = envelope_header{};
    payload_ = nullptr;  // set again only when this frame parses: never a stale pointer
    dom_payload_ = nullptr;
    // UTF-8 is checked in one quick pass over the whole frame (surrogates and overlong forms
    // included) rather than by RapidJSON character by character.
    if (!detail::is_valid_utf8(text.data(), text.size())) return fail("", "is not valid UTF-8");
    rapidjson::ParseResult result;
    const std::size_t consumed = parse_text(text, lim, result);
    if (!guard_reason_.empty()) return fail(std::move(guard_path_), std::move(guard_reason_));
    if (result.IsError()) {
      if (result.Code() == rapidjson::kParseErrorStringInvalidEncoding) {
        return fail("", "is not valid UTF-8");
      }
      return fail("", std::string("is not valid JSON: ") +
                          rapidjson::GetParseError_En(result.Code()) + " (at byte " +
                          std::to_string(result.Offset()) + ")");
    }
    // The in-situ reader stops at a NUL byte: anything after one is trailing garbage.
    if (consumed != text.size()) {
      return fail("",
                  std::string("is not valid JSON: ") +
                      rapidjson::GetParseError_En(rapidjson::kParseErrorDocumentRootNotSingular) +
                      " (at byte " + std::to_string(consumed) + ")");
    }
    const detail::json_token* const root = tape_.data();
    if (!root->is_object()) return fail("", "must be a JSON object");

    // One pass over the envelope's members; as before, the first of a repeated one counts.
    const detail::json_token* type_v = nullptr;
    const detail::json_token* id_v = nullptr;
    const detail::json_token* payload_v = nullptr;
    const detail::json_token* ts_v = nullptr;
    const detail::json_token* prio_v = nullptr;
    for (const detail::json_token *key = root->first(), *end = root->last(); key != end;) {
      const detail::json_token* value = key + 1;
      const std::string_view name = key->text();
      const detail::json_token** slot = nullptr;
      switch (name.size()) {
        case 4:
          if (std::memcmp(name.data(), "type", 4) == 0) slot = &type_v;
          break;
        case 7:
          if (std::memcmp(name.data(), "payload", 7) == 0) slot = &payload_v;
          break;
        case 8:
          if (std::memcmp(name.data(), "priority", 8) == 0) slot = &prio_v;
          break;
        case 9:
          if (std::memcmp(name.data(), "messageId", 9) == 0) {
            slot = &id_v;
          } else if (std::memcmp(name.data(), "timestamp", 9) == 0) {
            slot = &ts_v;
          }
          break;
        default:
          break;
      }
      if (slot != nullptr && *slot == nullptr) *slot = value;
      key = value->next();
    }

    // What the frame says about itself, read leniently first so that errors can name it.
    if (type_v != nullptr && type_v->is_string()) header_.type = type_v->text();
    if (id_v != nullptr && id_v->is_string()) header_.message_id = id_v->text();

    if (type_v == nullptr) return refuse("/type", "is required");
    if (!type_v->is_string()) return refuse("/type", "must be a string");
    if (payload_v == nullptr) return refuse("/payload", "is required");
    if (!payload_v->is_object()) return refuse("/payload", "must be an object");

    if (ts_v != nullptr) {
      std::int64_t ts = 0;
      limits lim_ts;
      lim_ts.min_value = 0;
      detail::path_node node{nullptr, "timestamp", 0, false};
      if (!detail::decode_value(ts_v, ts, lim_ts, &node, error_)) return identify();
      header_.timestamp = ts;
    }
    if (id_v != nullptr) {
      limits lim_id;
      lim_id.min_length = 1;
      lim_id.max_length = 128;
      detail::path_node node{nullptr, "messageId", 0, false};
      if (!id_v->is_string()) return refuse("/messageId", "must be a string");
      if (!detail::check_length(id_v->str, id_v->size, lim_id, &node, error_)) {
        return identify(false);  // not a usable id to answer with
      }
    }
    if (prio_v != nullptr) {
      detail::path_node node{nullptr, "priority", 0, false};
      if (!detail::decode_value(prio_v, header_.priority, limits{}, &node, error_)) {
        return identify();
      }
    }
    payload_ = payload_v;
    identity_pending_ = true;  // error().type and .message_id, copied if anyone asks
    return true;
  }

  // Decodes the payload as P (whose wire tag should equal type()). On false, error() says why.
  template <class P>
  bool decode(envelope<P>& out) {
    if (payload_ == nullptr) return fail("", "no frame was parsed");
    detail::path_node node{nullptr, "payload", 0, false};
    if (!detail::decode_object(payload_, out.payload, &node, error_)) return identify();
    out.timestamp = header_.timestamp.value_or(0);
    out.message_id.assign(header_.message_id);
    out.priority = header_.priority;
    return true;
  }

  const envelope_header& header() const noexcept { return header_; }
  std::string_view type() const noexcept { return header_.type; }
  const decode_error& error() const noexcept {
    if (identity_pending_) {
      error_.type.assign(header_.type);
      error_.message_id.assign(header_.message_id);
      identity_pending_ = false;
    }
    return error_;
  }
  // The payload object as parsed, as a RapidJSON value, for hosts that want to read it
  // themselves; null when the last frame was refused. Built on the first call for each frame
  // (the codec itself reads a lighter form), and valid until the next parse().
  const rapidjson::Value* payload() const noexcept {
    if (payload_ == nullptr) return nullptr;
    if (dom_payload_ == nullptr) build_dom();
    return dom_payload_;
  }

 private:
  bool fail(std::string path, std::string reason) {
    error_.path = std::move(path);
    error_.reason = std::move(reason);
    return false;
  }
  // A refusal of a frame whose envelope could be read: error() also names the frame.
  bool identify(bool with_message_id = true) {
    identity_pending_ = false;
    error_.type.assign(header_.type);
    if (with_message_id) error_.message_id.assign(header_.message_id);
    return false;
  }
  bool refuse(std::string path, std::string reason) {
    fail(std::move(path), std::move(reason));
    return identify();
  }

  // Iterative: no recursion, whatever the input. In place: strings point into buffer_.
  // Numbers as text: json_guard converts them exactly (see RawNumber there).
  static constexpr unsigned parse_flags = rapidjson::kParseInsituFlag |
                                          rapidjson::kParseIterativeFlag |
                                          rapidjson::kParseNumbersAsStringsFlag;

  // Parses `text` into tape_; returns where the reader stopped (text.size() unless at a NUL
  // byte). A refusal of the guard is left in guard_path_ and guard_reason_.
  std::size_t parse_text(std::string_view text, const decode_limits& lim,
                         rapidjson::ParseResult& result) {
    // A tape grown by one big frame is not kept for the small ones that follow.
    if (tape_.capacity() > max_kept_tokens) std::vector<detail::json_token>().swap(tape_);
    buffer_.assign(text.data(), text.size());
    // Only an escape can spell a surrogate (raw ones failed the UTF-8 check).
    const bool escapes = std::memchr(text.data(), '\\', text.size()) != nullptr;
    {
      // Well-formed frames: the quick reader builds the tape RapidJSON's reader would, in about
      // half the instructions. It gives up on anything it is not sure of, and on every malformed
      // frame; its tape and its writes into buffer_ are then discarded and RapidJSON reads the
      // text again, so every refusal (and its path and reason) is still RapidJSON's and the
      // guard's. A refused frame is read at most twice.
      detail::json_guard guard(tape_, lim.max_depth, escapes);
      if (detail::quick_reader<detail::json_guard>(&buffer_[0], buffer_.size(), guard).read()) {
        guard_reason_.clear();
        result = rapidjson::ParseResult();
        return text.size();
      }
    }
    buffer_.assign(text.data(), text.size());
    detail::json_guard guard(tape_, lim.max_depth, escapes);
    rapidjson::InsituStringStream stream(&buffer_[0]);
    result = reader_.Parse<parse_flags>(stream, guard);
    if (guard.failed()) {
      guard_path_ = guard.path();
      guard_reason_ = guard.reason();
    } else {
      guard_reason_.clear();
    }
    return stream.Tell();
  }

  // Replays the tape into doc_ (strings stay in buffer_) and finds the payload in it.
  void build_dom() const noexcept {
    doc_.SetNull();
    allocator_.Clear();
    auto replay = [this](rapidjson::Document& target) {
      detail::write_tape(target, tape_.data());
      return true;
    };
    doc_.Populate(replay);
    // The envelope's first "payload" member, the one parse() validated.
    dom_payload_ = &doc_.FindMember("payload")->value;
  }

  static constexpr std::size_t max_kept_tokens = 4096;
  static constexpr std::size_t inline_bytes = 2048;
  std::string buffer_;  // the frame's text, parsed in place: strings point into it
  std::string guard_path_;
  std::string guard_reason_;
  std::vector<detail::json_token> tape_;
  rapidjson::Reader reader_;  // kept: its stack is reused, not allocated per frame
  envelope_header header_;
  const detail::json_token* payload_ = nullptr;
  // What error() returns. Once a frame is accepted, its type and message_id are copied into it
  // on the first call to error() (or on a refusal by decode()), not on every frame.
  mutable decode_error error_;
  mutable bool identity_pending_ = false;
  // payload(): a DOM built on demand.
  alignas(8) mutable char pool_storage_[inline_bytes];
  mutable rapidjson::MemoryPoolAllocator<> allocator_{pool_storage_, inline_bytes};
  mutable rapidjson::Document doc_{&allocator_};
  mutable const rapidjson::Value* dom_payload_ = nullptr;
};

// The outcome of a one-shot decode: the envelope or the error.
template <class P>
struct decode_result {
  std::optional<envelope<P>> value;
  decode_error error;

  explicit operator bool() const noexcept { return value.has_value(); }
  const envelope<P>& operator*() const { return *value; }
  const envelope<P>* operator->() const { return &*value; }
};

// Parses `text` and decodes it as P. A frame of another type is refused at `/type`.
template <class P>
decode_result<P> decode(std::string_view text, const decode_limits& lim = {}) {
  decode_result<P> result;
  inbound_frame frame;
  if (!frame.parse(text, lim)) {
    result.error = frame.error();
    return result;
  }
  if (frame.type() != type_of<P>()) {
    result.error = frame.error();
    result.error.path = "/type";
    result.error.reason = "expected \"" + std::string(type_of<P>()) + "\"";
    return result;
  }
  envelope<P> env;
  if (!frame.decode(env)) {
    result.error = frame.error();
    return result;
  }
  result.value = std::move(env);
  return result;
}

// Writes the payload object alone.
template <class P>
void encode_payload(const P& payload, std::string& out) {
  detail::json_writer writer(out);
  detail::encode_object(writer, payload);
}

namespace detail {
// What every envelope of type P begins with after its "{": `"type":"<type>","payload":`, made
// at compile time.
template <class P>
struct envelope_head {
  static constexpr std::string_view type = type_of<P>();
  static_assert(needs_no_escape(type), "roomwire: a type name that JSON must escape");
  static constexpr std::string_view before = "\"type\":\"";
  static constexpr std::string_view after = "\",\"payload\":";
  static constexpr std::array<char, before.size() + type.size() + after.size()> text = [] {
    std::array<char, before.size() + type.size() + after.size()> head{};
    std::size_t at = 0;
    for (const char c : before) head[at++] = c;
    for (const char c : type) head[at++] = c;
    for (const char c : after) head[at++] = c;
    return head;
  }();
};
}  // namespace detail

// Appends the envelope's JSON to `out`, with the fields in the order type, payload, timestamp,
// messageId, priority.
template <class P>
void encode(const envelope<P>& env, std::string& out) {
  detail::json_writer writer(out);
  writer.StartObject();
  writer.KnownKey(detail::envelope_head<P>::text);  // "type", its value, and "payload"
  detail::encode_object(writer, env.payload);
  writer.KnownKey("\"timestamp\":");
  writer.Int64(env.timestamp);
  writer.KnownKey("\"messageId\":");
  writer.String(env.message_id.data(), static_cast<rapidjson::SizeType>(env.message_id.size()));
  writer.KnownKey("\"priority\":");
  writer.Int(static_cast<int>(env.priority));
  writer.EndObject();
}

template <class P>
std::string encode(const envelope<P>& env) {
  std::string out;
  out.reserve(256);
  encode(env, out);
  return out;
}

}  // namespace roomwire::protocol
