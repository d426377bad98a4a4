#pragma once

// The hub: every rule of the protocol, with no socket and no thread (sans-IO). A transport feeds
// it events (a session opened, a text frame arrived, a session closed, time passed) and carries
// out what it asks (write these frames, close that session). Not thread-safe: one caller at a
// time (roomwire::server serialises calls).

#include <any>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "roomwire/core/options.hpp"
#include "roomwire/core/types.hpp"
#include "roomwire/protocol/codec.hpp"
#include "roomwire/protocol/messages.hpp"

namespace roomwire::core {

class broker;
class hub;

// What a handler decided about a request.
class verdict {
 public:
  enum class kind { accept, refuse, replied };

  // Accept: a built-in type continues with its built-in rule; a host type is acknowledged with
  // messageReceived.
  static verdict accept() { return verdict(kind::accept, {}, {}); }
  // Refuse with a contract error code; the client gets an `error` with this code and message.
  static verdict refuse(protocol::error_code code, std::string message = {}) {
    return verdict(kind::refuse, code, std::move(message));
  }
  // The handler answered itself (with session_view::send); nothing else is sent.
  static verdict replied() { return verdict(kind::replied, {}, {}); }

  kind what() const noexcept { return kind_; }
  protocol::error_code code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }

 private:
  verdict(kind k, protocol::error_code c, std::string m)
      : kind_(k), code_(c), message_(std::move(m)) {}
  kind kind_;
  protocol::error_code code_{};
  std::string message_;
};

// A session as a handler sees it. Valid only during the handler call.
class session_view {
 public:
  session_view(hub& h, session_id id, const core::identity& who, std::any& data)
      : hub_(h), id_(id), identity_(who), data_(data) {}

  session_id id() const noexcept { return id_; }
  const core::identity& identity() const noexcept { return identity_; }
  const std::string& user_id() const noexcept { return identity_.user_id; }
  // The host's per-session data (roomwire::server gives it a type).
  std::any& data() noexcept { return data_; }

  // Queue an envelope for this session (a reply).
  template <class P>
  void send(const protocol::envelope<P>& env);

 private:
  hub& hub_;
  session_id id_;
  const core::identity& identity_;
  std::any& data_;
};

// Counters behind healthUpdate, GET /metrics and GET /healthz.
struct hub_metrics {
  using per_priority = std::array<std::uint64_t, protocol::priority_count>;

  std::uint64_t connections = 0;  // open sessions
  std::uint64_t rooms = 0;        // rooms that exist
  std::uint64_t messages_in = 0;  // envelopes received, all types
  std::uint64_t messages_out = 0;  // envelopes handed to the transport (pop)
  std::uint64_t messages_dropped = 0;  // envelopes shed by §4
  std::map<std::string, per_priority, std::less<>> in_by_type;
  std::map<std::string, per_priority, std::less<>> out_by_type;
  std::map<std::string, per_priority, std::less<>> dropped_by_type;
  std::uint64_t queue_bytes = 0;  // all sessions' outbound queues, including transport backlog
  std::map<int, std::uint64_t> closes_by_code;
  std::uint64_t handshake_failures = 0;
  std::uint64_t handler_errors = 0;  // exceptions thrown by host handlers or policies, caught
  std::int64_t uptime_seconds = 0;
  protocol::health_status status = protocol::health_status::ok;
};

class hub {
 public:
  // `broker` may be null: the in-process broker is used.
  hub(hub_options options, hub_policies policies, transport& out, const clock& time,
      std::shared_ptr<broker> broker = nullptr);
  ~hub();
  hub(const hub&) = delete;
  hub& operator=(const hub&) = delete;

  // ---- events from the transport -------------------------------------------------------

  // An authenticated connection is open. Delivers pending offline taskAssigns.
  session_id open(core::identity who);
  // A complete text frame arrived on the session.
  void receive(session_id session, std::string_view text);
  // The connection is gone (for whatever reason; `code` as it closed). Frees its state.
  void closed(session_id session, protocol::close_code code);
  // Time passed: periodic health, rate windows, dedup expiry, drain deadline. Call at least
  // every 100 ms of steady time, or whenever next_deadline_ms() is reached.
  void tick();
  // The steady time at which tick() next has work to do.
  std::int64_t next_deadline_ms() const;
  // A failed WebSocket handshake (for the metrics).
  void count_handshake_failure();

  // ---- the outbound queue, pulled by the transport -------------------------------------

  // The session's next frame in priority order (lower number first; FIFO within a priority),
  // removed from the queue; null when the queue is empty or the session is unknown.
  // A session that is to be closed once flushed (drain, or the 11th invalid message in a row)
  // is closed when pop() finds its queue empty and its backlog is 0 (or when set_backlog(0)
  // says so): transport::close() may therefore be called from inside pop() and set_backlog().
  frame_ptr pop(session_id session);
  // Only a frame of priority `lowest` or a more urgent one (the transport's pacing lets priority 0
  // overtake what it holds back). Unless `lowest` is background, the session is never closed.
  frame_ptr pop(session_id session, protocol::priority lowest);
  // Bytes the transport holds for the session but has not yet written to the operating system
  // (its own send queue). They count towards the session's queue limits.
  void set_backlog(session_id session, std::size_t bytes);
  // Bytes queued for the session (hub queue + reported backlog).
  std::size_t queued_bytes(session_id session) const;

  // ---- handlers (the library's face) ---------------------------------------------------

  // Handler for a message type, built-in or host-defined:
  //   verdict handler(session_view&, const protocol::envelope<T>&)   (or returning void: accept)
  // For a built-in client→server type it runs before the built-in rule; refusing stops it.
  // A host type without a handler is refused with 4002 "unknown message type".
  // Handlers are matched by wire tag. One that throws (as does a policy in hub_policies) gets the
  // request answered with error 4004 instead, counted in hub_metrics::handler_errors; the
  // exception never leaves the hub.
  template <class T, class F>
  void on(F&& handler);
  void on_connect(std::function<void(session_view&)> handler);
  void on_disconnect(std::function<void(session_view&, protocol::close_code)> handler);

