#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace roomwire::protocol {

// Envelope priority (PROTOCOL.md §4): lower number, more urgent.
enum class priority : std::uint8_t {
  critical = 0,
  high = 1,
  normal = 2,
  low = 3,
  background = 4,
};

inline constexpr int priority_count = 5;

// Codes carried in an `error` envelope's payload.code (as a decimal string) and, for
// 4000-4002, also used as WebSocket close codes.
enum class error_code : int {
  invalid_authentication = 4000,
  rate_limited = 4001,
  invalid_message = 4002,
  room_not_found = 4003,
  permission_denied = 4004,
};

// WebSocket close codes of PROTOCOL.md §7.
enum class close_code : std::uint16_t {
  normal = 1000,
  going_away = 1001,
  protocol_error = 1002,
  unsupported_data = 1003,
  invalid_payload = 1007,
  policy_violation = 1008,
  message_too_big = 1009,
  invalid_authentication = 4000,
  rate_limited = 4001,
  invalid_message = 4002,
};

inline std::string_view describe(error_code c) noexcept {
  switch (c) {
    case error_code::invalid_authentication:
      return "invalid authentication";
    case error_code::rate_limited:
      return "rate limit exceeded";
    case error_code::invalid_message:
      return "invalid message format";
    case error_code::room_not_found:
      return "room not found";
    case error_code::permission_denied:
      return "permission denied";
  }
  return "unknown error";
}

inline std::string_view describe(close_code c) noexcept {
  switch (c) {
    case close_code::normal:
      return "normal closure";
    case close_code::going_away:
      return "going away";
    case close_code::protocol_error:
      return "protocol error";
    case close_code::unsupported_data:
      return "unsupported data";
    case close_code::invalid_payload:
      return "invalid payload data";
    case close_code::policy_violation:
      return "slow consumer";
    case close_code::message_too_big:
      return "message too big";
    case close_code::invalid_authentication:
      return "invalid authentication";
    case close_code::rate_limited:
      return "rate limit exceeded";
    case close_code::invalid_message:
      return "invalid message format";
  }
  return "unknown close code";
}

// The wire form of an error code: its decimal value as a string ("4002").
inline std::string to_wire(error_code c) { return std::to_string(static_cast<int>(c)); }

// Coarse conditions that fine-grained codes map to, for callers that only branch on kind.
enum class error_condition_kind : int {
  refused_request = 1,  // the request was answered with an error; the session stays open
  connection_closed = 2,
};

namespace detail {
class protocol_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "roomwire"; }
  std::string message(int value) const override {
    if (value >= 4000) return std::string(describe(static_cast<error_code>(value)));
    return std::string(describe(static_cast<close_code>(value)));
  }
  std::error_condition default_error_condition(int value) const noexcept override;
};

class condition_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "roomwire.condition"; }
  std::string message(int value) const override {
    return value == static_cast<int>(error_condition_kind::refused_request) ? "request refused"
                                                                            : "connection closed";
  }
};
}  // namespace detail

inline const std::error_category& condition_category() noexcept {
  static const detail::condition_category instance;
  return instance;
}

inline const std::error_category& protocol_category() noexcept {
  static const detail::protocol_category instance;
  return instance;
}

inline std::error_condition detail::protocol_category::default_error_condition(
    int value) const noexcept {
  const bool refused = value == 4003 || value == 4004 || value == 4001 || value == 4002;
  // Qualified: unqualified, `condition_category` names the class detail::condition_category,
  // and this would bind the condition to a temporary category object.
  return {static_cast<int>(refused ? error_condition_kind::refused_request
                                   : error_condition_kind::connection_closed),
          protocol::condition_category()};
}

inline std::error_code make_error_code(error_code c) noexcept {
  return {static_cast<int>(c), protocol_category()};
}
inline std::error_code make_error_code(close_code c) noexcept {
  return {static_cast<int>(c), protocol_category()};
}
inline std::error_condition make_error_condition(error_condition_kind k) noexcept {
  return {static_cast<int>(k), condition_category()};
}

}  // namespace roomwire::protocol

namespace std {
template <>
struct is_error_code_enum<roomwire::protocol::error_code> : true_type {};
template <>
struct is_error_code_enum<roomwire::protocol::close_code> : true_type {};
template <>
struct is_error_condition_enum<roomwire::protocol::error_condition_kind> : true_type {};
}  // namespace std
