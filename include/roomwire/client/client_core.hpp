#pragma once

// The client's protocol logic with no socket and no thread (sans-IO), like core::hub for the
// server. A transport feeds it events (a connection opened, a text frame arrived, a connection
// closed or failed, time passed) and carries out what it asks (open a connection, write this
// frame, close). It owns the reconnection schedule (§6), the joined rooms, the unanswered
// requests and the outbox, and matches answers to requests by messageId (§3).
//
// Not thread-safe: one caller at a time (roomwire::client serialises calls). It never calls a
// user callback from inside one of its functions: handlers, connection events and send
// completions are queued, in order, and the caller runs them with take_callbacks() once it has
// released whatever it holds.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "roomwire/client/error.hpp"
#include "roomwire/client/events.hpp"
#include "roomwire/client/reconnect.hpp"
#include "roomwire/client/send_handle.hpp"
#include "roomwire/core/types.hpp"
#include "roomwire/protocol/codec.hpp"
#include "roomwire/protocol/messages.hpp"

namespace roomwire {

// The numbers of the client side of the contract; defaults are the contract's.
struct client_core_options {
  reconnect_options reconnect;
  // Requests made while disconnected that may wait for a connection; past it a send fails at
  // once with client_errc::outbox_full. Requests already written once and waiting to be resent
  // do not count.
  std::size_t max_outbox = 1000;
  // Default time for an answer once a request is written (send_options::timeout_ms); 0: none.
  std::int64_t ack_timeout_ms = 10000;
  // Seeds the messageId prefix and the jitter; 0: std::random_device.
  std::uint64_t seed = 0;
  // How many deliveries (message, taskAssign, taskUpdate) the client remembers by type, sender,
  // room and messageId. A delivery seen again is not passed to its typed handler: a server
  // restarted between a request and its acknowledgement has lost its dedup memory (§6) and
  // delivers the resent request a second time. 0: every delivery is passed on.
  std::size_t delivery_memory = 4096;
  // Rejoin after a reconnect with "since": the last seq seen in the room with none missing
  // before it (a room's seqs have no holes), so that the server
  // replays what the room received meanwhile (§6 recovery); on_history_gap reports a room whose
  // history no longer reached back that far. Off: rejoins carry no since.
  bool recover_history = true;
};

using token_provider = std::function<std::string()>;

// What the client core asks of a transport. `connection` numbers each attempt; a transport
// drops requests for a connection that is no longer the current one. An implementation must
// not call back into the core from these functions (queue the work instead).
class client_transport {
 public:
  virtual ~client_transport() = default;
  // Open a WebSocket connection to `url` authenticating with `token` (§1), then report
  // client_core::opened(), or client_core::closed() if the attempt fails.
  virtual void open(std::uint64_t connection, const std::string& url, const std::string& token) = 0;
  // Write one text frame.
  virtual void send(std::uint64_t connection, const std::string& text) = 0;
  // Close with `code` (or abandon an attempt still in progress), then report closed().
  virtual void close(std::uint64_t connection, std::uint16_t code, std::string_view reason) = 0;
};

// `url` with `token` appended as the `token` query parameter (percent-encoded).
std::string with_token_query(std::string_view url, std::string_view token);

class client_core {
 public:
  client_core(client_transport& transport, const core::clock& clock,
              client_core_options options = {});
  ~client_core();
  client_core(const client_core&) = delete;
  client_core& operator=(const client_core&) = delete;

  // ---- the host's calls ----------------------------------------------------------------

  // Starts connecting (from idle or closed). With a provider, it is called for every attempt
  // (it must not call into the client).
  void connect(std::string url, std::string token);
  void connect(std::string url, token_provider tokens);
  // Closes for good: the close handshake with `code`, then no reconnection. Requests still
  // unanswered when the connection is gone complete with client_errc::closed.
  void close(std::uint16_t code = 1000, std::string reason = {});

  // Sends a request (or queues it while disconnected). Never throws for a runtime condition:
  // a send that cannot be made returns a handle that is already complete with the error.
  template <class T>
  send_handle send(T payload, send_options options = {});

  // Handler for a server → client type (built-in or the host's own):
  //   void handler(const protocol::envelope<T>&)
  // One handler per wire type; a later on<T> replaces it.
  template <class T, class F>
  void on(F&& handler);
  // Every text frame as received, before the typed handler.
  void on_frame(std::function<void(std::string_view json)> handler);
  // A frame that is not a valid envelope, or whose payload does not decode as the type
  // registered for it.
  void on_invalid_frame(
      std::function<void(std::string_view json, const protocol::decode_error&)> handler);
  void on_connected(std::function<void()> handler);
  void on_closed(std::function<void(const close_info&)> handler);
  void on_reconnecting(std::function<void(const reconnect_info&)> handler);
  void on_gave_up(std::function<void(std::string_view reason)> handler);
  // A room rejoined after a reconnect whose missed messages could not all be replayed (the
  // server's history no longer reached back to them, or the room was created afresh): some
  // may be lost. Runs after the messages that were replayed. Only with recover_history.
  void on_history_gap(std::function<void(std::string_view room_id)> handler);

