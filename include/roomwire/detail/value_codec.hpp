#pragma once

// Decoding (with validation) and encoding of one value by its C++ type. Object types are
// handled through their field table (protocol/schema.hpp). Decoding reads the token tape that
// json_guard built (one pass over an object's members per object); encoding writes through
// json_writer, which gives rapidjson::Writer's bytes without its per-character path.

#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <rapidjson/internal/dtoa.h>
#include <rapidjson/rapidjson.h>
#include <rapidjson/writer.h>

#include "roomwire/detail/json_guard.hpp"
#include "roomwire/detail/json_pointer.hpp"
#include "roomwire/protocol/codes.hpp"
#include "roomwire/protocol/schema.hpp"

namespace roomwire::protocol {

// Why a frame or a value was refused: a JSON Pointer (`""` for the whole frame) and a reason.
struct decode_error {
  std::string path;
  std::string reason;
  // What the frame said about itself, when that much could be read (for error.details).
  std::string type;
  std::string message_id;
};

namespace detail {

template <class T>
inline constexpr bool dependent_false = false;

template <class T>
struct is_vector : std::false_type {};
template <class T, class A>
struct is_vector<std::vector<T, A>> : std::true_type {};

inline bool fail(decode_error& err, const path_node* at, std::string reason) {
  err.path = to_pointer(at);
  err.reason = std::move(reason);
  return false;
}

// The shortest text that reads back as `v` ("100", "0.5", "9007199254740991").
inline std::string format_number(double v) {
  if (std::isfinite(v) && std::floor(v) == v && std::fabs(v) <= 9007199254740992.0) {
    return std::to_string(static_cast<long long>(v));
  }
  char text[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(text, sizeof text, "%.*g", precision, v);
    if (std::strtod(text, nullptr) == v) break;
  }
  return text;
}

inline std::size_t count_chars(const char* s, std::size_t n) noexcept {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) ++chars;
  }
  return chars;
}

// ---- writing JSON text ----------------------------------------------------------------

// Writes JSON text at the end of a std::string, byte for byte as rapidjson::Writer would (same
// escapes, same number formats), with the Writer's member names so that encode_value and
// encode_object work with either. It writes through a raw pointer into space made ahead
// (resize, then trim when done), scans strings 8 bytes at a time and copies them in runs,
// rather than storing one character at a time; separators come from one flag, not a stack of
// levels. It does not check the structure: encode_object and write_tape only make well-formed
// calls.
class json_writer {
 public:
  explicit json_writer(std::string& out) noexcept
      : out_(&out), p_(out.data() + out.size()), end_(p_) {}
  json_writer(const json_writer&) = delete;
  json_writer& operator=(const json_writer&) = delete;
  ~json_writer() { finish(); }

