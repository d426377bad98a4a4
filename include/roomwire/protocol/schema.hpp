#pragma once

// The field-table mechanism: a payload is a plain aggregate plus a table that names each wire
// field and points at its member. The codec (codec.hpp) walks the table to decode with
// validation and to encode; a host defines its own message types the same way.
//
//   struct join_room {
//     static constexpr std::string_view type = "joinRoom";
//     std::string room_id;
//     static constexpr auto fields() {
//       return roomwire::protocol::fields(field("roomId", &join_room::room_id).chars(1, 128));
//     }
//   };
//
// For a type that cannot be edited, specialise roomwire::protocol::schema<T> with the same two
// members (`type`, `fields()`).

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

namespace roomwire::protocol {

// A JSON object kept as compact text: validated on decode, written back as it came. Used for the
// free-form objects of the contract (`metadata`, `details`, `metrics`). Empty text means `{}`.
struct raw_json {
  std::string text;

  bool empty() const noexcept { return text.empty(); }
  friend bool operator==(const raw_json& a, const raw_json& b) {
    return a.text == b.text || (a.empty() && b.text == "{}") || (b.empty() && a.text == "{}");
  }
  friend bool operator!=(const raw_json& a, const raw_json& b) { return !(a == b); }
};

// An object with some known fields and any number of others that must travel on unchanged
// (chat `metadata`): `known` holds the validated fields, `raw` the whole object as received.
// When `raw` is empty (an object built in code), the known fields are encoded instead.
template <class T>
struct extensible {
  T known{};
  raw_json raw;

  friend bool operator==(const extensible& a, const extensible& b) { return a.known == b.known; }
  friend bool operator!=(const extensible& a, const extensible& b) { return !(a == b); }
};

// Constraints a field's value must satisfy; checked while decoding.
struct limits {
  std::size_t min_length = 0;
  std::size_t max_length = std::numeric_limits<std::size_t>::max();
  bool length_in_bytes = false;  // otherwise in Unicode characters (code points)
  double min_value = -std::numeric_limits<double>::infinity();
  double max_value = std::numeric_limits<double>::infinity();
};

template <class T, class M>
struct field_desc {
  std::string_view name;
  M T::*member;
  bool required = true;
  protocol::limits limits{};

  // Absent on the wire is allowed; the member keeps its default initialiser.
  constexpr field_desc optional() const {
    field_desc copy = *this;
    copy.required = false;
    return copy;
  }
  // Length of a string in Unicode characters, both ends inclusive.
  constexpr field_desc chars(std::size_t min, std::size_t max) const {
    field_desc copy = *this;
    copy.limits.min_length = min;
    copy.limits.max_length = max;
    copy.limits.length_in_bytes = false;
    return copy;
  }
  // Length of a string in bytes of UTF-8, at most `max`.
  constexpr field_desc max_bytes(std::size_t max) const {
    field_desc copy = *this;
    copy.limits.min_length = 0;
    copy.limits.max_length = max;
    copy.limits.length_in_bytes = true;
    return copy;
  }
  // Value range of a number, both ends inclusive.
  constexpr field_desc range(double min, double max) const {
    field_desc copy = *this;
    copy.limits.min_value = min;
    copy.limits.max_value = max;
    return copy;
  }
};

template <class T, class M>
constexpr field_desc<T, M> field(std::string_view name, M T::*member) {
  return field_desc<T, M>{name, member};
}

template <class... Fields>
constexpr std::tuple<Fields...> fields(Fields... f) {
  return std::tuple<Fields...>(f...);
}

// Names of an enumeration's wire strings: specialise with
//   static constexpr std::pair<std::string_view, E> values[] = {{"text", E::text}, ...};
template <class E>
struct enum_names;

// The table of a type: by default the type's own `type` and `fields()`.
template <class T, class = void>
struct schema {};

template <class T>
struct schema<T, std::void_t<decltype(T::fields())>> {
  static constexpr auto fields() { return T::fields(); }
};

namespace detail {
template <class T, class = void>
struct has_schema : std::false_type {};
template <class T>
struct has_schema<T, std::void_t<decltype(schema<T>::fields())>> : std::true_type {};

template <class T, class = void>
struct has_schema_type : std::false_type {};
template <class T>
struct has_schema_type<T, std::void_t<decltype(schema<T>::type)>> : std::true_type {};

template <class T, class = void>
struct has_own_type : std::false_type {};
template <class T>
struct has_own_type<T, std::void_t<decltype(T::type)>> : std::true_type {};

template <class E, class = void>
struct has_enum_names : std::false_type {};
template <class E>
struct has_enum_names<E, std::void_t<decltype(enum_names<E>::values)>> : std::true_type {};

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
struct is_extensible : std::false_type {};
template <class T>
struct is_extensible<extensible<T>> : std::true_type {};

// A cross-field rule: `static std::optional<invalid_field> validate(const T&)`.
template <class T, class = void>
struct has_validate : std::false_type {};
template <class T>
struct has_validate<T, std::void_t<decltype(T::validate(std::declval<const T&>()))>>
    : std::true_type {};
}  // namespace detail

// A cross-field validation failure: the pointer relative to the object and a reason.
struct invalid_field {
  std::string_view pointer;
  std::string_view reason;
};

// True for a type that can be sent as an envelope payload.
template <class T>
inline constexpr bool is_message_v = detail::has_schema<T>::value &&
                                     (detail::has_schema_type<T>::value ||
                                      detail::has_own_type<T>::value);

// The wire tag of a message type ("joinRoom").
template <class T>
constexpr std::string_view type_of() {
  static_assert(detail::has_schema<T>::value,
                "roomwire: this type has no field table; give it `static constexpr auto "
                "fields()` or specialise roomwire::protocol::schema<T>");
  if constexpr (detail::has_schema_type<T>::value) {
    return schema<T>::type;
  } else {
    static_assert(detail::has_own_type<T>::value,
                  "roomwire: a message type needs `static constexpr std::string_view type = "
                  "\"wireName\";` (or schema<T>::type)");
    return T::type;
  }
}

}  // namespace roomwire::protocol
