#pragma once

// Errors the client reports on its own, beside the server's refusals (whose codes 4001-4004 come
// in protocol_category, see protocol/codes.hpp).

#include <string>
#include <system_error>
#include <type_traits>

#include "roomwire/protocol/codes.hpp"

namespace roomwire {

enum class client_errc : int {
  outbox_full = 1,           // disconnected, and the outbox already holds max_outbox requests
  timeout = 2,               // connected, but no answer within the request's timeout
  gave_up = 3,               // reconnection gave up before the request was answered
  closed = 4,                // the connection was closed for good (close() or a 1000 close)
  duplicate_message_id = 5,  // send_options::message_id names a request still unanswered
  invalid_message_id = 6,    // send_options::message_id is not 1-128 characters
  not_connected = 7,         // connect() was never called, or the client is closed
};

namespace detail {
class client_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "roomwire.client"; }
  std::string message(int value) const override {
    switch (static_cast<client_errc>(value)) {
      case client_errc::outbox_full:
        return "the outbox is full";
      case client_errc::timeout:
        return "no answer in time";
      case client_errc::gave_up:
        return "gave up reconnecting";
      case client_errc::closed:
        return "the connection was closed";
      case client_errc::duplicate_message_id:
        return "a request with this messageId is still unanswered";
      case client_errc::invalid_message_id:
        return "a messageId must be 1-128 characters";
      case client_errc::not_connected:
        return "the client is not connected";
    }
    return "unknown client error";
  }
  std::error_condition default_error_condition(int value) const noexcept override {
    switch (static_cast<client_errc>(value)) {
      case client_errc::gave_up:
      case client_errc::closed:
      case client_errc::not_connected:
        return protocol::make_error_condition(protocol::error_condition_kind::connection_closed);
      default:
        return {value, *this};
    }
  }
};
}  // namespace detail

inline const std::error_category& client_category() noexcept {
  static const detail::client_category instance;
  return instance;
}

inline std::error_code make_error_code(client_errc e) noexcept {
  return {static_cast<int>(e), client_category()};
}

}  // namespace roomwire

namespace std {
template <>
struct is_error_code_enum<roomwire::client_errc> : true_type {};
}  // namespace std
