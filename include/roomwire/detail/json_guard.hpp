#pragma once

// The SAX handler behind inbound_frame: it sits on quick_reader (below) or, for the frames that
// one leaves alone, on RapidJSON's iterative reader, and records the document as a flat tape of
// tokens (no DOM), refusing, while parsing and so before anything is spent on them:
//   - nesting deeper than the limit (objects and arrays each count one level);
//   - strings or keys holding a lone surrogate escape such as "\udc00", which RapidJSON 1.1.0
//     accepts and turns into bytes that are not UTF-8;
//   - numbers that do not fit in a double (numbers arrive as text and are converted here).
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

#if defined(__GNUC__) || defined(__clang__)
#define ROOMWIRE_DETAIL_COLD __attribute__((noinline, cold))
#elif defined(_MSC_VER)
#define ROOMWIRE_DETAIL_COLD __declspec(noinline)
#else
#define ROOMWIRE_DETAIL_COLD
#endif

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

// One token of a parsed document. An object or array is followed by its contents (an object's
// as key, value, key, value, ...; keys are string tokens marked `flag`) and by an end token; it
// spans `size` tokens, both ends included, so the next sibling is at `this + size`. Strings point
// into the parsed (in-situ) buffer.
struct json_token {
  enum class kind : std::uint8_t {
    object,
    array,
    string,
    int64,
    uint64,
    real,
    boolean,
    null,
    end_object,
    end_array,
  };

  kind type;
  // A boolean's value; on a string, that it is a key; on a container, that the text it came
  // from has no backslash, so none of its strings holds a character that needs an escape.
  bool flag;
  std::uint32_t size;  // a string's length in bytes; a container's span in tokens
  union {
    const char* str;
    std::int64_t i64;
    std::uint64_t u64;
    double real;
    std::uint32_t count;  // at an end token: the container's members or elements
  };

  // Left uninitialised: the tape builder sets what each kind uses.
  json_token() noexcept {}  // NOLINT(modernize-use-equals-default): `= default` would zero it

  bool is_container() const noexcept { return type <= kind::array; }
  bool is_object() const noexcept { return type == kind::object; }
  bool is_array() const noexcept { return type == kind::array; }
  bool is_string() const noexcept { return type == kind::string; }
  bool is_number() const noexcept { return type >= kind::int64 && type <= kind::real; }
  std::string_view text() const noexcept { return {str, size}; }
  double as_double() const noexcept {
    if (type == kind::int64) return static_cast<double>(i64);
    if (type == kind::uint64) return static_cast<double>(u64);
    return real;
  }
  // The token after this value and all it contains.
  const json_token* next() const noexcept { return is_container() ? this + size : this + 1; }
  // A container's first member (key) or element, and its end token.
  const json_token* first() const noexcept { return this + 1; }
  const json_token* last() const noexcept { return this + size - 1; }
  std::uint32_t elements() const noexcept { return last()->count; }
};

// Builds the tape of one document, parsed in situ. While a container is open, its start
// token's `size` links to the enclosing open container (index + 1), so no other stack is kept;
// the JSON Pointer of a refused value is worked out from the tape, only when one is refused.
class json_guard {
 public:
  // `check_surrogates`: false when the text has no backslash, hence no escape that could
  // produce a surrogate (raw ones were refused by the UTF-8 check).
  json_guard(std::vector<json_token>& tape, std::size_t max_depth, bool check_surrogates = true)
      : tape_(tape), max_depth_(max_depth), check_surrogates_(check_surrogates) {
    tape_.clear();
  }