  // Trims the string to what was written. Called by the destructor.
  void finish() noexcept {
    out_->resize(static_cast<std::size_t>(p_ - out_->data()));
    end_ = p_;
  }
  // Makes room for at least `n` more bytes.
  void reserve(std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n) grow(n);
  }

  bool Null() { return literal("null", 4); }
  bool Bool(bool b) { return b ? literal("true", 4) : literal("false", 5); }
  bool Int(int i) { return Int64(i); }
  bool Uint(unsigned u) { return Uint64(u); }
  bool Int64(std::int64_t i) {
    reserve(1 + 20);
    separate();
    p_ = std::to_chars(p_, end_, i).ptr;
    comma_ = true;
    return true;
  }
  bool Uint64(std::uint64_t u) {
    reserve(1 + 20);
    separate();
    p_ = std::to_chars(p_, end_, u).ptr;
    comma_ = true;
    return true;
  }
  bool Double(double d) {
    if (!std::isfinite(d)) return Null();  // not JSON; rapidjson::Writer would write nothing
    reserve(1 + 25);
    separate();
    // RapidJSON's own shortest round-trip form (Grisu2), as Writer::Double writes it: "0.0",
    // "42.5", "1e100"; at most 25 characters.
    p_ = rapidjson::internal::dtoa(d, p_);
    comma_ = true;
    return true;
  }
  bool String(const char* s, rapidjson::SizeType n, bool /*copy*/ = false) {
    reserve(std::size_t{n} + 4);
    separate();
    quoted(s, n);
    comma_ = true;
    return true;
  }
  bool Key(const char* s, rapidjson::SizeType n, bool /*copy*/ = false) {
    reserve(std::size_t{n} + 4);
    separate();
    quoted(s, n);
    *p_++ = ':';
    comma_ = false;
    return true;
  }
  // A byte JSON must escape in a string.
  static constexpr bool special(unsigned char c) noexcept {
    return c < 0x20 || c == '"' || c == '\\';
  }
  // A member name as it is written, `"name":`, known at compile time to need no escape (a
  // schema's names, the envelope's): copied with a constant length instead of scanned as Key()
  // scans a name read from the wire.
  template <std::size_t N>
  bool KnownKey(const std::array<char, N>& quoted_with_colon) {
    put_known<N>(quoted_with_colon.data());
    comma_ = false;
    return true;
  }
  template <std::size_t N>
  bool KnownKey(const char (&quoted_with_colon)[N]) {  // a literal: "\"type\":"
    put_known<N - 1>(quoted_with_colon);
    comma_ = false;
    return true;
  }
  bool RawValue(const char* s, std::size_t n, rapidjson::Type /*type*/) { return literal(s, n); }
  bool StartObject() { return open('{'); }
  bool EndObject(rapidjson::SizeType /*members*/ = 0) { return close('}'); }
  bool StartArray() { return open('['); }
  bool EndArray(rapidjson::SizeType /*elements*/ = 0) { return close(']'); }

 private:
  void grow(std::size_t n) {
    const auto used = static_cast<std::size_t>(p_ - out_->data());
    std::size_t size = used + n;
    if (size <= out_->capacity()) {
      size = out_->capacity();  // what is already allocated, without a new block
    } else if (size < 2 * out_->capacity()) {
      size = 2 * out_->capacity();
    }
    out_->resize(size);
    p_ = out_->data() + used;
    end_ = out_->data() + size;
  }
  void separate() noexcept {
    if (comma_) *p_++ = ',';
  }
  template <std::size_t N>
  void put_known(const char* text) {
    reserve(N + 1);
    separate();
    std::memcpy(p_, text, N);
    p_ += N;
  }
  bool literal(const char* s, std::size_t n) {
    reserve(n + 1);
    separate();
    std::memcpy(p_, s, n);
    p_ += n;
    comma_ = true;
    return true;
  }
  bool open(char c) {
    reserve(2);
    separate();
    *p_++ = c;
    comma_ = false;
    return true;
  }
  bool close(char c) {
    reserve(1);
    *p_++ = c;
    comma_ = true;
    return true;
  }

  // True when one of the 8 bytes is below 0x20, '"' or '\\' (exact for the word as a whole).
  static bool needs_escape(std::uint64_t w) noexcept {
    constexpr std::uint64_t ones = 0x0101010101010101u;
    constexpr std::uint64_t high = 0x8080808080808080u;
    const std::uint64_t quote = w ^ (ones * '"');
    const std::uint64_t backslash = w ^ (ones * '\\');
    return ((((w - ones * 0x20) & ~w) | ((quote - ones) & ~quote) |
             ((backslash - ones) & ~backslash)) &
            high) != 0;
  }

  // The string in quotes, escaped. Room for n + 2 bytes was made by the caller; each escape
  // makes room for itself and the rest.
  void quoted(const char* s, std::size_t n) {
    *p_++ = '"';
    std::size_t run = 0;  // start of the bytes not yet copied
    std::size_t i = 0;
    for (;;) {
      while (n - i >= 8) {
        std::uint64_t word;
        std::memcpy(&word, s + i, sizeof word);
        if (needs_escape(word)) break;
        i += 8;
      }
      const std::size_t stop = n - i >= 8 ? i + 8 : n;
      while (i != stop && !special(static_cast<unsigned char>(s[i]))) ++i;
      if (i == n) break;
      if (i == stop) continue;
      std::memcpy(p_, s + run, i - run);
      p_ += i - run;
      reserve(6 + (n - i) + 2);
      escape(static_cast<unsigned char>(s[i]));
      run = ++i;
    }
    std::memcpy(p_, s + run, n - run);
    p_ += n - run;
    *p_++ = '"';
  }

  void escape(unsigned char c) noexcept {
    static constexpr char hex[] = "0123456789ABCDEF";
    p_[0] = '\\';
    switch (c) {
      case '"':
      case '\\':
        p_[1] = static_cast<char>(c);
        break;
      case '\b':
        p_[1] = 'b';
        break;
      case '\t':
        p_[1] = 't';
        break;
      case '\n':
        p_[1] = 'n';
        break;
      case '\f':
        p_[1] = 'f';
        break;
      case '\r':
        p_[1] = 'r';
        break;
      default:
        p_[1] = 'u';
        p_[2] = '0';
        p_[3] = '0';
        p_[4] = hex[c >> 4];
        p_[5] = hex[c & 15];
        p_ += 6;
        return;
    }
    p_ += 2;
  }

  std::string* out_;
  char* p_;
  char* end_;
  bool comma_ = false;
};

