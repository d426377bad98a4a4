#pragma once

// A SAX filter between RapidJSON's iterative reader and the DOM it builds. It refuses, while
// parsing and so before the DOM spends memory on them:
//   - nesting deeper than the limit (objects and arrays each count one level);
//   - strings or keys holding a lone surrogate escape such as "\udc00", which RapidJSON 1.1.0
//     accepts and turns into bytes that are not UTF-8.
// It remembers the JSON Pointer of the offending value.

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/rapidjson.h>

#include "roomwire/detail/json_pointer.hpp"

namespace roomwire::protocol::detail {

// A UTF-8 encoded surrogate code point (U+D800..U+DFFF) is ED A0..BF xx. memchr skips to the
// rare ED bytes, instead of a loop over every byte of every string.
inline bool contains_surrogate(const char* s, std::size_t n) noexcept {
  const char* const end = s + n;
  for (const char* p = s; p + 1 < end; ++p) {
    p = static_cast<const char*>(std::memchr(p, 0xED, static_cast<std::size_t>(end - 1 - p)));
    if (p == nullptr) return false;
    if ((static_cast<unsigned char>(p[1]) & 0xE0) == 0xA0) return true;
  }
  return false;
}

// Roughly, the power of ten of a JSON number's first significant digit (positive: >= 1).
// Only its sign matters: it tells an overflow from an underflow.
inline long decimal_magnitude(const char* p, const char* end) noexcept {
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (p != end && *p == '-') ++p;
  long integer_digits = 0;
  long leading_zeros = 0;
  bool significant = false;
  for (; p != end && digit(*p); ++p) {
    if (*p != '0' || significant) {
      significant = true;
      ++integer_digits;
    }
  }
  if (p != end && *p == '.') {
    for (++p; p != end && digit(*p); ++p) {
      if (significant) continue;
      if (*p == '0') {
        ++leading_zeros;
      } else {
        significant = true;
      }
    }
  }
  long exponent = 0;
  if (p != end && (*p == 'e' || *p == 'E')) {
    ++p;
    const bool negative = p != end && *p == '-';
    if (p != end && (*p == '-' || *p == '+')) ++p;
    for (; p != end && digit(*p); ++p) exponent = std::min(exponent * 10 + (*p - '0'), 1000000L);
    if (negative) exponent = -exponent;
  }
  return (integer_digits > 0 ? integer_digits : -leading_zeros) + exponent;
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
  // Numbers arrive as text (kParseNumbersAsStringsFlag) and are converted here, exactly: a
  // double reads back as the very value it was written from, without RapidJSON's
  // kParseFullPrecisionFlag, whose big-number path crashes on long digit strings (1.1.0).
  bool RawNumber(const char* s, rapidjson::SizeType n, bool /*copy*/) {
    if (!value()) return false;
    const char* const end = s + n;
    const bool integral = std::find_if(s, end, [](char c) {
                            return c == '.' || c == 'e' || c == 'E';
                          }) == end;
    if (integral) {
      std::int64_t i = 0;
      auto r = std::from_chars(s, end, i);
      if (r.ec == std::errc() && r.ptr == end) return next_.Int64(i);
      std::uint64_t u = 0;
      r = std::from_chars(s, end, u);
      if (r.ec == std::errc() && r.ptr == end) return next_.Uint64(u);
    }
    double d = 0;
    const auto r = std::from_chars(s, end, d);
    if (r.ec == std::errc::result_out_of_range) {
      if (decimal_magnitude(s, end) > 0) return fail("is a number too large for a double");
      d = (*s == '-') ? -0.0 : 0.0;  // underflow: as close to zero as a double gets
    } else if (r.ec != std::errc() || r.ptr != end) {
      return fail("is not a valid number");
    }
    return next_.Double(d);
  }
  bool String(const char* s, rapidjson::SizeType n, bool copy) {
    if (!value()) return false;
    if (contains_surrogate(s, n)) return fail("contains a lone surrogate escape");
    return next_.String(s, n, copy);
  }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) {
    // The path of a bad key is its object's: the key itself is not UTF-8, so it cannot be
    // part of a pointer that is sent back in an error.
    if (contains_surrogate(s, n)) return fail("key contains a lone surrogate escape", true);
    stack_.back().key = std::string_view(s, n);
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
  bool fail(std::string reason, bool at_object = false) {
    path_.clear();
    const std::size_t depth = at_object ? stack_.size() - 1 : stack_.size();
    for (std::size_t i = 0; i < depth; ++i) {
      const level& l = stack_[i];
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
