// The error codes of the contract as std::error_code, and the coarse conditions they map to.

#include <catch2/catch.hpp>

#include <string>
#include <system_error>

#include "roomwire/protocol.hpp"

namespace rp = roomwire::protocol;

TEST_CASE("error codes: messages and category", "[errors]") {
  CHECK(std::string(rp::protocol_category().name()) == "roomwire");
  CHECK(make_error_code(rp::error_code::invalid_authentication).message() ==
        "invalid authentication");
  CHECK(make_error_code(rp::error_code::rate_limited).message() == "rate limit exceeded");
  CHECK(make_error_code(rp::error_code::invalid_message).message() == "invalid message format");
  CHECK(make_error_code(rp::error_code::room_not_found).message() == "room not found");
  CHECK(make_error_code(rp::error_code::permission_denied).message() == "permission denied");

  // Implicit conversion through is_error_code_enum.
  const std::error_code ec = rp::error_code::room_not_found;
  CHECK(ec.value() == 4003);
  CHECK(&ec.category() == &rp::protocol_category());
  CHECK(ec == std::error_code(4003, rp::protocol_category()));
  CHECK(ec != std::error_code(4003, std::generic_category()));
}

TEST_CASE("error codes: wire form", "[errors]") {
  CHECK(rp::to_wire(rp::error_code::invalid_authentication) == "4000");
  CHECK(rp::to_wire(rp::error_code::rate_limited) == "4001");
  CHECK(rp::to_wire(rp::error_code::invalid_message) == "4002");
  CHECK(rp::to_wire(rp::error_code::room_not_found) == "4003");
  CHECK(rp::to_wire(rp::error_code::permission_denied) == "4004");
}

TEST_CASE("error codes: refusals and closures map to two conditions", "[errors]") {
  using rp::error_condition_kind;
  CHECK(std::error_code(4003, rp::protocol_category()) == error_condition_kind::refused_request);
  CHECK(make_error_code(rp::error_code::room_not_found) == error_condition_kind::refused_request);
  CHECK(make_error_code(rp::error_code::permission_denied) ==
        error_condition_kind::refused_request);
  CHECK(make_error_code(rp::error_code::rate_limited) == error_condition_kind::refused_request);
  CHECK(make_error_code(rp::error_code::invalid_message) == error_condition_kind::refused_request);
  CHECK(make_error_code(rp::error_code::room_not_found) != error_condition_kind::connection_closed);

  CHECK(make_error_code(rp::error_code::invalid_authentication) ==
        error_condition_kind::connection_closed);
  CHECK(make_error_code(rp::close_code::going_away) == error_condition_kind::connection_closed);
  CHECK(make_error_code(rp::close_code::message_too_big) ==
        error_condition_kind::connection_closed);
  CHECK(make_error_code(rp::close_code::going_away) != error_condition_kind::refused_request);
  // A code of another category is neither.
  CHECK(std::error_code(4003, std::generic_category()) != error_condition_kind::refused_request);

  CHECK(make_error_condition(error_condition_kind::refused_request).message() == "request refused");
  CHECK(make_error_condition(error_condition_kind::connection_closed).message() ==
        "connection closed");
  CHECK(std::string(rp::condition_category().name()) == "roomwire.condition");
}

TEST_CASE("close codes: values and messages of PROTOCOL.md §7", "[errors]") {
  struct row {
    rp::close_code code;
    int value;
    const char* message;
  };
  const row rows[] = {
      {rp::close_code::normal, 1000, "normal closure"},
      {rp::close_code::going_away, 1001, "going away"},
      {rp::close_code::protocol_error, 1002, "protocol error"},
      {rp::close_code::unsupported_data, 1003, "unsupported data"},
      {rp::close_code::invalid_payload, 1007, "invalid payload data"},
      {rp::close_code::policy_violation, 1008, "slow consumer"},
      {rp::close_code::message_too_big, 1009, "message too big"},
      {rp::close_code::invalid_authentication, 4000, "invalid authentication"},
      {rp::close_code::rate_limited, 4001, "rate limit exceeded"},
      {rp::close_code::invalid_message, 4002, "invalid message format"},
  };
  for (const row& r : rows) {
    INFO(r.value);
    CHECK(static_cast<int>(r.code) == r.value);
    CHECK(make_error_code(r.code).message() == r.message);
    CHECK(rp::describe(r.code) == r.message);
  }
  // 4000–4002 are both error codes and close codes: the same value, the same meaning.
  CHECK(make_error_code(rp::close_code::rate_limited) ==
        make_error_code(rp::error_code::rate_limited));
}

TEST_CASE("priorities: values of PROTOCOL.md §4", "[errors]") {
  CHECK(static_cast<int>(rp::priority::critical) == 0);
  CHECK(static_cast<int>(rp::priority::high) == 1);
  CHECK(static_cast<int>(rp::priority::normal) == 2);
  CHECK(static_cast<int>(rp::priority::low) == 3);
  CHECK(static_cast<int>(rp::priority::background) == 4);
  CHECK(rp::priority_count == 5);
}