// Room enough to write a parsed value again, if no string needs escapes.
inline std::size_t tape_text_bound(const json_token* v) noexcept {
  std::size_t bytes = 0;
  for (const json_token *t = v, *end = v->next(); t != end; ++t) {
    bytes += t->is_string() ? std::size_t{t->size} + 4 : t->is_number() ? 26 : 6;
  }
  return bytes;
}

// Replays a parsed value (and all it contains) into a writer or a rapidjson::Document: its
// tokens are in document order, with keys marked and containers closed by end tokens, so no
// stack is needed.
template <class Writer>
void write_tape(Writer& w, const json_token* v) {
  for (const json_token *t = v, *end = v->next(); t != end; ++t) {
    switch (t->type) {
      case json_token::kind::object:
        w.StartObject();
        break;
      case json_token::kind::end_object:
        w.EndObject(t->count);
        break;
      case json_token::kind::array:
        w.StartArray();
        break;
      case json_token::kind::end_array:
        w.EndArray(t->count);
        break;
      case json_token::kind::string:
        if (t->flag) {
          w.Key(t->str, t->size, false);
        } else {
          w.String(t->str, t->size, false);
        }
        break;
      case json_token::kind::int64:
        w.Int64(t->i64);
        break;
      case json_token::kind::uint64:
        w.Uint64(t->u64);
        break;
      case json_token::kind::real:
        w.Double(t->real);
        break;
      case json_token::kind::boolean:
        w.Bool(t->flag);
        break;
      case json_token::kind::null:
        w.Null();
        break;
    }
  }
}

// ---- decoding ---------------------------------------------------------------------------

inline std::size_t decimal_digits(std::uint64_t u) noexcept {
  std::size_t n = 1;
  for (; u >= 10; u /= 10) ++n;
  return n;
}

// The length of the text json_writer writes for a parsed value whose strings need no escapes,
// or 0 when that takes formatting a number with a fraction or an exponent (Grisu2's output).
inline std::size_t written_length(const json_token* v) noexcept {
  std::size_t n = 0;
  for (const json_token *t = v, *end = v->next(); t != end; ++t) {
    switch (t->type) {
      case json_token::kind::object:
      case json_token::kind::array:
        n += 1;
        break;
      case json_token::kind::end_object:
      case json_token::kind::end_array:
        n += t->count == 0 ? 1 : t->count;  // the bracket and the commas between
        break;
      case json_token::kind::string:
        n += std::size_t{t->size} + (t->flag ? 3 : 2);  // a key's colon
        break;
      case json_token::kind::int64:
        n += t->i64 < 0 ? 1 + decimal_digits(0 - static_cast<std::uint64_t>(t->i64))
                        : decimal_digits(static_cast<std::uint64_t>(t->i64));
        break;
      case json_token::kind::uint64:
        n += decimal_digits(t->u64);
        break;
      case json_token::kind::real:
        return 0;
      case json_token::kind::boolean:
        n += t->flag ? 4 : 5;
        break;
      case json_token::kind::null:
        n += 4;
        break;
    }
  }
  return n;
}

