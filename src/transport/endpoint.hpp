#pragma once

// The seam between the server core (hub glue: locking, pumping, timers, HTTP routes; no
// websocketpp) and the endpoints: ws:// in ws_plain.cpp (RFC 6455 on Asio directly, frames read
// by ws_wire.hpp) and wss:// in ws_tls.cpp (websocketpp, ws_endpoint.hpp).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include "roomwire/core/types.hpp"
#include "roomwire/server.hpp"

namespace roomwire::transport {

// The write-side watermark: frames are pulled from the hub only while the connection holds less
// than this, so that priority order applies to whatever is still in the hub's queue. 16 KiB
// gathers a burst into few writes while the socket keeps up.
inline constexpr std::size_t send_high_water = 16 * 1024;
// The watermark of a connection whose socket has been full since it last caught up (a reader
// slower than what is sent to it): a few frames per write, so that its backlog waits in the hub's
// queue, where a priority-0 frame overtakes it. Only such connections pay the extra writes; a
// priority-0 frame waits behind about 12 KB instead of 25 (tests/integration/backpressure_test).
inline constexpr std::size_t pressed_send_high_water = 4 * 1024;
// What an accepted socket may hold unsent in the kernel (TCP_NOTSENT_LOWAT), for the same
// reason. A socket whose reader and network take what is sent at once holds nothing unsent,
// so the limit costs it nothing. TCP_NOTSENT_LOWAT still lets a write fill the last unsent
// segment, so both transports also check this limit themselves on a connection that is behind
// (listen_socket.hpp, kernel_unsent_at_limit()).
inline constexpr std::size_t unsent_bytes_limit = 4 * 1024;
// How soon a wss:// connection with frames still waiting is pumped again (and its backlog
// re-reported) when nothing else asks for it: the link pumps as soon as websocketpp has written
// its window, or the kernel takes more, and this timer is the backstop.
inline constexpr std::int64_t repump_interval_ms = 5;

// One upgraded WebSocket connection as the core sees it. Its handlers run on its strand, or, when
// the server's only I/O thread is its own (one_io_thread below), on that thread.
class link {
 public:
  virtual ~link() = default;
  // Thread-safe. Soon runs endpoint_host::pump(*this) on the connection's strand; coalesced.
  virtual void request_pump() = 0;
  // Thread-safe. A close frame behind what the connection already holds; the TCP connection is
  // dropped if the close handshake has not finished 5 s later.
  virtual void request_close(protocol::close_code code, std::string reason) = 0;
  // Thread-safe. Drops the TCP connection at once (only when a stop overruns its deadline).
  virtual void request_terminate() = 0;

  // Only on the connection's strand (that is, inside endpoint_host::pump):
  // bytes it holds that the kernel has not taken (websocketpp: those queued behind its write).
  virtual std::size_t buffered() const = 0;
  // How much it may hold before the pump stops taking frames from the hub: asked once, as a pump
  // begins. 0 takes nothing this time; the link then pumps again once it can take more.
  virtual std::size_t send_window() { return send_high_water; }
  // How much it may hold once send_window() is used up, of priority-0 frames only: more when it
  // paces its reader (read_credit.hpp), which must never hold a priority-0 frame back. Asked
  // after send_window().
  virtual std::size_t critical_window() { return 0; }
  // Hands one frame to the connection (a prepared message shared by every recipient).
  virtual void send(const core::frame& f) = 0;

  // Set once by the core (in on_open), before the first pump.
  core::session_id session = 0;
};

// What the endpoint read from a request. `authorization` is secret: never log it.
struct request_info {
  std::string method;
  std::string target;  // path and query as sent; the query may hold a token: never log it
  std::optional<std::string> origin;
  std::optional<std::string> authorization;
  std::string remote;  // "address:port", for logs
};

struct http_reply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct upgrade_decision {
  int refuse_status = 0;  // 0: upgrade; otherwise answer with this HTTP status and no upgrade
  std::string body;
  std::optional<core::identity> who;  // nullopt: upgrade, then close with 4000 at once
};

// What the endpoint asks of the core. Every function may run on any I/O thread.
class endpoint_host {
 public:
  virtual ~endpoint_host() = default;
  // A plain HTTP request (no upgrade).
  virtual http_reply on_http(const request_info& request) = 0;
  // An upgrade request: path, origin, capacity and the token.
  virtual upgrade_decision on_upgrade(const request_info& request) = 0;
  // An upgraded connection whose token was rejected: closed with 4000, no session.
  virtual void on_rejected(const std::string& remote) = 0;
  // An authenticated connection is open; returns its session, or 0 to close it with 1001.
  virtual core::session_id on_open(const std::shared_ptr<link>& l, core::identity who) = 0;
  virtual void on_text(core::session_id session, std::string_view text) = 0;
  // The connection of an open session ended, with this close code. Exactly once per session.
  virtual void on_closed(core::session_id session, int code) = 0;
  // A connection that had passed on_upgrade ended (with or without a session).
  virtual void on_admitted_end() = 0;
  // A failed handshake: bad request, refused upgrade, TLS failure, timeout.
  virtual void on_handshake_failed(std::string_view why, const std::string& remote) = 0;
  // Moves frames from the hub to the link (on the link's strand). True: pump again later.
  virtual bool pump(link& l) = 0;
  virtual void log(log_level level, std::string_view line) = 0;
};

// A listening WebSocket endpoint.
class endpoint {
 public:
  virtual ~endpoint() = default;
  // Binds, listens and starts accepting.
  virtual void listen(const asio::ip::tcp::endpoint& at, std::error_code& ec) = 0;
  virtual std::uint16_t port() const noexcept = 0;
  // Thread-safe: no new connections once `done` runs (on an I/O thread); existing ones are
  // untouched.
  virtual void stop_listening(std::function<void()> done) = 0;
};

// The endpoint keeps only a weak reference to its host: once the host is gone, every callback
// becomes a no-op. Pending operations keep the endpoint itself alive. `one_io_thread`: every
// handler of `io` runs on one thread (the server's own), so connections may skip their strands.
std::shared_ptr<endpoint> make_plain_endpoint(asio::io_context& io, const server_options& options,
                                              std::weak_ptr<endpoint_host> host,
                                              bool one_io_thread);
// Loads the certificate and key; fails with ec when they cannot be used.
std::shared_ptr<endpoint> make_tls_endpoint(asio::io_context& io, const server_options& options,
                                            std::weak_ptr<endpoint_host> host, std::error_code& ec);

}  // namespace roomwire::transport