  bool Null() {
    push(json_token::kind::null);
    return true;
  }
  bool Bool(bool b) {
    push(json_token::kind::boolean, b);
    return true;
  }
  bool Int(int i) { return Int64(i); }
  bool Uint(unsigned u) { return Int64(u); }
  bool Int64(std::int64_t i) {
    push(json_token::kind::int64).i64 = i;
    return true;
  }
  bool Uint64(std::uint64_t u) {
    if (u <= static_cast<std::uint64_t>(INT64_MAX)) return Int64(static_cast<std::int64_t>(u));
    push(json_token::kind::uint64).u64 = u;
    return true;
  }
  bool Double(double d) {
    push(json_token::kind::real).real = d;
    return true;
  }
  // Numbers arrive as text (kParseNumbersAsStringsFlag) and are converted here, exactly: a
  // double reads back as the very value it was written from, without RapidJSON's
  // kParseFullPrecisionFlag, whose big-number path crashes on long digit strings (1.1.0).
  bool RawNumber(const char* s, rapidjson::SizeType n, bool /*copy*/) {
    const char* const end = s + n;
    // The common case first: an integer of at most 18 digits cannot overflow.
    {
      const bool negative = *s == '-';
      const char* p = s + (negative ? 1 : 0);
      if (end - p <= 18) {
        std::int64_t v = 0;
        for (; p != end; ++p) {
          const auto digit = static_cast<unsigned>(*p - '0');
          if (digit > 9) break;
          v = v * 10 + digit;
        }
        if (p == end) return Int64(negative ? -v : v);
      }
    }
    const bool integral =
        std::find_if(s, end, [](char c) { return c == '.' || c == 'e' || c == 'E'; }) == end;
    if (integral) {
      std::int64_t i = 0;
      auto r = std::from_chars(s, end, i);
      if (r.ec == std::errc() && r.ptr == end) return Int64(i);
      std::uint64_t u = 0;
      r = std::from_chars(s, end, u);
      if (r.ec == std::errc() && r.ptr == end) return Uint64(u);
    }
    double d = 0;
    const auto r = std::from_chars(s, end, d);
    if (r.ec == std::errc::result_out_of_range) {
      if (decimal_magnitude(s, end) > 0) return fail("is a number too large for a double");
      d = (*s == '-') ? -0.0 : 0.0;  // underflow: as close to zero as a double gets
    } else if (r.ec != std::errc() || r.ptr != end) {
      return fail("is not a valid number");
    }
    return Double(d);
  }
  bool String(const char* s, rapidjson::SizeType n, bool /*copy*/) {
    if (check_surrogates_ && contains_surrogate(s, n)) {
      return fail("contains a lone surrogate escape");
    }
    push(json_token::kind::string, false, n).str = s;
    return true;
  }
  bool Key(const char* s, rapidjson::SizeType n, bool /*copy*/) {
    // The path of a bad key is its object's: the key itself is not UTF-8, so it cannot be
    // part of a pointer that is sent back in an error.
    if (check_surrogates_ && contains_surrogate(s, n)) {
      return fail("key contains a lone surrogate escape", true);
    }
    push(json_token::kind::string, true, n).str = s;
    return true;
  }
  bool StartObject() { return open(json_token::kind::object); }
  bool EndObject(rapidjson::SizeType n) { return close(json_token::kind::end_object, n); }
  bool StartArray() { return open(json_token::kind::array); }
  bool EndArray(rapidjson::SizeType n) { return close(json_token::kind::end_array, n); }

  bool failed() const noexcept { return !reason_.empty(); }
  const std::string& path() const noexcept { return path_; }
  const std::string& reason() const noexcept { return reason_; }

 private:
  json_token& push(json_token::kind k, bool flag = false, std::uint32_t size = 0) {
    json_token& t = tape_.emplace_back();
    t.type = k;
    t.flag = flag;
    t.size = size;
    return t;
  }
  bool open(json_token::kind k) {
    if (depth_ >= max_depth_) return too_deep();
    ++depth_;
    const auto index = static_cast<std::uint32_t>(tape_.size());
    // `size` links to the enclosing open container until this one closes.
    push(k, !check_surrogates_, open_);
    open_ = index + 1;
    return true;
  }
  ROOMWIRE_DETAIL_COLD bool too_deep() {
    return fail("nesting deeper than " + std::to_string(max_depth_) + " levels");
  }
  bool close(json_token::kind k, rapidjson::SizeType n) {
    --depth_;
    const std::uint32_t index = open_ - 1;
    push(k).count = n;
    json_token& start = tape_[index];
    open_ = start.size;
    start.size = static_cast<std::uint32_t>(tape_.size() - index);
    return true;
  }

