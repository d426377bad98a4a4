#pragma once

// A client core driven as a transport would drive it, with a virtual clock: what it asks of the
// transport is recorded, server frames go in as text, and the callbacks it queues are run by
// run() as roomwire::client runs them.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "roomwire/client/client_core.hpp"
#include "roomwire/protocol.hpp"

namespace roomwire_test {

namespace rw = roomwire;
namespace proto = roomwire::protocol;

class recording_transport final : public rw::client_transport {
 public:
  struct open_call {
    std::uint64_t connection = 0;
    std::string url;
    std::string token;
  };
  struct close_call {
    std::uint64_t connection = 0;
    std::uint16_t code = 0;
    std::string reason;
  };

  void open(std::uint64_t connection, const std::string& url, const std::string& token) override {
    opens.push_back({connection, url, token});
  }
  void send(std::uint64_t connection, const std::string& text) override {
    sent.emplace_back(connection, text);
  }
  void close(std::uint64_t connection, std::uint16_t code, std::string_view reason) override {
    closes.push_back({connection, code, std::string(reason)});
  }

  std::vector<open_call> opens;
  std::vector<std::pair<std::uint64_t, std::string>> sent;
  std::vector<close_call> closes;
};

// A frame the client wrote, with its envelope fields read.
struct written {
  std::string text;
  std::string type;
  std::string message_id;
  proto::priority priority = proto::priority::normal;

  template <class P>
  proto::envelope<P> as() const {
    INFO(text);
    REQUIRE(type == proto::type_of<P>());
    auto decoded = proto::decode<P>(text);
    INFO(decoded.error.path << " " << decoded.error.reason);
    REQUIRE(decoded);
    return *decoded;
  }
};

// One connection event as a string, for asserting on sequences: "connected",
// "closed 1006 open final", "reconnecting 1/5 1000", "gave up: ...".
class client_test {
 public:
  explicit client_test(rw::client_core_options options = {})
      : core(transport, clock, with_seed(std::move(options))) {
    core.on_connected([this] { events.push_back("connected"); });
    core.on_closed([this](const rw::close_info& c) {
      events.push_back("closed " + std::to_string(c.code) + (c.was_open ? " open" : " attempt") +
                       (c.final ? " final" : ""));
    });
    core.on_reconnecting([this](const rw::reconnect_info& r) {
      events.push_back("reconnecting " + std::to_string(r.attempt) + "/" +
                       std::to_string(r.max_attempts) + " " + std::to_string(r.delay_ms) +
                       (r.fresh_token ? " fresh" : ""));
    });
    core.on_gave_up(
        [this](std::string_view why) { events.push_back("gave up: " + std::string(why)); });
  }

  static rw::client_core_options with_seed(rw::client_core_options o) {
    if (o.seed == 0) o.seed = 42;
    return o;
  }

  // Runs the queued callbacks (as the client's thread would).
  void run() {
    for (auto& call : core.take_callbacks()) call();
  }

  // connect() and a successful open of that attempt.
  void connect_and_open(std::string token = "alice") {
    core.connect("ws://127.0.0.1:9002/api/ws", std::move(token));
    open_current();
  }
  void open_current() {
    core.opened(core.connection());
    run();
  }
  void close_current(std::uint16_t code, std::string_view reason = {}) {
    core.closed(core.connection(), code, reason);
    run();
  }
  // The core's next deadline, relative to now.
  std::int64_t wait_ms() const {
    const auto next = core.next_deadline();
    REQUIRE(next.has_value());
    return *next - clock.steady_ms();
  }
  void advance(std::int64_t ms) {
    clock.advance(ms);
    core.tick();
    run();
  }
  // Server frames
  void receive(const std::string& text) {
    core.received(core.connection(), text);
    run();
  }
  template <class P>
  void receive(const proto::envelope<P>& env) {
    receive(proto::encode(env));
  }
  void ack(const std::string& message_id, std::string room = {}) {
    proto::envelope<proto::message_received> env;
    env.payload.message_id = message_id;
    env.payload.room_id = std::move(room);
    env.payload.sender_id = "alice";
    env.payload.timestamp = clock.wall_ms();
    env.message_id = "s-" + message_id;
    env.timestamp = clock.wall_ms();
    receive(env);
  }
  void refuse(const std::string& message_id, const std::string& code,
              const std::string& extra_details = {}) {
    proto::envelope<proto::error_payload> env;
    env.payload.code = code;
    env.payload.message = "refused";
    env.payload.details.text =
        R"({"messageId":")" + message_id + R"(","type":"message")" + extra_details + "}";
    env.message_id = "s-err-" + message_id;
    env.timestamp = clock.wall_ms();
    receive(env);
  }

  // Frames written since the last call, decoded.
  std::vector<written> take_sent() {
    std::vector<written> out;
    for (auto& entry : transport.sent) {
      proto::inbound_frame frame;
      INFO(entry.second);
      REQUIRE(frame.parse(entry.second));
      written w;
      w.text = entry.second;
      w.type = std::string(frame.type());
      w.message_id = std::string(frame.header().message_id);
      w.priority = frame.header().priority;
      out.push_back(std::move(w));
    }
    transport.sent.clear();
    return out;
  }
  std::vector<std::string> take_events() {
    std::vector<std::string> out;
    out.swap(events);
    return out;
  }

  roomwire::core::manual_clock clock;
  recording_transport transport;
  rw::client_core core;
  std::vector<std::string> events;
};

}  // namespace roomwire_test
