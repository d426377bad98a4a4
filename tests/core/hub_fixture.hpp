#pragma once

// A hub driven as a transport would drive it, with a virtual clock: frames go in as text, come
// out through hub::pop(), and are decoded with the protocol codec to be asserted on.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>
#include <catch2/catch.hpp>

#include "roomwire/core/broker.hpp"
#include "roomwire/core/hub.hpp"
#include "roomwire/protocol.hpp"

namespace roomwire_test {

namespace core = roomwire::core;
namespace proto = roomwire::protocol;

struct close_call {
  core::session_id session = 0;
  proto::close_code code = proto::close_code::normal;
  std::string reason;
};

class fake_transport final : public core::transport {
 public:
  void wake(core::session_id session) override { wakes.push_back(session); }
  void close(core::session_id session, proto::close_code code, std::string_view reason) override {
    closes.push_back(close_call{session, code, std::string(reason)});
  }

  std::size_t wakes_for(core::session_id session) const;
  std::size_t closes_for(core::session_id session) const;
  // The one close asked for the session (fails the test when there is not exactly one).
  close_call close_of(core::session_id session) const;

  std::vector<core::session_id> wakes;
  std::vector<close_call> closes;
};

// A popped frame with its envelope fields read.
struct received {
  core::frame_ptr frame;
  std::string type;
  std::string message_id;
  proto::priority priority = proto::priority::normal;
  std::int64_t timestamp = 0;

  template <class P>
  proto::envelope<P> as() const {
    INFO(frame->text);
    REQUIRE(type == proto::type_of<P>());
    auto decoded = proto::decode<P>(frame->text);
    INFO(decoded.error.path << " " << decoded.error.reason);
    REQUIRE(decoded);
    return *decoded;
  }
  // The whole envelope as a DOM, for fields the typed payloads do not keep.
  rapidjson::Document json() const;
};

// The payload of an `error` frame.
struct error_view {
  std::string code;
  std::string message;
  rapidjson::Document details;

  bool has(const char* key) const { return details.HasMember(key); }
  std::string str(const char* key) const;
  std::int64_t integer(const char* key) const;
};

class hub_test {
 public:
  explicit hub_test(core::hub_options options = {}, core::hub_policies policies = {},
                    std::shared_ptr<core::broker> broker = nullptr);

  core::session_id open(const std::string& user, std::vector<std::string> roles = {});
  void send(core::session_id session, std::string_view text) { hub->receive(session, text); }
  std::vector<received> pop_all(core::session_id session);
  // Exactly one frame is queued: that one.
  received pop_one(core::session_id session);
  // Nothing is queued.
  void expect_nothing(core::session_id session);
  // Joins and pops the acknowledgement.
  void join(core::session_id session, std::string_view room);
  // Opens a session of `user` and joins it to `room`.
  core::session_id member(const std::string& user, std::string_view room,
                          std::vector<std::string> roles = {});

  core::manual_clock clock;
  fake_transport transport;
  std::unique_ptr<core::hub> hub;

 private:
  int joins_ = 0;
};

received read(core::frame_ptr f);

// Client frames.
std::string request(std::string_view type, std::string_view payload_json,
                    std::string_view message_id = {}, int priority = -1);
std::string join_req(std::string_view room, std::string_view message_id = {});
std::string leave_req(std::string_view room, std::string_view message_id = {});
std::string chat_req(std::string_view room, std::string_view content,
                     std::string_view message_id = {}, int priority = -1,
                     std::string_view metadata_json = {});
std::string assign_req(std::string_view task, std::string_view assignee,
                       std::string_view message_id = {}, int priority = -1, int task_priority = -1);
std::string update_req(std::string_view task, std::string_view status, double progress,
                       std::string_view message_id = {}, std::string_view metadata_json = {});

// Checks that `r` is an acknowledgement of `message_id` and returns its payload.
proto::message_received expect_ack(const received& r, std::string_view message_id);
// Checks that `r` is an error with `code` and returns it.
error_view expect_error(const received& r, std::string_view code);

// Options with the rate limit out of the way (for tests that send many frames).
core::hub_options unlimited();

}  // namespace roomwire_test
