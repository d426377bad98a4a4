#pragma once

// A SAX filter between RapidJSON's iterative reader and the DOM it builds. It refuses, while
// parsing and so before the DOM spends memory on them:
//   - nesting deeper than the limit (objects and arrays each count one level);
//   - strings or keys holding a lone surrogate escape such as "\udc00", which RapidJSON 1.1.0
//     accepts and turns into bytes that are not UTF-8.
// It remembers the JSON Pointer of the offending value.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/rapidjson.h>

#include "roomwire/detail/json_pointer.hpp"

namespace roomwire::protocol::detail {

// A UTF-8 encoded surrogate code point (U+D800..U+DFFF) is ED A0..BF xx.
inline bool contains_surrogate(const char* s, std::size_t n) noexcept {
  for (std::size_t i = 0; i + 1 < n; ++i) {
    if (static_cast<unsigned char>(s[i]) == 0xED &&
        (static_cast<unsigned char>(s[i + 1]) & 0xE0) == 0xA0) {
      return true;
    }
  }
  return false;
}

template <class Handler>
class json_guard {
 public:
  struct level {
    bool is_array = false;
    std::size_t count = 0;
    std::string_view key;
  };

  json_guard(Handler& next, std::size_t max_depth, std::vector<level>& stack)
      : next_(next), max_depth_(max_depth), stack_(stack) {
    stack_.clear();
  }

  bool Null() { return value() && next_.Null(); }
  bool Bool(bool b) { return value() && next_.Bool(b); }
  bool Int(int i) { return value() && next_.Int(i); }
  bool Uint(unsigned u) { return value() && next_.Uint(u); }
  bool Int64(std::int64_t i) { return value() && next_.Int64(i); }
  bool Uint64(std::uint64_t u) { return value() && next_.Uint64(u); }
  bool Double(double d) { return value() && next_.Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) {
    return value() && next_.RawNumber(s, n, copy);
  }
  bool String(const char* s, rapidjson::SizeType n, bool copy) {
    if (!value()) return false;
    if (contains_surrogate(s, n)) return fail("contains a lone surrogate escape");
    return next_.String(s, n, copy);
  }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) {
    stack_.back().key = std::string_view(s, n);
    if (contains_surrogate(s, n)) return fail("key contains a lone surrogate escape");
    return next_.Key(s, n, copy);
  }
  bool StartObject() { return open(false) && next_.StartObject(); }
  bool EndObject(rapidjson::SizeType n) {
    stack_.pop_back();
    return next_.EndObject(n);
  }
  bool StartArray() { return open(true) && next_.StartArray(); }
  bool EndArray(rapidjson::SizeType n) {
    stack_.pop_back();
    return next_.EndArray(n);
  }

  bool failed() const noexcept { return !reason_.empty(); }
  const std::string& path() const noexcept { return path_; }
  const std::string& reason() const noexcept { return reason_; }

 private:
  // Called before every value: advances the index of an enclosing array.
  bool value() {
    if (!stack_.empty() && stack_.back().is_array) ++stack_.back().count;
    return true;
  }
  bool open(bool is_array) {
    value();
    if (stack_.size() >= max_depth_) {
      return fail("nesting deeper than " + std::to_string(max_depth_) + " levels");
    }
    stack_.push_back(level{is_array, 0, {}});
    return true;
  }
  bool fail(std::string reason) {
    path_.clear();
    for (const level& l : stack_) {
      if (l.is_array) {
        path_.push_back('/');
        path_ += std::to_string(l.count - 1);
      } else {
        append_pointer_segment(path_, l.key);
      }
    }
    reason_ = std::move(reason);
    return false;
  }

  Handler& next_;
  std::size_t max_depth_;
  std::vector<level>& stack_;
  std::string path_;
  std::string reason_;
};

}  // namespace roomwire::protocol::detail