  // ---- the transport's calls -----------------------------------------------------------

  void opened(std::uint64_t connection);
  void received(std::uint64_t connection, std::string_view text);
  // The connection closed with `code`, or the attempt failed (use 1006 then).
  void closed(std::uint64_t connection, std::uint16_t code, std::string_view reason);
  // Time passed: due reconnection, request timeouts. Call when next_deadline() is reached.
  void tick();
  // The steady time (core::clock::steady_ms) at which tick() next has work, if any.
  std::optional<std::int64_t> next_deadline() const;

  // Closed for good at once, with no close handshake and no callbacks (the client is being
  // destroyed): queued callbacks are dropped, and every unanswered request's future completes
  // with client_errc::closed without its callback.
  void abandon();

  // The user callbacks made due so far, in order; run them without holding any lock the
  // client's functions take.
  std::vector<std::function<void()>> take_callbacks();

  // ---- state ---------------------------------------------------------------------------

  connection_state state() const noexcept { return state_; }
  // Rooms whose join was acknowledged (and not left since), in the order joined.
  const std::vector<std::string>& rooms() const noexcept { return rooms_; }
  // Requests not yet answered (written and waiting, or in the outbox).
  std::size_t pending() const noexcept;
  // Requests never written yet (what counts against max_outbox).
  std::size_t outbox_size() const noexcept { return outbox_; }
  // The connection number of the current (or last) attempt.
  std::uint64_t connection() const noexcept { return connection_; }
  // A fresh messageId: a random prefix and a counter.
  std::string make_message_id();
  const client_core_options& options() const noexcept { return options_; }

 private:
  enum class request_kind { other, chat, join, leave, rejoin };

  struct request {
    std::string message_id;
    std::string text;  // the encoded envelope, resent as is
    protocol::priority priority = protocol::priority::normal;
    request_kind kind = request_kind::other;
    std::string room;                   // chat, join, leave, rejoin
    std::optional<std::int64_t> since;  // rejoin: the "since" it carries
    std::int64_t timeout_ms = 0;
    bool sent = false;          // written on the current connection
    bool written_once = false;  // written on some connection (else it is in the outbox)
    std::int64_t deadline = 0;  // steady ms; 0: none
    std::shared_ptr<detail::send_state> state;  // null for the core's own rejoins
  };

  struct header {
    std::string message_id;
    std::int64_t timestamp = 0;
    protocol::priority priority = protocol::priority::normal;
  };

  // A delivery as the core decoded it for itself (dedup, the room's last seq). A typed handler
  // registered for the same type takes it over rather than decoding the frame a second time.
  using decoded_delivery = std::variant<std::monostate, protocol::envelope<protocol::chat_delivery>,
                                        protocol::envelope<protocol::task_assign_delivery>,
                                        protocol::envelope<protocol::task_update_delivery>>;
  template <class T>
  static constexpr bool is_core_decoded_v = std::is_same_v<T, protocol::chat_delivery> ||
                                            std::is_same_v<T, protocol::task_assign_delivery> ||
                                            std::is_same_v<T, protocol::task_update_delivery>;

  using binder = std::function<std::function<void()>(protocol::inbound_frame&, decoded_delivery&)>;

  // Checks whether a request can be made; on failure returns a completed handle.
  std::optional<send_handle> refuse_early(const send_options& options, header& out);
  send_handle submit(header&& h, std::string text, request_kind kind, std::string room,
                     send_options&& options);
  void write(request& r);
  void start_attempt();
  void lost_connection();
  void schedule_reconnect(std::uint16_t code, const std::string& reason, bool was_open);
  void finish(std::uint16_t code, const std::string& reason, bool was_open, std::error_code why);
  void complete(std::uint64_t order, send_result result);
  void deliver(std::shared_ptr<detail::send_state> state, send_result result);
  void fail_all(std::error_code why);
  void handle_ack();
  void history_gap(const request& rejoin);
  void handle_error();
  bool decode_delivery(decoded_delivery& out);
  void note_seq(const std::string& room, std::int64_t seq);
  bool seen_before(const decoded_delivery& delivery);
  bool own_unanswered(const decoded_delivery& delivery) const;
  bool remember_delivery(std::string key);
  void defer(std::function<void()> call) { callbacks_.push_back(std::move(call)); }
  std::vector<std::string> intended_rooms() const;

  client_transport& transport_;
  const core::clock& clock_;
  client_core_options options_;
  std::mt19937_64 random_;
  std::string id_prefix_;
  std::uint64_t id_counter_ = 0;