// Writes a parsed value whose strings need no escapes and whose numbers are integers, as
// json_writer would, into exactly written_length(v) bytes at `p`.
inline void write_plain(char* p, const json_token* v) noexcept {
  bool comma = false;
  const auto separate = [&] {
    if (comma) *p++ = ',';
  };
  for (const json_token *t = v, *end = v->next(); t != end; ++t) {
    switch (t->type) {
      case json_token::kind::object:
      case json_token::kind::array:
        separate();
        *p++ = t->type == json_token::kind::object ? '{' : '[';
        comma = false;
        break;
      case json_token::kind::end_object:
      case json_token::kind::end_array:
        *p++ = t->type == json_token::kind::end_object ? '}' : ']';
        comma = true;
        break;
      case json_token::kind::string:
        separate();
        *p++ = '"';
        std::memcpy(p, t->str, t->size);
        p += t->size;
        *p++ = '"';
        if (t->flag) *p++ = ':';
        comma = !t->flag;
        break;
      case json_token::kind::int64:
        separate();
        p = std::to_chars(p, p + 20, t->i64).ptr;
        comma = true;
        break;
      case json_token::kind::uint64:
        separate();
        p = std::to_chars(p, p + 20, t->u64).ptr;
        comma = true;
        break;
      case json_token::kind::real:  // not here: written_length(v) was 0
        break;
      case json_token::kind::boolean:
        separate();
        std::memcpy(p, t->flag ? "true" : "false", t->flag ? 4 : 5);
        p += t->flag ? 4 : 5;
        comma = true;
        break;
      case json_token::kind::null:
        separate();
        std::memcpy(p, "null", 4);
        p += 4;
        comma = true;
        break;
    }
  }
}

inline std::string length_reason(const limits& lim, bool bounded_above) {
  if (!bounded_above) return "must be at least " + std::to_string(lim.min_length) + " characters";
  if (lim.min_length == 0) {
    return "must be at most " + std::to_string(lim.max_length) + " characters";
  }
  return "must be " + std::to_string(lim.min_length) + " to " + std::to_string(lim.max_length) +
         " characters";
}

inline bool check_length(const char* s, std::size_t n, const limits& lim, const path_node* at,
                         decode_error& err) {
  if (lim.length_in_bytes) {
    if (n > lim.max_length) {
      return fail(err, at, "must be at most " + std::to_string(lim.max_length) + " bytes");
    }
    return true;
  }
  const bool bounded_above = lim.max_length != std::numeric_limits<std::size_t>::max();
  if (lim.min_length == 0 && !bounded_above) return true;
  // A character is 1 to 4 bytes: most strings are decided by their byte length alone.
  if (n <= lim.max_length && n / 4 >= lim.min_length) return true;
  const std::size_t count = count_chars(s, n);
  if (count < lim.min_length || count > lim.max_length) {
    return fail(err, at, length_reason(lim, bounded_above));
  }
  return true;
}

inline bool check_range(double value, const limits& lim, const path_node* at, decode_error& err) {
  if (value < lim.min_value || value > lim.max_value) {
    if (!std::isfinite(lim.max_value)) {
      return fail(err, at, "must be at least " + format_number(lim.min_value));
    }
    if (!std::isfinite(lim.min_value)) {
      return fail(err, at, "must be at most " + format_number(lim.max_value));
    }
    return fail(
        err, at,
        "must be between " + format_number(lim.min_value) + " and " + format_number(lim.max_value));
  }
  return true;
}