  // The JSON Pointer of the value about to be added (or, `at_object`, of the object whose key
  // is being read), from the tokens so far: an array step is the count of elements before, an
  // object step its last key.
  ROOMWIRE_DETAIL_COLD bool fail(std::string reason, bool at_object = false) {
    struct step {
      bool is_array;
      std::size_t elements;  // arrays: values so far
      std::string_view key;  // objects: the last key
    };
    std::vector<step> steps;
    const auto value = [&steps] {
      if (!steps.empty() && steps.back().is_array) ++steps.back().elements;
    };
    for (const json_token& t : tape_) {
      switch (t.type) {
        case json_token::kind::object:
        case json_token::kind::array:
          value();
          steps.push_back(step{t.type == json_token::kind::array, 0, {}});
          break;
        case json_token::kind::end_object:
        case json_token::kind::end_array:
          steps.pop_back();
          break;
        case json_token::kind::string:
          if (t.flag) {
            steps.back().key = t.text();
          } else {
            value();
          }
          break;
        default:
          value();
          break;
      }
    }
    // The refused value counts in its array, as the containers that are open do in theirs.
    if (!at_object && !steps.empty() && steps.back().is_array) ++steps.back().elements;
    path_.clear();
    const std::size_t depth = at_object ? steps.size() - 1 : steps.size();
    for (std::size_t i = 0; i < depth; ++i) {
      if (steps[i].is_array) {
        path_.push_back('/');
        path_ += std::to_string(steps[i].elements - 1);
      } else {
        append_pointer_segment(path_, steps[i].key);
      }
    }
    reason_ = std::move(reason);
    return false;
  }

  std::vector<json_token>& tape_;
  std::size_t max_depth_;
  bool check_surrogates_;
  std::size_t depth_ = 0;
  std::uint32_t open_ = 0;  // the innermost open container's index + 1; 0 at the top
  std::string path_;
  std::string reason_;
};

// A reader for the frames that arrive every day, in front of RapidJSON's: it reads a document
// in place and sends a handler (json_guard) the very events, in the very order, that RapidJSON's
// reader sends with inbound_frame's flags (in situ, iterative, numbers as text), and leaves the
// buffer as that reader leaves it (each string unescaped where it began, ended by a NUL).
// It only reads what it is sure RapidJSON reads the same way: an object at the root, at most
// 64 levels, escapes other than surrogates, numbers RapidJSON cannot find too big. For anything
// else, and for every malformed document, it gives up; the caller then parses a fresh copy of
// the text with RapidJSON, so that what is refused, where and why, stays exactly RapidJSON's.
// Iterative: the open containers are a bit stack and a count per level, no recursion.
template <class Handler>
class quick_reader {
 public:
  // `text[n]` must be a NUL (std::string's own): it ends every scan.
  quick_reader(char* text, std::size_t n, Handler& h) noexcept
      : p_(text), end_(text + n), h_(h) {}

  // True when the whole text was read and the handler accepted every event.
  bool read() {
    skip_space();
    if (*p_ != '{') return false;
    for (;;) {
      const step s = value();
      if (s == step::fail) return false;
      if (s == step::done && !after_value()) return false;
      if (depth_ == 0) {
        skip_space();
        return p_ == end_;
      }
    }
  }

 private:
  enum class step { fail, done, nested };
  static constexpr unsigned max_levels = 64;

