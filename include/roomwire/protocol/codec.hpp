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

#include <cstddef>
#include <cstdint>
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
    error_ = decode_error{};
    header_ = envelope_header{};
    payload_ = nullptr;  // set again only when this frame parses: never a stale pointer
    // UTF-8 is checked in one quick pass over the whole frame (surrogates and overlong forms
    // included) rather than by RapidJSON character by character.
    if (!detail::is_valid_utf8(text.data(), text.size())) return fail("", "is not valid UTF-8");
    parsed_text parsed;
    parse_text(text, lim, parsed);
    const rapidjson::ParseResult& result = parsed.result;
    const std::size_t consumed = parsed.consumed;
    std::string& guard_path = parsed.guard_path;
    std::string& guard_reason = parsed.guard_reason;
    if (!guard_reason.empty()) return fail(std::move(guard_path), std::move(guard_reason));
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
    const rapidjson::Value& root = doc_;
    if (!root.IsObject()) return fail("", "must be a JSON object");

    // What the frame says about itself, read leniently first so that errors can name it.
    const auto type_it = root.FindMember("type");
    const bool has_type = type_it != root.MemberEnd();
    if (has_type && type_it->value.IsString()) {
      header_.type = std::string_view(type_it->value.GetString(), type_it->value.GetStringLength());
      error_.type.assign(header_.type);
    }
    const auto id_it = root.FindMember("messageId");
    const bool has_id = id_it != root.MemberEnd();
    if (has_id && id_it->value.IsString()) {
      header_.message_id =
          std::string_view(id_it->value.GetString(), id_it->value.GetStringLength());
      error_.message_id.assign(header_.message_id);
    }

    if (!has_type) return fail("/type", "is required");
    if (!type_it->value.IsString()) return fail("/type", "must be a string");
    const auto payload_it = root.FindMember("payload");
    if (payload_it == root.MemberEnd()) return fail("/payload", "is required");
    if (!payload_it->value.IsObject()) return fail("/payload", "must be an object");

    const auto ts_it = root.FindMember("timestamp");
    if (ts_it != root.MemberEnd()) {
      std::int64_t ts = 0;
      limits lim_ts;
      lim_ts.min_value = 0;
      detail::path_node node{nullptr, "timestamp", 0, false};
      if (!detail::decode_value(ts_it->value, ts, lim_ts, &node, error_)) return false;
      header_.timestamp = ts;
    }
    if (has_id) {
      limits lim_id;
      lim_id.min_length = 1;
      lim_id.max_length = 128;
      detail::path_node node{nullptr, "messageId", 0, false};
      if (!id_it->value.IsString()) return fail("/messageId", "must be a string");
      if (!detail::check_length(id_it->value, lim_id, &node, error_)) {
        error_.message_id.clear();  // not a usable id to answer with
        return false;
      }
    }
    const auto prio_it = root.FindMember("priority");
    if (prio_it != root.MemberEnd()) {
      detail::path_node node{nullptr, "priority", 0, false};
      if (!detail::decode_value(prio_it->value, header_.priority, limits{}, &node, error_)) {
        return false;
      }
    }
    payload_ = &payload_it->value;
    return true;
  }

  // Decodes the payload as P (whose wire tag should equal type()). On false, error() says why.
  template <class P>
  bool decode(envelope<P>& out) {
    if (payload_ == nullptr) return fail("", "no frame was parsed");
    detail::path_node node{nullptr, "payload", 0, false};
    if (!detail::decode_object(*payload_, out.payload, &node, error_)) return false;
    out.timestamp = header_.timestamp.value_or(0);
    out.message_id.assign(header_.message_id);
    out.priority = header_.priority;
    return true;
  }

  const envelope_header& header() const noexcept { return header_; }
  std::string_view type() const noexcept { return header_.type; }
  const decode_error& error() const noexcept { return error_; }
  // The payload object as parsed, for hosts that want to read it themselves.
  const rapidjson::Value* payload() const noexcept { return payload_; }

 private:
  bool fail(std::string path, std::string reason) {
    error_.path = std::move(path);
    error_.reason = std::move(reason);
    return false;
  }

  // Iterative: no recursion, whatever the input. In place: strings point into buffer_.
  // Numbers as text: json_guard converts them exactly (see RawNumber there).
  static constexpr unsigned parse_flags = rapidjson::kParseInsituFlag |
                                          rapidjson::kParseIterativeFlag |
                                          rapidjson::kParseNumbersAsStringsFlag;

  struct parsed_text {
    rapidjson::ParseResult result;
    std::size_t consumed = 0;  // where the reader stopped: text.size() unless at a NUL byte
    std::string guard_path;
    std::string guard_reason;
  };

  // Parses `text` into doc_; true when all of it parsed.
  bool parse_text(std::string_view text, const decode_limits& lim, parsed_text& out) {
    doc_.SetNull();
    allocator_.Clear();
    buffer_.assign(text.data(), text.size());
    out = parsed_text{};
    auto generate = [&](rapidjson::Document& target) {
      detail::json_guard<rapidjson::Document> guard(target, lim.max_depth, levels_);
      rapidjson::InsituStringStream stream(buffer_.data());
      out.result = reader_.Parse<parse_flags>(stream, guard);
      out.consumed = stream.Tell();
      if (guard.failed()) {
        out.guard_path = guard.path();
        out.guard_reason = guard.reason();
      }
      return !out.result.IsError();
    };
    doc_.Populate(generate);
    return !out.result.IsError() && out.consumed == text.size();
  }

  static constexpr std::size_t inline_bytes = 2048;
  std::string buffer_;  // the frame's text, parsed in place: strings point into it
  alignas(8) char pool_storage_[inline_bytes];
  rapidjson::MemoryPoolAllocator<> allocator_{pool_storage_, inline_bytes};
  rapidjson::Document doc_{&allocator_};
  std::vector<detail::json_guard<rapidjson::Document>::level> levels_;
  rapidjson::Reader reader_;  // kept: its stack is reused, not allocated per frame
  envelope_header header_;
  const rapidjson::Value* payload_ = nullptr;
  decode_error error_;
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
  detail::string_sink sink{&out};
  string_writer writer(sink);
  detail::encode_object(writer, payload);
}

// Appends the envelope's JSON to `out`, with the fields in the order type, payload, timestamp,
// messageId, priority.
template <class P>
void encode(const envelope<P>& env, std::string& out) {
  detail::string_sink sink{&out};
  string_writer writer(sink);
  constexpr std::string_view type = type_of<P>();
  writer.StartObject();
  writer.Key("type", 4);
  writer.String(type.data(), static_cast<rapidjson::SizeType>(type.size()));
  writer.Key("payload", 7);
  detail::encode_object(writer, env.payload);
  writer.Key("timestamp", 9);
  writer.Int64(env.timestamp);
  writer.Key("messageId", 9);
  writer.String(env.message_id.data(), static_cast<rapidjson::SizeType>(env.message_id.size()));
  writer.Key("priority", 8);
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
