#pragma once

// roomwire::server — the hub behind a WebSocket endpoint (PROTOCOL.md §1, §4, §5, §7, §8).
//
//   roomwire::server_options opts;
//   opts.authenticate = roomwire::demo_authenticate;
//   roomwire::server srv(opts);
//   srv.on<my_type>([](roomwire::session<>& s, const roomwire::protocol::envelope<my_type>& m) {
//     return roomwire::core::verdict::accept();
//   });
//   srv.start();          // throws std::system_error
//   ...
//   srv.stop();           // graceful drain (§8)
//
// Threading (see README.md): every hub call is serialised by the server; handlers run on the
// server's I/O threads with that lock held; the push functions (send, send_to_user, ...) may be
// called from any thread, handlers included.

#include <any>
#include <cstddef>
#include <memory>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <asio/io_context.hpp>

#include "roomwire/core/hub.hpp"
#include "roomwire/detail/server_core.hpp"
#include "roomwire/protocol.hpp"

namespace roomwire {

enum class log_level { debug, info, warning, error };

// Token → identity; nullopt rejects the connection (close 4000). Called on an I/O thread,
// concurrently from several threads when threads > 1; it may block only briefly.
using authenticator = std::function<std::optional<core::identity>(std::string_view token)>;
// Receives every log line of the server. Tokens and Authorization values never reach it.
using log_sink = std::function<void(log_level, std::string_view)>;

// The demo authenticator of roomwire-server (§1): a token of 1-64 characters [A-Za-z0-9_.-] is
// its own userId, with no roles. For demos only.
std::optional<core::identity> demo_authenticate(std::string_view token);

namespace core {
class broker;
}

// What a broker factory (server_options::broker) gets from the server that will own the broker.
struct broker_context {
  asio::io_context& io;  // the server's event loop: the broker does its I/O on it
  // Runs fn at once, holding the lock under which the server calls the hub: a broker's own I/O
  // callbacks go through it before they touch its state or call its listener (the hub).
  std::function<void(const std::function<void()>&)> serialized;
  std::function<void(log_level, std::string_view)> log;  // the server's log
};
// Makes the broker the server's hub uses (see roomwire/core/broker.hpp), e.g.
// roomwire::redis::broker_factory(...) from roomwire/redis.hpp.
using broker_factory = std::function<std::shared_ptr<core::broker>(const broker_context&)>;

struct tls_options {
  std::string certificate_chain_file;  // PEM: the certificate, then any intermediates
  std::string private_key_file;        // PEM, unencrypted
};

struct server_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 9002;  // 0: pick a free port (see port())
  std::string path = "/api/ws";
  std::size_t max_message_bytes = 65536;  // a larger frame or message: close 1009
  std::int64_t ping_interval_ms = 30000;
  std::int64_t pong_timeout_ms = 60000;  // no pong this long after a ping: close 1001
  std::int64_t handshake_timeout_ms = 5000;
  // Pace a client that has fallen behind by its pongs (docs/protocol.md §4): at most a few KiB
  // unread, at four fifths of the rate it reads, so that a priority-0 message finds a slow reader
  // idle instead of behind its whole receive buffer. Only sessions sent more than one priority
  // lately are paced. Off by default: it slows those whose readers are only briefly behind
  // (docs/benchmarks.md).
  bool pace_readers = false;
  // Empty: any origin. Otherwise a handshake whose Origin header is not listed (exact match)
  // gets HTTP 403. A handshake without an Origin header (a non-browser client) is allowed.
  std::vector<std::string> allowed_origins;
  std::size_t max_connections = 0;  // 0: no limit; past it, a handshake gets HTTP 503
  int threads = 1;                  // I/O threads the server owns (ignored on a host io_context)
  std::optional<tls_options> tls;   // set: wss:// only
  std::string static_dir;           // non-empty: GET serves files below it
  bool serve_metrics = true;        // GET /metrics and GET /healthz
  core::hub_options hub;
  core::hub_policies policies;
  broker_factory broker;  // empty: one node, in memory (core::in_process_broker)
  // Empty: every connection is refused with 4000 (and a warning is logged at start).
  roomwire::authenticator authenticate;
  log_sink log;  // empty: standard error
  log_level min_log_level = log_level::info;
};

