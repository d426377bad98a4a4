#pragma once

// roomwire::client — a C++ endpoint of the protocol (PROTOCOL.md §1-§3, §6).
//
//   roomwire::client c;
//   c.on<roomwire::protocol::chat_delivery>([](const auto& m) { print(m.payload.content); });
//   c.on_closed([](const roomwire::close_info& i) { log(i.code); });
//   c.connect("ws://127.0.0.1:9002/api/ws", "alice");
//   c.join("lobby");
//   auto sent = c.send_message("lobby", "hello");
//   if (auto r = sent.wait_for(std::chrono::seconds(5)); r && r->ok()) { /* acknowledged */ }
//   c.close();
//
// Threading (see README.md): every call may be made from any thread. Handlers, connection events
// and send callbacks run one at a time, in order, on the client's thread (its own, or the host's
// io_context threads through a strand), never inside a call of yours; a handler may call the
// client again but must not block on it (send_handle::get, wait_for_acks, wait_closed).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <asio/io_context.hpp>

#include "roomwire/client/client_core.hpp"
#include "roomwire/client/error.hpp"
#include "roomwire/client/events.hpp"
#include "roomwire/client/reconnect.hpp"
#include "roomwire/client/send_handle.hpp"
#include "roomwire/detail/client_engine.hpp"
#include "roomwire/protocol.hpp"

namespace roomwire {

struct client_tls_options {
  // Verify the server's certificate chain and that it names the host (off: any certificate).
  bool verify_peer = true;
  std::string ca_file;      // PEM bundle; empty: the system's default trust store
  std::string server_name;  // the name to verify; empty: the URL's host
};

// The reconnection, outbox and timeout numbers are in client_core_options (the base).
struct client_options : client_core_options {
  // For connect() without arguments.
  std::string url;  // ws://HOST:PORT/api/ws or wss://...
  std::string token;
  // When set, called for every connection attempt (on the client's thread; it may block only
  // briefly and must not call the client), and a 4000 close is retried once with a new token.
  roomwire::token_provider get_token;
  // Send the token as `Authorization: Bearer` instead of the `token` query parameter.
  bool token_in_header = false;
  std::int64_t open_timeout_ms = 10000;  // the WebSocket handshake
  std::int64_t close_timeout_ms = 5000;  // the close handshake, then the TCP connection is dropped
  std::size_t max_message_bytes = 16u << 20;  // larger inbound frames close the connection (1009)
  client_tls_options tls;                     // for wss:// URLs
};

class client {
 public:
  // A client with its own io_context and thread.
  explicit client(client_options options = {}) : engine_(std::move(options)) {}
  // A client on the host's io_context: the host runs it (on any number of threads).
  client(asio::io_context& io, client_options options) : engine_(io, std::move(options)) {}
  // Closes with 1000 (waiting up to close_timeout_ms for the handshake unless called on the
  // client's thread); requests still unanswered complete with client_errc::closed, without
  // their callbacks. No handler runs once it returns.
  ~client() = default;
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // ---- connection ----------------------------------------------------------------------