  // ---- pushes from host code -----------------------------------------------------------

  // Each encodes the envelope once; returns how many sessions it was queued for. An envelope
  // with an empty message_id gets a fresh one; a zero timestamp gets the current time.
  template <class P>
  std::size_t send(session_id session, protocol::envelope<P> env);
  template <class P>
  std::size_t send_to_user(std::string_view user_id, protocol::envelope<P> env);
  template <class P>
  std::size_t send_to_room(std::string_view room_id, protocol::envelope<P> env);
  // A task update from server-side work; delivered like a client's (senderId = sender_id).
  void publish_task_update(std::string_view sender_id, const protocol::task_update& update,
                           protocol::priority priority = protocol::priority::normal);
  // A task assignment from host code; delivered like a client's (assignerId = assigner_id).
  void assign_task(std::string_view assigner_id, const protocol::task_assign& assignment,
                   protocol::priority priority = protocol::priority::normal);
  // Changes the status; a change is pushed to every session with priority 0.
  void set_health(protocol::health_status status);

  // ---- shutdown (§8) -------------------------------------------------------------------

  // Sends `draining` to every session, drops queued priority 3-4, goes on serving requests, and
  // closes every session with 1001 at the same moment: once no session has anything left to
  // write (or at the drain deadline), so that a message acknowledged during the drain reached
  // every member first.
  void drain();
  bool draining() const noexcept;
  // True once draining and every session is closed.
  bool drained() const noexcept;

  // ---- introspection -------------------------------------------------------------------
  hub_metrics metrics() const;
  const hub_options& options() const noexcept;
  const clock& time() const noexcept;
  // A fresh server-made messageId.
  std::string make_message_id();

 private:
  struct state;
  struct erased_handler {
    // Decodes the frame as the handler's type and calls it; on a decode failure returns
    // nullopt with frame.error() set.
    std::function<std::optional<verdict>(session_view&, protocol::inbound_frame&)> invoke;
  };
  friend class session_view;

  void register_handler(std::string_view type, erased_handler handler, bool built_in);
  // Queue one encoded frame to the given targets.
  std::size_t enqueue_session(session_id session, frame_ptr f);
  std::size_t enqueue_user(std::string_view user_id, frame_ptr f);
  std::size_t enqueue_room(std::string_view room_id, frame_ptr f);
  template <class P>
  frame_ptr make_frame(protocol::envelope<P>& env);

  std::unique_ptr<state> state_;
};

// ---- templates -------------------------------------------------------------------------

template <class P>
frame_ptr hub::make_frame(protocol::envelope<P>& env) {
  if (env.message_id.empty()) env.message_id = make_message_id();
  if (env.timestamp == 0) env.timestamp = time().wall_ms();
  auto f = std::make_shared<frame>();
  f->priority = env.priority;
  f->type = protocol::type_of<P>();
  protocol::encode(env, f->text);
  return f;
}

template <class P>
std::size_t hub::send(session_id session, protocol::envelope<P> env) {
  return enqueue_session(session, make_frame(env));
}
template <class P>
std::size_t hub::send_to_user(std::string_view user_id, protocol::envelope<P> env) {
  return enqueue_user(user_id, make_frame(env));
}
template <class P>
std::size_t hub::send_to_room(std::string_view room_id, protocol::envelope<P> env) {
  return enqueue_room(room_id, make_frame(env));
}

template <class P>
void session_view::send(const protocol::envelope<P>& env) {
  hub_.send(id_, env);
}

namespace detail {
template <class T, class F>
constexpr bool handler_returns_verdict =
    std::is_invocable_r_v<verdict, F&, session_view&, const protocol::envelope<T>&>;
template <class T, class F>
constexpr bool handler_returns_void =
    std::is_invocable_v<F&, session_view&, const protocol::envelope<T>&> &&
    std::is_void_v<std::invoke_result_t<F&, session_view&, const protocol::envelope<T>&>>;
template <class T>
constexpr bool is_built_in_request =
    std::is_same_v<T, protocol::join_room> || std::is_same_v<T, protocol::leave_room> ||
    std::is_same_v<T, protocol::chat_message> || std::is_same_v<T, protocol::task_assign> ||
    std::is_same_v<T, protocol::task_update> || std::is_same_v<T, protocol::health_update>;
}  // namespace detail

template <class T, class F>
void hub::on(F&& handler) {
  static_assert(protocol::is_message_v<T>,
                "roomwire: on<T>: T needs `static constexpr std::string_view type` and "
                "`static constexpr auto fields()` (or a roomwire::protocol::schema<T>)");
  static_assert(detail::handler_returns_verdict<T, F> || detail::handler_returns_void<T, F>,
                "roomwire: on<T>(handler): the handler must be callable as "
                "`verdict(roomwire::core::session_view&, const roomwire::protocol::envelope<T>&)` "
                "(or return void to accept)");
  erased_handler erased;
  erased.invoke = [h = std::forward<F>(handler)](
                      session_view& s, protocol::inbound_frame& frame) mutable
      -> std::optional<verdict> {
    protocol::envelope<T> env;
    if (!frame.decode(env)) return std::nullopt;
    if constexpr (detail::handler_returns_void<T, F>) {
      h(s, env);
      return verdict::accept();
    } else {
      return verdict(h(s, env));
    }
  };
  register_handler(protocol::type_of<T>(), std::move(erased), detail::is_built_in_request<T>);
}

}  // namespace roomwire::core