// A number written as an integer that does not fit in int64: held as a uint64, or, past that,
// as a double with no fraction.
inline bool is_integer_beyond_int64(const json_token& v) noexcept {
  if (v.type == json_token::kind::uint64) return true;
  if (v.type != json_token::kind::real) return false;
  const double d = v.real;
  return std::floor(d) == d && std::fabs(d) >= 9223372036854775808.0;
}

template <class Writer>
void write_tape(Writer& w, const json_token* v);

template <class T>
bool decode_object(const json_token* v, T& out, const path_node* at, decode_error& err);

template <class M>
bool decode_value(const json_token* v, M& out, const limits& lim, const path_node* at,
                  decode_error& err) {
  if constexpr (std::is_same_v<M, std::string>) {
    if (!v->is_string()) return fail(err, at, "must be a string");
    if (!check_length(v->str, v->size, lim, at, err)) return false;
    out.clear();
    out.append(v->str, v->size);
    return true;
  } else if constexpr (std::is_same_v<M, bool>) {
    if (v->type != json_token::kind::boolean) return fail(err, at, "must be a boolean");
    out = v->flag;
    return true;
  } else if constexpr (std::is_same_v<M, priority>) {
    if (v->type != json_token::kind::int64) {
      return fail(err, at,
                  is_integer_beyond_int64(*v) ? "must be between 0 and 4" : "must be an integer");
    }
    const std::int64_t p = v->i64;
    if (p < 0 || p >= priority_count) return fail(err, at, "must be between 0 and 4");
    out = static_cast<priority>(p);
    return true;
  } else if constexpr (std::is_integral_v<M>) {
    if (v->type != json_token::kind::int64) {
      return fail(err, at, is_integer_beyond_int64(*v) ? "is out of range" : "must be an integer");
    }
    const std::int64_t i = v->i64;
    if (i < static_cast<std::int64_t>(std::numeric_limits<M>::min()) ||
        (i > 0 && static_cast<std::uint64_t>(i) > std::numeric_limits<M>::max())) {
      return fail(err, at, "is out of range");
    }
    if (!check_range(static_cast<double>(i), lim, at, err)) return false;
    out = static_cast<M>(i);
    return true;
  } else if constexpr (std::is_floating_point_v<M>) {
    if (!v->is_number()) return fail(err, at, "must be a number");
    const double d = v->as_double();
    if (!check_range(d, lim, at, err)) return false;
    out = static_cast<M>(d);
    return true;
  } else if constexpr (std::is_enum_v<M>) {
    static_assert(has_enum_names<M>::value,
                  "roomwire: specialise roomwire::protocol::enum_names<E> for this enum");
    if (!v->is_string()) return fail(err, at, "must be a string");
    const std::string_view s = v->text();
    for (const auto& entry : enum_names<M>::values) {
      if (entry.first == s) {
        out = entry.second;
        return true;
      }
    }
    std::string choices;
    for (const auto& entry : enum_names<M>::values) {
      if (!choices.empty()) choices += ", ";
      choices += entry.first;
    }
    return fail(err, at, "must be one of " + choices);
  } else if constexpr (std::is_same_v<M, raw_json>) {
    if (!v->is_object()) return fail(err, at, "must be an object");
    // Written again, compact, as RapidJSON's Writer would write the parsed value.
    // Written as RapidJSON's Writer would write the parsed value: compact, escapes and numbers
    // in one form. Most objects arrive in that form already and are copied as they came.
    if (v->flag) {  // no string needs an escape
      const std::size_t n = written_length(v);
      if (n != 0) {
        out.text.resize(n);
        write_plain(&out.text[0], v);
        return true;
      }
    }
    out.text.clear();
    json_writer w(out.text);
    w.reserve(tape_text_bound(v));
    write_tape(w, v);
    return true;
  } else if constexpr (is_extensible<M>::value) {
    if (!decode_object(v, out.known, at, err)) return false;
    return decode_value(v, out.raw, lim, at, err);
  } else if constexpr (is_optional<M>::value) {
    typename M::value_type inner{};
    if (!decode_value(v, inner, lim, at, err)) return false;
    out = std::move(inner);
    return true;
  } else if constexpr (is_vector<M>::value) {
    if (!v->is_array()) return fail(err, at, "must be an array");
    out.clear();
    out.reserve(v->elements());
    std::size_t i = 0;
    for (const json_token *item = v->first(), *end = v->last(); item != end; item = item->next()) {
      path_node node{at, {}, i++, true};
      typename M::value_type value{};
      if (!decode_value(item, value, lim, &node, err)) return false;
      out.push_back(std::move(value));
    }
    return true;
  } else if constexpr (has_schema<M>::value) {
    return decode_object(v, out, at, err);
  } else {
    static_assert(dependent_false<M>, "roomwire: no codec for this member type");
    return false;
  }
}