  // Connects to options().url with options().token (or get_token), and reconnects per §6 until
  // close(). Sends made before connect() wait in the outbox.
  void connect() {
    engine_.with_core([this](client_core& c) {
      const client_options& o = engine_.options();
      if (o.get_token) {
        c.connect(o.url, o.get_token);
      } else {
        c.connect(o.url, o.token);
      }
    });
  }
  void connect(std::string url, std::string token) {
    engine_.with_core([&](client_core& c) { c.connect(std::move(url), std::move(token)); });
  }
  void connect(std::string url, token_provider tokens) {
    engine_.with_core([&](client_core& c) { c.connect(std::move(url), std::move(tokens)); });
  }
  // Closes for good with `code` (no reconnection). Returns at once; on_closed reports the end.
  void close(std::uint16_t code = 1000, std::string reason = {}) {
    engine_.with_core([&](client_core& c) { c.close(code, std::move(reason)); });
  }
  // Waits until every request has its answer (acknowledged, refused, timed out or failed) and
  // its callbacks ran. False on timeout, or when called on the client's thread.
  template <class Rep, class Period>
  bool wait_for_acks(std::chrono::duration<Rep, Period> timeout) const {
    return engine_.wait_for_acks(std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
  }
  // Waits until the client is closed for good (close(), 1000, 4000 or gave up) and its
  // callbacks ran. False on timeout, or when called on the client's thread.
  template <class Rep, class Period>
  bool wait_closed(std::chrono::duration<Rep, Period> timeout) const {
    return engine_.wait_closed(std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
  }

  // ---- receiving -----------------------------------------------------------------------

  // Handler for a server → client type: chat_delivery, message_received, task_assign_delivery,
  // task_update_delivery, error_payload, health_update, or the host's own:
  //   void handler(const roomwire::protocol::envelope<T>&)
  // One handler per wire type; a later on<T> replaces it. An exception it throws is reported to
  // on_error and goes no further.
  template <class T, class F>
  void on(F&& handler) {
    static_assert(protocol::is_message_v<T>,
                  "roomwire: on<T>: T needs `static constexpr std::string_view type` and "
                  "`static constexpr auto fields()` (or a roomwire::protocol::schema<T>)");
    static_assert(std::is_invocable_v<std::decay_t<F>&, const protocol::envelope<T>&>,
                  "roomwire: client.on<T>(handler): the handler must be callable as "
                  "`void(const roomwire::protocol::envelope<T>&)`");
    engine_.with_core([&](client_core& c) { c.on<T>(std::forward<F>(handler)); });
  }
  // Every text frame exactly as received, before its typed handler.
  void on_frame(std::function<void(std::string_view json)> handler) {
    engine_.with_core([&](client_core& c) { c.on_frame(std::move(handler)); });
  }
  void on_invalid_frame(
      std::function<void(std::string_view json, const protocol::decode_error&)> handler) {
    engine_.with_core([&](client_core& c) { c.on_invalid_frame(std::move(handler)); });
  }

  // ---- connection events ---------------------------------------------------------------

  void on_connected(std::function<void()> handler) {
    engine_.with_core([&](client_core& c) { c.on_connected(std::move(handler)); });
  }
  // A connection closed or an attempt failed; info.final: no reconnection follows.
  void on_closed(std::function<void(const close_info&)> handler) {
    engine_.with_core([&](client_core& c) { c.on_closed(std::move(handler)); });
  }
  void on_reconnecting(std::function<void(const reconnect_info&)> handler) {
    engine_.with_core([&](client_core& c) { c.on_reconnecting(std::move(handler)); });
  }
  void on_gave_up(std::function<void(std::string_view reason)> handler) {
    engine_.with_core([&](client_core& c) { c.on_gave_up(std::move(handler)); });
  }
  // After a reconnect, a room whose missed messages could not all be replayed (§6 recovery;
  // client_options::recover_history): some may be lost. Runs after those that were replayed.
  void on_history_gap(std::function<void(std::string_view room_id)> handler) {
    engine_.with_core([&](client_core& c) { c.on_history_gap(std::move(handler)); });
  }
  // An exception thrown by a handler or callback. Default: a line on standard error.
  void on_error(std::function<void(std::string_view what)> handler) {
    engine_.on_error(std::move(handler));
  }

  // ---- sending: thread-safe; each returns a handle completed by the answer ----------------

  send_handle join(std::string room_id, send_options options = {}) {
    return send(protocol::join_room{std::move(room_id), {}}, std::move(options));
  }
  send_handle leave(std::string room_id, send_options options = {}) {
    return send(protocol::leave_room{std::move(room_id)}, std::move(options));
  }
  send_handle send_message(std::string room_id, std::string content, send_options options = {}) {
    protocol::chat_message m;
    m.room_id = std::move(room_id);
    m.content = std::move(content);
    return send(std::move(m), std::move(options));
  }
  send_handle send_message(protocol::chat_message message, send_options options = {}) {
    return send(std::move(message), std::move(options));
  }
  // The envelope takes the task's priority unless options.priority says otherwise.
  send_handle assign_task(std::string task_id, std::string assignee_id,
                          protocol::priority priority = protocol::priority::normal,
                          send_options options = {}) {
    protocol::task_assign t;
    t.task_id = std::move(task_id);
    t.assignee_id = std::move(assignee_id);
    t.priority = priority;
    if (!options.priority) options.priority = priority;
    return send(std::move(t), std::move(options));
  }
  send_handle update_task(std::string task_id, std::string status, double progress,
                          send_options options = {}) {
    protocol::task_update u;
    u.task_id = std::move(task_id);
    u.status = std::move(status);
    u.progress = progress;
    return send(std::move(u), std::move(options));
  }
  send_handle update_task(protocol::task_update update, send_options options = {}) {
    return send(std::move(update), std::move(options));
  }
  // Any client → server type, built-in or the host's own.
  template <class T>
  send_handle send(T payload, send_options options = {}) {
    static_assert(protocol::is_message_v<T>,
                  "roomwire: send<T>: T needs `static constexpr std::string_view type` and "
                  "`static constexpr auto fields()` (or a roomwire::protocol::schema<T>)");
    send_handle handle;
    engine_.with_core(
        [&](client_core& c) { handle = c.send(std::move(payload), std::move(options)); });
    return handle;
  }

  // ---- state ---------------------------------------------------------------------------

  connection_state state() const {
    connection_state s = connection_state::idle;
    engine_.with_core([&](client_core& c) { s = c.state(); });
    return s;
  }
  // Rooms joined (acknowledged) and not left.
  std::vector<std::string> rooms() const {
    std::vector<std::string> r;
    engine_.with_core([&](client_core& c) { r = c.rooms(); });
    return r;
  }
  // Requests not answered yet.
  std::size_t pending() const {
    std::size_t n = 0;
    engine_.with_core([&](client_core& c) { n = c.pending(); });
    return n;
  }
  const client_options& options() const noexcept { return engine_.options(); }

 private:
  detail::client_engine engine_;
};

}  // namespace roomwire