// A session as a handler sees it: valid only during the handler call.
template <class UserData = std::monostate>
class session {
  static_assert(std::is_copy_constructible_v<UserData>,
                "roomwire: UserData is kept in a std::any and must be copy-constructible");

 public:
  explicit session(core::session_view& view) noexcept : view_(view) {}

  core::session_id id() const noexcept { return view_.id(); }
  const core::identity& identity() const noexcept { return view_.identity(); }
  const std::string& user_id() const noexcept { return view_.user_id(); }
  // The session's own data, value-initialised on first use; lives as long as the session.
  UserData& data() {
    std::any& slot = view_.data();
    if (UserData* existing = std::any_cast<UserData>(&slot)) return *existing;
    return slot.emplace<UserData>();
  }
  // Queues an envelope for this session (a reply).
  template <class P>
  void send(const protocol::envelope<P>& env) {
    view_.send(env);
  }
  core::session_view& view() noexcept { return view_; }

 private:
  core::session_view& view_;
};

template <class UserData = std::monostate>
class basic_server {
 public:
  using session_type = session<UserData>;

  // A server that owns its io_context and options.threads threads.
  explicit basic_server(server_options options = {}) : core_(std::move(options)) {}
  // A server on the host's io_context: the host runs it (on as many threads as it likes).
  basic_server(asio::io_context& io, server_options options) : core_(io, std::move(options)) {}

  // Binds, listens and starts serving. Register handlers before this.
  void start() {
    std::error_code ec;
    core_.start(ec);
    if (ec) throw std::system_error(ec, "roomwire: cannot start the server");
  }
  void start(std::error_code& ec) noexcept { core_.start(ec); }
  // The port it listens on (the chosen one when options.port was 0); 0 before start().
  std::uint16_t port() const noexcept { return core_.port(); }

  // Graceful stop (§8): `draining` to every session, no new sessions (while draining, upgrades
  // get HTTP 503 and /healthz says 503), priority 0-2 flushed for at most 5 s, every session
  // closed with 1001, then the listener closed. Returns when that is done. From one of the
  // server's I/O threads (a handler) it only begins the drain and returns; use async_stop().
  void stop() { core_.stop(); }
  // Begins the same stop and returns; `done` runs (on an I/O thread) when it is finished.
  void async_stop(std::function<void()> done = {}) { core_.async_stop(std::move(done)); }

  // Handler for a message type (built-in or the host's own):
  //   core::verdict handler(session_type&, const protocol::envelope<T>&)  (or void: accept)
  // It runs on an I/O thread with the hub lock held. An exception it throws is logged, and the
  // request is refused with 4004 (counted in metrics().handler_errors).
  template <class T, class F>
  void on(F&& handler) {
    static_assert(protocol::is_message_v<T>,
                  "roomwire: on<T>: T needs `static constexpr std::string_view type` and "
                  "`static constexpr auto fields()` (or a roomwire::protocol::schema<T>)");
    constexpr bool typed = std::is_invocable_v<F&, session_type&, const protocol::envelope<T>&>;
    constexpr bool plain =
        std::is_invocable_v<F&, core::session_view&, const protocol::envelope<T>&>;
    static_assert(typed || plain,
                  "roomwire: server.on<T>(handler): the handler must be callable as "
                  "`verdict(roomwire::session<UserData>&, const "
                  "roomwire::protocol::envelope<T>&)` (or return void to accept)");
    core_.with_hub([this, h = std::forward<F>(handler)](core::hub& hub) mutable {
      hub.on<T>([this, h = std::move(h)](core::session_view& view,
                                         const protocol::envelope<T>& env) mutable {
        try {
          if constexpr (typed) {
            session_type s(view);
            return as_verdict(h, s, env);
          } else {
            return as_verdict(h, view, env);
          }
        } catch (const std::exception& e) {
          core_.log_handler_failure(e.what());
          throw;  // the hub answers the request (4004) and counts it
        } catch (...) {
          core_.log_handler_failure("unknown exception");
          throw;
        }
      });
    });
  }

