#pragma once

// Decoding (with validation) and encoding of one value by its C++ type. Object types are
// handled through their field table (protocol/schema.hpp).

#include <cmath>
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
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/writer.h>

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

inline bool check_length(const rapidjson::Value& v, const limits& lim, const path_node* at,
                         decode_error& err) {
  const std::size_t n = v.GetStringLength();
  if (lim.length_in_bytes) {
    if (n > lim.max_length) {
      return fail(err, at, "must be at most " + std::to_string(lim.max_length) + " bytes");
    }
    return true;
  }
  const bool bounded_above = lim.max_length != std::numeric_limits<std::size_t>::max();
  if (lim.min_length == 0 && !bounded_above) return true;
  const std::size_t count = count_chars(v.GetString(), n);
  if (count < lim.min_length || count > lim.max_length) {
    if (!bounded_above) {
      return fail(err, at, "must be at least " + std::to_string(lim.min_length) + " characters");
    }
    if (lim.min_length == 0) {
      return fail(err, at, "must be at most " + std::to_string(lim.max_length) + " characters");
    }
    return fail(err, at,
                "must be " + std::to_string(lim.min_length) + " to " +
                    std::to_string(lim.max_length) + " characters");
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

// A number written as an integer that does not fit in int64: RapidJSON holds it as a uint64,
// or, past that, as a double with no fraction.
inline bool is_integer_beyond_int64(const rapidjson::Value& v) noexcept {
  if (!v.IsNumber() || v.IsInt64()) return false;
  if (!v.IsDouble()) return true;
  const double d = v.GetDouble();
  return std::floor(d) == d && std::fabs(d) >= 9223372036854775808.0;
}

template <class T>
bool decode_object(const rapidjson::Value& v, T& out, const path_node* at, decode_error& err);

template <class M>
bool decode_value(const rapidjson::Value& v, M& out, const limits& lim, const path_node* at,
                  decode_error& err) {
  if constexpr (std::is_same_v<M, std::string>) {
    if (!v.IsString()) return fail(err, at, "must be a string");
    if (!check_length(v, lim, at, err)) return false;
    out.assign(v.GetString(), v.GetStringLength());
    return true;
  } else if constexpr (std::is_same_v<M, bool>) {
    if (!v.IsBool()) return fail(err, at, "must be a boolean");
    out = v.GetBool();
    return true;
  } else if constexpr (std::is_same_v<M, priority>) {
    if (!v.IsInt64()) {
      return fail(err, at,
                  is_integer_beyond_int64(v) ? "must be between 0 and 4" : "must be an integer");
    }
    const std::int64_t p = v.GetInt64();
    if (p < 0 || p >= priority_count) return fail(err, at, "must be between 0 and 4");
    out = static_cast<priority>(p);
    return true;
  } else if constexpr (std::is_integral_v<M>) {
    if (!v.IsInt64()) {
      return fail(err, at, is_integer_beyond_int64(v) ? "is out of range" : "must be an integer");
    }
    const std::int64_t i = v.GetInt64();
    if (i < static_cast<std::int64_t>(std::numeric_limits<M>::min()) ||
        (i > 0 && static_cast<std::uint64_t>(i) > std::numeric_limits<M>::max())) {
      return fail(err, at, "is out of range");
    }
    if (!check_range(static_cast<double>(i), lim, at, err)) return false;
    out = static_cast<M>(i);
    return true;
  } else if constexpr (std::is_floating_point_v<M>) {
    if (!v.IsNumber()) return fail(err, at, "must be a number");
    const double d = v.GetDouble();
    if (!check_range(d, lim, at, err)) return false;
    out = static_cast<M>(d);
    return true;
  } else if constexpr (std::is_enum_v<M>) {
    static_assert(has_enum_names<M>::value,
                  "roomwire: specialise roomwire::protocol::enum_names<E> for this enum");
    if (!v.IsString()) return fail(err, at, "must be a string");
    const std::string_view s(v.GetString(), v.GetStringLength());
    std::string choices;
    for (const auto& entry : enum_names<M>::values) {
      if (entry.first == s) {
        out = entry.second;
        return true;
      }
      if (!choices.empty()) choices += ", ";
      choices += entry.first;
    }
    return fail(err, at, "must be one of " + choices);
  } else if constexpr (std::is_same_v<M, raw_json>) {
    if (!v.IsObject()) return fail(err, at, "must be an object");
    rapidjson::CrtAllocator allocator;  // else buffer and writer each allocate their own
    rapidjson::StringBuffer buffer(&allocator);
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer, &allocator);
    v.Accept(writer);
    out.text.assign(buffer.GetString(), buffer.GetSize());
    return true;
  } else if constexpr (is_extensible<M>::value) {
    if (!decode_object(v, out.known, at, err)) return false;
    raw_json raw;
    if (!decode_value(v, raw, lim, at, err)) return false;
    out.raw = std::move(raw);
    return true;
  } else if constexpr (is_optional<M>::value) {
    typename M::value_type inner{};
    if (!decode_value(v, inner, lim, at, err)) return false;
    out = std::move(inner);
    return true;
  } else if constexpr (is_vector<M>::value) {
    if (!v.IsArray()) return fail(err, at, "must be an array");
    out.clear();
    out.reserve(v.Size());
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
      path_node node{at, {}, i, true};
      typename M::value_type item{};
      if (!decode_value(v[i], item, lim, &node, err)) return false;
      out.push_back(std::move(item));
    }
    return true;
  } else if constexpr (has_schema<M>::value) {
    return decode_object(v, out, at, err);
  } else {
    static_assert(dependent_false<M>, "roomwire: no codec for this member type");
    return false;
  }
}