// One field, once its object's members were matched against the table: `at` is its first
// occurrence (null when absent), `repeated` whether another follows.
template <class T, class F>
bool decode_field(const json_token* at_value, bool repeated, T& out, const F& f,
                  const path_node* at, decode_error& err) {
  using member_type = std::remove_reference_t<decltype(out.*(f.member))>;
  path_node node{at, f.name, 0, false};
  if (at_value == nullptr) {
    if (f.required && !is_optional<member_type>::value) return fail(err, &node, "is required");
    return true;
  }
  // A known field given twice is refused: readers disagree on which one counts (RapidJSON reads
  // the first, JavaScript the last), and an object such as chat metadata is forwarded as it came.
  if (repeated) return fail(err, &node, "must appear only once");
  return decode_value(at_value, out.*(f.member), f.limits, &node, err);
}

// Field names are short: a plain loop beats a call to memcmp.
inline bool same_name(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

template <class T, class Table, std::size_t... I>
bool decode_fields(const json_token* v, T& out, const Table& table, const path_node* at,
                   decode_error& err, std::index_sequence<I...>) {
  constexpr std::size_t n = sizeof...(I);
  // One pass over the members: the first occurrence of each known field, and whether it repeats.
  const json_token* found[n] = {};
  bool repeated[n] = {};
  for (const json_token *key = v->first(), *end = v->last(); key != end;) {
    const json_token* value = key + 1;
    const std::string_view name = key->text();
    (
        [&] {
          if (same_name(std::get<I>(table).name, name)) {
            if (found[I] == nullptr) {
              found[I] = value;
            } else {
              repeated[I] = true;
            }
          }
        }(),
        ...);
    key = value->next();
  }
  return (decode_field(found[I], repeated[I], out, std::get<I>(table), at, err) && ...);
}

template <class T>
bool decode_object(const json_token* v, T& out, const path_node* at, decode_error& err) {
  if (!v->is_object()) return fail(err, at, "must be an object");
  static constexpr auto table = schema<T>::fields();
  using table_type = std::remove_cv_t<decltype(table)>;
  if (!decode_fields(v, out, table, at, err,
                     std::make_index_sequence<std::tuple_size_v<table_type>>{})) {
    return false;
  }
  if constexpr (has_validate<T>::value) {
    if (const auto bad = T::validate(out)) {
      err.path = to_pointer(at);
      err.path += bad->pointer;
      err.reason = std::string(bad->reason);
      return false;
    }
  }
  return true;
}

// ---- encoding ---------------------------------------------------------------------------

// A RapidJSON output stream that appends to a std::string.
struct string_sink {
  using Ch = char;
  std::string* out;
  void Put(char c) { out->push_back(c); }
  void Flush() {}
};

using string_writer = rapidjson::Writer<string_sink>;

template <class T, class Writer>
void encode_object(Writer& w, const T& value);

template <class M, class Writer>
void encode_value(Writer& w, const M& v) {
  if constexpr (std::is_same_v<M, std::string>) {
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  } else if constexpr (std::is_same_v<M, bool>) {
    w.Bool(v);
  } else if constexpr (std::is_same_v<M, priority>) {
    w.Int(static_cast<int>(v));
  } else if constexpr (std::is_integral_v<M> && std::is_signed_v<M>) {
    w.Int64(static_cast<std::int64_t>(v));
  } else if constexpr (std::is_integral_v<M>) {
    w.Uint64(static_cast<std::uint64_t>(v));
  } else if constexpr (std::is_floating_point_v<M>) {
    const double d = static_cast<double>(v);
    if (!std::isfinite(d)) {
      w.Null();  // JSON has no NaN or infinity; a peer's decoder will refuse the field
    } else if (std::floor(d) == d && std::fabs(d) < 9007199254740992.0) {
      w.Int64(static_cast<std::int64_t>(d));
    } else {
      w.Double(d);
    }
  } else if constexpr (std::is_enum_v<M>) {
    for (const auto& entry : enum_names<M>::values) {
      if (entry.second == v) {
        w.String(entry.first.data(), static_cast<rapidjson::SizeType>(entry.first.size()));
        return;
      }
    }
    w.Null();
  } else if constexpr (std::is_same_v<M, raw_json>) {
    if (v.empty()) {
      w.StartObject();
      w.EndObject();
    } else {
      w.RawValue(v.text.data(), v.text.size(), rapidjson::kObjectType);
    }
  } else if constexpr (is_extensible<M>::value) {
    if (v.raw.empty()) {
      encode_object(w, v.known);
    } else {
      encode_value(w, v.raw);
    }
  } else if constexpr (is_optional<M>::value) {
    if (v) {
      encode_value(w, *v);
    } else {
      w.Null();
    }
  } else if constexpr (is_vector<M>::value) {
    w.StartArray();
    for (const auto& item : v) encode_value(w, item);
    w.EndArray();
  } else if constexpr (has_schema<M>::value) {
    encode_object(w, v);
  } else {
    static_assert(dependent_false<M>, "roomwire: no codec for this member type");
  }
}

constexpr bool needs_no_escape(std::string_view name) {
  for (const char c : name) {
    if (json_writer::special(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// T's schema, made once at compile time (not by a call to fields() per member at run time).
template <class T>
struct schema_of {
  static constexpr auto fields = schema<T>::fields();
  static constexpr std::size_t size = std::tuple_size_v<decltype(fields)>;
};

// Member I of T's schema as JSON writes it before the value, `"name":`, made at compile time.
template <class T, std::size_t I>
struct member_key {
  static constexpr std::string_view name = std::get<I>(schema_of<T>::fields).name;
  static_assert(needs_no_escape(name), "roomwire: a member name that JSON must escape");
  static constexpr std::array<char, name.size() + 3> text = [] {
    std::array<char, name.size() + 3> quoted{};
    quoted[0] = '"';
    for (std::size_t i = 0; i < name.size(); ++i) quoted[i + 1] = name[i];
    quoted[name.size() + 1] = '"';
    quoted[name.size() + 2] = ':';
    return quoted;
  }();
};

template <std::size_t I, class T, class Writer>
void encode_member(Writer& w, const T& value) {
  constexpr auto pointer = std::get<I>(schema_of<T>::fields).member;
  const auto& member = value.*pointer;
  using member_type = std::remove_cv_t<std::remove_reference_t<decltype(member)>>;
  if constexpr (is_optional<member_type>::value) {
    if (!member) return;
  }
  if constexpr (std::is_same_v<Writer, json_writer>) {
    w.KnownKey(member_key<T, I>::text);  // a copy of constant length, no scan
  } else {
    constexpr std::string_view name = member_key<T, I>::name;
    w.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
  }
  encode_value(w, member);
}

template <class T, class Writer, std::size_t... I>
void encode_members(Writer& w, const T& value, std::index_sequence<I...>) {
  (encode_member<I>(w, value), ...);
}

template <class T, class Writer>
void encode_object(Writer& w, const T& value) {
  w.StartObject();
  encode_members(w, value, std::make_index_sequence<schema_of<T>::size>{});
  w.EndObject();
}

}  // namespace detail
}  // namespace roomwire::protocol