  connection_state state_ = connection_state::idle;
  std::uint64_t connection_ = 0;
  std::string url_;
  std::string token_;
  token_provider tokens_;
  int attempt_ = 0;  // reconnection attempts made since the last open connection
  bool fresh_token_used_ = false;
  std::int64_t reconnect_at_ = 0;
  std::int64_t retry_after_ms_ = 0;  // the last retryAfterMs a 4001 error told
  bool is_open_ = false;             // the current connection opened
  std::uint16_t close_code_ = 1000;  // what close() asked for
  std::string close_reason_;

  std::map<std::uint64_t, request> requests_;  // by creation order
  std::unordered_map<std::string, std::uint64_t> by_id_;
  std::uint64_t next_order_ = 0;
  std::size_t outbox_ = 0;
  std::vector<std::string> rooms_;

  std::unordered_set<std::string> delivered_;       // keys of the last deliveries, at most
  std::deque<const std::string*> delivered_order_;  // delivery_memory, oldest first
  // What was seen of a room's seqs (recover_history), from deliveries and from the
  // acknowledgements of this client's own messages (never delivered back to it). A room's seqs
  // have no holes, so a rejoin asks from the last seq before the first hole: an acknowledgement
  // (or a more urgent message) can overtake a delivery still queued when the connection drops,
  // and the highest seq seen would skip it.
  struct seen_seqs {
    std::int64_t contiguous = 0;   // every seq up to this one was seen
    std::set<std::int64_t> above;  // seen, past a hole (at most max_seq_holes of them)
    std::int64_t highest() const { return above.empty() ? contiguous : *above.rbegin(); }
  };
  std::unordered_map<std::string, seen_seqs> last_seq_;

  protocol::inbound_frame frame_;
  std::map<std::string, binder, std::less<>> handlers_;
  std::shared_ptr<const std::function<void(std::string_view)>> on_frame_;
  std::shared_ptr<const std::function<void(std::string_view, const protocol::decode_error&)>>
      on_invalid_;
  std::function<void()> on_connected_;
  std::function<void(const close_info&)> on_closed_;
  std::function<void(const reconnect_info&)> on_reconnecting_;
  std::function<void(std::string_view)> on_gave_up_;
  std::function<void(std::string_view)> on_history_gap_;
  std::vector<std::function<void()>> callbacks_;
};

// ---- templates ---------------------------------------------------------------------------

template <class T>
send_handle client_core::send(T payload, send_options options) {
  static_assert(protocol::is_message_v<T>,
                "roomwire: send<T>: T needs `static constexpr std::string_view type` and "
                "`static constexpr auto fields()` (or a roomwire::protocol::schema<T>)");
  header h;
  if (auto refused = refuse_early(options, h)) return std::move(*refused);
  protocol::envelope<T> env;
  env.timestamp = h.timestamp;
  env.message_id = h.message_id;
  env.priority = h.priority;
  request_kind kind = request_kind::other;
  std::string room;
  if constexpr (std::is_same_v<T, protocol::join_room>) {
    kind = request_kind::join;
    room = payload.room_id;
  } else if constexpr (std::is_same_v<T, protocol::leave_room>) {
    kind = request_kind::leave;
    room = payload.room_id;
  } else if constexpr (std::is_same_v<T, protocol::chat_message>) {
    kind = request_kind::chat;
    room = payload.room_id;
  }
  env.payload = std::move(payload);
  return submit(std::move(h), protocol::encode(env), kind, std::move(room), std::move(options));
}

template <class T, class F>
void client_core::on(F&& handler) {
  static_assert(protocol::is_message_v<T>,
                "roomwire: on<T>: T needs `static constexpr std::string_view type` and "
                "`static constexpr auto fields()` (or a roomwire::protocol::schema<T>)");
  using fn = std::decay_t<F>;
  static_assert(std::is_invocable_v<fn&, const protocol::envelope<T>&>,
                "roomwire: client.on<T>(handler): the handler must be callable as "
                "`void(const roomwire::protocol::envelope<T>&)`");
  auto shared = std::make_shared<fn>(std::forward<F>(handler));
  handlers_[std::string(protocol::type_of<T>())] =
      [shared](protocol::inbound_frame& frame,
               [[maybe_unused]] decoded_delivery& decoded) -> std::function<void()> {
    protocol::envelope<T> env;
    bool taken = false;
    if constexpr (is_core_decoded_v<T>) {
      if (auto* ready = std::get_if<protocol::envelope<T>>(&decoded)) {
        env = std::move(*ready);
        taken = true;
      }
    }
    if (!taken && !frame.decode(env)) return {};
    return [shared, env = std::move(env)]() { (*shared)(env); };
  };
}

}  // namespace roomwire