template <class T, class F>
bool decode_field(const rapidjson::Value& object, T& out, const F& f, const path_node* at,
                  decode_error& err) {
  using member_type = std::remove_reference_t<decltype(out.*(f.member))>;
  path_node node{at, f.name, 0, false};
  const auto it = object.FindMember(rapidjson::Value(
      rapidjson::StringRef(f.name.data(), static_cast<rapidjson::SizeType>(f.name.size()))));
  if (it == object.MemberEnd()) {
    if (f.required && !is_optional<member_type>::value) return fail(err, &node, "is required");
    return true;
  }
  // A known field given twice is refused: readers disagree on which one counts (RapidJSON reads
  // the first, JavaScript the last), and an object such as chat metadata is forwarded as it came.
  for (auto next = it + 1; next != object.MemberEnd(); ++next) {
    if (next->name.GetStringLength() == f.name.size() &&
        std::memcmp(next->name.GetString(), f.name.data(), f.name.size()) == 0) {
      return fail(err, &node, "must appear only once");
    }
  }
  return decode_value(it->value, out.*(f.member), f.limits, &node, err);
}

template <class T>
bool decode_object(const rapidjson::Value& v, T& out, const path_node* at, decode_error& err) {
  if (!v.IsObject()) return fail(err, at, "must be an object");
  const bool ok =
      std::apply([&](const auto&... f) { return (decode_field(v, out, f, at, err) && ...); },
                 schema<T>::fields());
  if (!ok) return false;
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

template <class T, class Writer>
void encode_object(Writer& w, const T& value) {
  w.StartObject();
  std::apply(
      [&](const auto&... f) {
        (
            [&] {
              const auto& member = value.*(f.member);
              using member_type = std::remove_cv_t<std::remove_reference_t<decltype(member)>>;
              if constexpr (is_optional<member_type>::value) {
                if (!member) return;
              }
              w.Key(f.name.data(), static_cast<rapidjson::SizeType>(f.name.size()));
              encode_value(w, member);
            }(),
            ...);
      },
      schema<T>::fields());
  w.EndObject();
}

}  // namespace detail
}  // namespace roomwire::protocol
