#pragma once

// What the client engine needs of a WebSocket client stack, without naming it: client_engine.cpp
// includes this and never websocketpp. ws_client_plain.cpp and ws_client_tls.cpp implement it
// with websocketpp (the only client translation units that include websocketpp).

#include <cstdint>
#include <memory>
#include <string>
#include <system_error>

#include <asio/io_context.hpp>

namespace roomwire {
struct client_options;
}

namespace roomwire::client_net {

// What a connection reports. Called on an I/O thread; `connection` is the number the engine
// gave to open().
class ws_events {
 public:
  virtual ~ws_events() = default;
  virtual void ws_opened(std::uint64_t connection) = 0;
  virtual void ws_text(std::uint64_t connection, const std::string& text) = 0;
  // Closed, or failed before it opened (code 1006 then, and `reason` says why).
  virtual void ws_closed(std::uint64_t connection, std::uint16_t code,
                         const std::string& reason) = 0;
};

class ws_connection {
 public:
  virtual ~ws_connection() = default;
  virtual void send(const std::string& text) = 0;
  // A close handshake with `code`; a connection still opening is abandoned instead.
  virtual void close(std::uint16_t code, const std::string& reason) = 0;
};

class ws_connector {
 public:
  virtual ~ws_connector() = default;
  // Starts a connection to `url` (which carries the token, or `bearer` is sent as an
  // Authorization header when non-empty). On failure to start, sets `ec` and reports nothing.
  virtual std::shared_ptr<ws_connection> open(std::uint64_t connection, const std::string& url,
                                              const std::string& bearer,
                                              std::weak_ptr<ws_events> events,
                                              std::error_code& ec) = 0;
};

std::shared_ptr<ws_connector> make_plain_connector(asio::io_context& io,
                                                   const client_options& options);
// wss://. Null with `ec` set when TLS is not available.
std::shared_ptr<ws_connector> make_tls_connector(asio::io_context& io,
                                                 const client_options& options,
                                                 std::error_code& ec);

}  // namespace roomwire::client_net