  // A session opened (after authentication) / ended (with its close code). They run on an I/O
  // thread with the hub lock held; an exception is logged and counted.
  void on_connect(std::function<void(session_type&)> handler) {
    core_.with_hub([this, h = std::move(handler)](core::hub& hub) mutable {
      hub.on_connect([this, h = std::move(h)](core::session_view& view) {
        guarded([&] {
          session_type s(view);
          h(s);
        });
      });
    });
  }
  void on_disconnect(std::function<void(session_type&, protocol::close_code)> handler) {
    core_.with_hub([this, h = std::move(handler)](core::hub& hub) mutable {
      hub.on_disconnect(
          [this, h = std::move(h)](core::session_view& view, protocol::close_code code) {
            guarded([&] {
              session_type s(view);
              h(s, code);
            });
          });
    });
  }

  // ---- pushes: thread-safe, from any thread (handlers included) -----------------------
  // Each returns how many sessions the envelope was queued for.

  template <class P>
  std::size_t send(core::session_id session, protocol::envelope<P> env) {
    std::size_t n = 0;
    core_.with_hub([&](core::hub& hub) { n = hub.send(session, std::move(env)); });
    return n;
  }
  template <class P>
  std::size_t send_to_user(std::string_view user_id, protocol::envelope<P> env) {
    std::size_t n = 0;
    core_.with_hub([&](core::hub& hub) { n = hub.send_to_user(user_id, std::move(env)); });
    return n;
  }
  template <class P>
  std::size_t send_to_room(std::string_view room_id, protocol::envelope<P> env) {
    std::size_t n = 0;
    core_.with_hub([&](core::hub& hub) { n = hub.send_to_room(room_id, std::move(env)); });
    return n;
  }
  void publish_task_update(std::string_view sender_id, const protocol::task_update& update,
                           protocol::priority priority = protocol::priority::normal) {
    core_.with_hub([&](core::hub& hub) { hub.publish_task_update(sender_id, update, priority); });
  }
  void assign_task(std::string_view assigner_id, const protocol::task_assign& assignment,
                   protocol::priority priority = protocol::priority::normal) {
    core_.with_hub([&](core::hub& hub) { hub.assign_task(assigner_id, assignment, priority); });
  }
  void set_health(protocol::health_status status) {
    core_.with_hub([&](core::hub& hub) { hub.set_health(status); });
  }
  // A consistent snapshot of the counters behind /metrics.
  core::hub_metrics metrics() const {
    core::hub_metrics m;
    core_.with_hub([&](core::hub& hub) { m = hub.metrics(); });
    return m;
  }
  // Any other hub call, serialised with the rest (advanced use).
  template <class F>
  void with_hub(F&& fn) {
    core_.with_hub(std::forward<F>(fn));
  }

  const server_options& options() const noexcept { return core_.options(); }

 private:
  template <class H, class S, class T>
  static core::verdict as_verdict(H& h, S& s, const protocol::envelope<T>& env) {
    if constexpr (std::is_void_v<std::invoke_result_t<H&, S&, const protocol::envelope<T>&>>) {
      h(s, env);
      return core::verdict::accept();
    } else {
      return core::verdict(h(s, env));
    }
  }
  // Logs what a handler threw, then lets the hub count it (it never reaches the I/O loop).
  template <class F>
  void guarded(F&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      core_.log_handler_failure(e.what());
      throw;
    } catch (...) {
      core_.log_handler_failure("unknown exception");
      throw;
    }
  }

  detail::server_core core_;
};

using server = basic_server<>;

}  // namespace roomwire