  static bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
  void skip_space() noexcept {
    while (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t') ++p_;
  }
  bool top_is_array() const noexcept { return ((arrays_ >> (depth_ - 1)) & 1u) != 0; }

  // At the first character of a value: reads a scalar or an empty container (done), or opens
  // a container and stops at its first value (nested).
  step value() {
    switch (*p_) {
      case '{':
        return open(false);
      case '[':
        return open(true);
      case '"':
        return string(false) ? step::done : step::fail;
      case 't':
        return literal("true", 4) && h_.Bool(true) ? step::done : step::fail;
      case 'f':
        return literal("false", 5) && h_.Bool(false) ? step::done : step::fail;
      case 'n':
        return literal("null", 4) && h_.Null() ? step::done : step::fail;
      default:
        return number() ? step::done : step::fail;
    }
  }

  step open(bool array) {
    if (depth_ == max_levels) return step::fail;
    if (!(array ? h_.StartArray() : h_.StartObject())) return step::fail;
    if (array) {
      arrays_ |= std::uint64_t{1} << depth_;
    } else {
      arrays_ &= ~(std::uint64_t{1} << depth_);
    }
    counts_[depth_++] = 0;
    ++p_;
    skip_space();
    if (*p_ == (array ? ']' : '}')) return close() ? step::done : step::fail;
    if (!array && !key()) return step::fail;
    return step::nested;
  }
  bool close() {
    ++p_;
    --depth_;
    const auto n = static_cast<rapidjson::SizeType>(counts_[depth_]);
    return ((arrays_ >> depth_) & 1u) != 0 ? h_.EndArray(n) : h_.EndObject(n);
  }

  // After a value: closes what ends here and stops at the next value, or at the root's end.
  bool after_value() {
    while (depth_ != 0) {
      skip_space();
      ++counts_[depth_ - 1];
      const bool array = top_is_array();
      if (*p_ == ',') {
        ++p_;
        skip_space();
        return array || key();
      }
      if (*p_ != (array ? ']' : '}') || !close()) return false;
    }
    return true;
  }

  // A member's key, its colon, and the space up to its value.
  bool key() {
    if (*p_ != '"' || !string(true)) return false;
    skip_space();
    if (*p_ != ':') return false;
    ++p_;
    skip_space();
    return true;
  }

  bool literal(const char* word, std::size_t n) noexcept {
    // One byte at a time: the NUL at the end stops a mismatch before it reads past the text.
    for (std::size_t i = 0; i < n; ++i) {
      if (p_[i] != word[i]) return false;
    }
    p_ += n;
    return true;
  }

  // RapidJSON refuses an integer part past 2^64 only beyond ~309 digits and an exponent past
  // 308: at most 18 integer digits and 2 exponent digits are always read the same way.
  bool number() {
    const char* const start = p_;
    const char* q = p_;
    if (*q == '-') ++q;
    if (*q == '0') {
      ++q;
    } else if (*q >= '1' && *q <= '9') {
      const char* const digits = q;
      while (is_digit(*q)) ++q;
      if (q - digits > 18) return false;
    } else {
      return false;
    }
    if (*q == '.') {
      ++q;
      if (!is_digit(*q)) return false;
      while (is_digit(*q)) ++q;
    }
    if (*q == 'e' || *q == 'E') {
      ++q;
      if (*q == '+' || *q == '-') ++q;
      const char* const digits = q;
      while (is_digit(*q)) ++q;
      if (q == digits || q - digits > 2) return false;
    }
    p_ += q - start;
    return h_.RawNumber(start, static_cast<rapidjson::SizeType>(q - start), false);
  }

  // The bytes of `w` (in memory order) that end a run of plain string text — '"', '\\' or
  // below 0x20 — as their high bits. A borrow can only mark a byte after a marked one, so the
  // first marked byte is exact.
  static std::uint64_t string_stops(std::uint64_t w) noexcept {
    constexpr std::uint64_t ones = 0x0101010101010101u;
    constexpr std::uint64_t high = 0x8080808080808080u;
    const std::uint64_t quote = w ^ (ones * '"');
    const std::uint64_t backslash = w ^ (ones * '\\');
    return (((w - ones * 0x20) & ~w) | ((quote - ones) & ~quote) |
            ((backslash - ones) & ~backslash)) &
           high;
  }
  static bool stops_string(char c) noexcept {
    const auto u = static_cast<unsigned char>(c);
    return u == '"' || u == '\\' || u < 0x20;
  }
  // The first byte marked by string_stops(word of `s`): found from the mask on the common
  // little-endian compilers, else by looking at the bytes again.
  static char* first_stop(char* s, std::uint64_t mask) noexcept {
#if (defined(__GNUC__) || defined(__clang__)) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return s + (__builtin_ctzll(mask) >> 3);
#else
    (void)mask;
    while (!stops_string(*s)) ++s;
    return s;
#endif
  }

  // At the opening quote. Runs without an escape are skipped 8 bytes at a time and stay where
  // they are; after the first escape, the rest is moved down over the shortened escapes.
  bool string(bool is_key) {
    char* const head = ++p_;
    char* s = head;
    for (;;) {
      if (end_ - s < 8) {
        while (!stops_string(*s)) ++s;  // the NUL after the text stops it
        break;
      }
      std::uint64_t word;
      std::memcpy(&word, s, sizeof word);
      const std::uint64_t mask = string_stops(word);
      if (mask != 0) {
        s = first_stop(s, mask);
        break;
      }
      s += 8;
    }
    if (static_cast<unsigned char>(*s) < 0x20) return false;  // a control character or the end
    char* dst = s;
    if (*s == '\\' && !unescape(s, dst)) return false;
    *dst = '\0';  // where RapidJSON ends an in-situ string
    p_ = s + 1;
    const auto n = static_cast<rapidjson::SizeType>(dst - head);
    return is_key ? h_.Key(head, n, false) : h_.String(head, n, false);
  }

  // From the first backslash to the closing quote, which `s` is left at; `dst` ends the text.
  static bool unescape(char*& s, char*& dst) noexcept {
    for (;;) {
      const auto c = static_cast<unsigned char>(*s);
      if (c == '"') return true;
      if (c < 0x20) return false;
      if (c != '\\') {
        *dst++ = *s++;
        continue;
      }
      const char e = s[1];
      s += 2;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          *dst++ = e;
          break;
        case 'b':
          *dst++ = '\b';
          break;
        case 'f':
          *dst++ = '\f';
          break;
        case 'n':
          *dst++ = '\n';
          break;
        case 'r':
          *dst++ = '\r';
          break;
        case 't':
          *dst++ = '\t';
          break;
        case 'u':
          if (!unicode_escape(s, dst)) return false;
          break;
        default:
          return false;
      }
    }
  }

