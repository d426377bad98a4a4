#pragma once

// A real roomwire::server on 127.0.0.1 for one test (port 0, or a given port to restart on);
// stopped, gracefully, when it goes out of scope.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "client_waiting.hpp"
#include "roomwire/server.hpp"
#include "suite_log.hpp"

namespace roomwire_test {

// A server for one test; stopped (gracefully) when it goes out of scope.
class test_server {
 public:
  explicit test_server(std::uint16_t port = 0) {
    roomwire::server_options o;
    o.host = "127.0.0.1";
    o.port = port;
    o.authenticate = roomwire::demo_authenticate;
    o.min_log_level = roomwire::log_level::debug;
    o.log = [](roomwire::log_level, std::string_view line) { suite_log("server", line); };
    server_ = std::make_unique<roomwire::server>(o);
    // What the server was asked to deliver, by messageId (before its dedup).
    server_->on<roomwire::protocol::chat_message>(
        [this](roomwire::session<>&,
               const roomwire::protocol::envelope<roomwire::protocol::chat_message>& m) {
          received.push(m.message_id + " " + m.payload.content);
        });
    server_->start();
  }
  ~test_server() { stop(); }
  void stop() {
    if (server_) server_->stop();
    server_.reset();
  }
  std::uint16_t port() const { return server_->port(); }
  std::string url() const { return url_for(port()); }
  static std::string url_for(std::uint16_t port) {
    return "ws://127.0.0.1:" + std::to_string(port) + "/api/ws";
  }

  inbox<std::string> received;

 private:
  std::unique_ptr<roomwire::server> server_;
};

}  // namespace roomwire_test