  // The four hex digits after "\u", written as UTF-8. A surrogate (of a pair, or lone) is left
  // to RapidJSON and json_guard.
  static bool unicode_escape(char*& s, char*& dst) noexcept {
    unsigned cp = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = s[i];  // stops at the NUL before reading past the text
      unsigned digit = 0;
      if (h >= '0' && h <= '9') {
        digit = static_cast<unsigned>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        digit = static_cast<unsigned>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        digit = static_cast<unsigned>(h - 'A' + 10);
      } else {
        return false;
      }
      cp = cp << 4 | digit;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;
    s += 4;
    if (cp < 0x80) {
      *dst++ = static_cast<char>(cp);
    } else if (cp < 0x800) {
      *dst++ = static_cast<char>(0xC0 | (cp >> 6));
      *dst++ = static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      *dst++ = static_cast<char>(0xE0 | (cp >> 12));
      *dst++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      *dst++ = static_cast<char>(0x80 | (cp & 0x3F));
    }
    return true;
  }

  char* p_;
  char* const end_;
  Handler& h_;
  unsigned depth_ = 0;
  std::uint64_t arrays_ = 0;  // bit d: level d + 1 is an array
  std::uint32_t counts_[max_levels];  // members or elements so far, per open level
};

}  // namespace roomwire::protocol::detail

#undef ROOMWIRE_DETAIL_COLD
