#pragma once

// The hub's state and the rules that act on it, defined across src/core/:
//   hub.cpp        the public hub API: open, closed, tick, pop, pushes, drain, metrics
//   delivery.cpp   outbound queues (§4), closing, fan-out, health frames (§3)
//   dispatch.cpp   one inbound frame: rate limit, parse, dedup, handlers; the answers (§2, §5, §6)
//   rules.cpp      the built-in requests: rooms, chat, tasks, client health (§3)
// Internal: not installed.

#include <any>
#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "hub_support.hpp"
#include "roomwire/core/broker.hpp"
#include "roomwire/core/hub.hpp"
#include "roomwire/core/outbound_queue.hpp"
#include "roomwire/core/rate_limiter.hpp"

namespace roomwire::core {

struct hub::state final : broker::listener {
  enum class phase : std::uint8_t {
    open,      // serving
    flushing,  // to be closed with pending_close once its queue is written; takes nothing new
    closing,   // transport::close() was called; waiting for hub::closed()
  };

  struct session;
  struct room;

  // A room's member; `slot` is the index of the matching membership in session::rooms.
  struct member {
    session* s = nullptr;
    std::size_t slot = 0;
  };
  // A session's room; `slot` is the index of the matching member in room::members. The two
  // back-indexes make joining, leaving and disconnecting O(1) whatever a room's size.
  struct membership {
    room* r = nullptr;
    std::size_t slot = 0;
  };

  struct room {
    std::string id;
    bool declared = false;
    std::vector<member> members;
  };

  struct user {
    std::string id;
    std::vector<session*> sessions;
  };

  struct session {
    session_id id = 0;
    core::identity who;
    std::any data;
    user* owner = nullptr;
    outbound_queue queue;
    std::size_t backlog = 0;
    rate_limiter limiter;
    int invalid_in_row = 0;
    std::vector<membership> rooms;
    phase stage = phase::open;
    protocol::close_code pending_close = protocol::close_code::normal;
    std::uint64_t mark = 0;  // fan-out stamp: reached once per delivery
    // Joins with "since" waiting for their history: the session's later frames wait behind
    // them, so that a message sent right after a rejoin finds the session a member.
    int joining = 0;
    std::deque<std::string> held;
    std::size_t held_bytes = 0;
  };

  // The request being dispatched.
  struct request {
    session* s = nullptr;
    hub_detail::builtin_type kind = hub_detail::builtin_type::none;
    const erased_handler* hook = nullptr;
    std::string message_id;  // the client's, or one assigned
    bool client_id = false;
    protocol::priority priority = protocol::priority::normal;
    std::int64_t accepted_at = 0;  // wall time: the acknowledgement's and delivery's timestamp
    std::int64_t now = 0;          // steady time
    bool answered = false;
  };

  // What an answer given later (after the broker completes) needs of its request.
  struct pending {
    std::string message_id;
    bool client_id = false;
    protocol::priority priority = protocol::priority::normal;
    std::int64_t accepted_at = 0;
    std::int64_t now = 0;
  };

  state(hub& h, hub_options o, hub_policies p, transport& t, const clock& c,
        std::shared_ptr<broker> b);
  ~state() override;
  state(const state&) = delete;
  state& operator=(const state&) = delete;

  // ---- lookups (hub.cpp) ---------------------------------------------------------------
  // The session found last is kept: the transport's pump asks for the same one three times and
  // more in a row (each pop, the last one that finds nothing, set_backlog), and a lookup in the
  // map of every session is a cache miss or two per recipient of a fan-out. hub::closed()
  // forgets it before erasing the session.
  session* find_session(session_id id) const {
    if (last_session != nullptr && last_session->id == id) return last_session;
    const auto it = sessions.find(id);
    if (it == sessions.end()) return nullptr;
    last_session = it->second.get();
    return last_session;
  }
  room* find_room(std::string_view id) {
    probe.assign(id);
    const auto it = rooms.find(probe);
    return it == rooms.end() ? nullptr : it->second.get();
  }
  user* find_user(std::string_view id) {
    probe.assign(id);
    const auto it = users.find(probe);
    return it == users.end() ? nullptr : it->second.get();
  }
  void append_message_id(std::string& to) {
    to += id_prefix;
    hub_detail::append_hex(to, ++id_counter);
  }

  // ---- membership (rules.cpp) ----------------------------------------------------------
  room& create_room(std::string_view id, bool declared);
  void remove_room(room& r);
  static bool is_member(const session& s, const room& r);
  // The room `id`, if the session is a member of it.
  room* joined_room(const session& s, std::string_view id);
  static void add_member(session& s, room& r);
  void remove_membership(session& s, std::size_t i);
  bool leave(session& s, const room& r);

  // ---- queues, closing, fan-out, health (delivery.cpp) ---------------------------------
  bool enqueue(session& s, const frame_ptr& f);
  void enforce_limits(session& s);
  void count_drop(const frame& f);
  void close_session(session& s, protocol::close_code code, std::string_view reason);
  void maybe_finish(session& s);
  // A frame the transport took from a session's queue.
  void count_popped(const frame& f) {
    queue_bytes -= f.text.size();
    ++counters.messages_out;
    out_tally.bump(f.type, f.priority);
  }
  void finish_drain_if_flushed();
  void close_after_flush(session& s, protocol::close_code code);
  std::size_t deliver_to(const audience& to, const frame_ptr& f, session* except, bool publish);
  void deliver(const audience& to, const frame_ptr& f) override;
  void availability_changed(bool available) override;
  std::int64_t uptime_seconds() const;
  std::string metrics_json() const;
  frame_ptr health_frame(protocol::priority p);
  void periodic_health();
  void set_status(protocol::health_status next);
  void broadcast_status();

  // ---- inbound and answers (dispatch.cpp) ----------------------------------------------
  void receive(session& s, std::string_view text);
  void dispatch(session& s, std::int64_t now);
  void send_error(session& s, protocol::error_code code, std::string message, std::string details,
                  protocol::priority request_priority);
  void invalid(session& s, std::string_view message_id, std::string_view type,
               std::string_view path, std::string_view reason, protocol::priority p);
  void invalid(std::string_view path, std::string_view reason);
  void invalid_payload();
  void refuse(protocol::error_code code, std::string_view message);
  // Refuses the request when it needs other nodes and the broker's service is down.
  bool refused_while_unavailable();
  void ack(std::string_view room_id, std::optional<std::int64_t> seq);
  void acknowledge(session& s, std::string_view message_id, bool client_id, protocol::priority p,
                   std::int64_t accepted_at, std::int64_t now, std::string_view room_id,
                   std::optional<std::int64_t> seq, std::optional<bool> recovered);
  void send_ack(session& s, protocol::envelope<protocol::message_received>& a,
                protocol::priority request_priority, std::int64_t accepted_at);
  pending pending_request() const;

  // ---- built-in rules (rules.cpp) ------------------------------------------------------
  bool may_join(const session& s, std::string_view room_id) const;
  bool may_touch(const session& s, const task_info& t) const;
  void on_join(session& s);
  void on_leave(session& s);
  void on_chat(session& s);
  void commit_chat(session& s, const frame& delivery);
  void finish_chat(session_id id, const pending& p, const commit_result& r);
  // A join with since whose history could not be read because the broker's service was
  // unreachable waits (at most join_wait_ms) for it to come back, then asks again.
  struct waiting_join {
    session_id id = 0;
    std::string room_id;
    std::optional<std::int64_t> since;  // none: a plain join, which only learns the last seq
    pending p;
  };
  static constexpr std::int64_t join_wait_ms = 5000;
  void start_recovery(waiting_join w);
  void finish_join(waiting_join w, recovery r, bool may_wait);
  void release_held(session& s);
  void on_assign(session& s);
  void on_update(session& s);
  void on_health(session& s);
  // Records an assignment and delivers it; acknowledges the current request in between when
  // `acknowledge`.
  void assign(const std::optional<task_info>& existing, std::string_view assigner,
              const protocol::task_assign& a, std::string_view message_id, std::int64_t timestamp,
              protocol::priority p, bool acknowledge);
  std::size_t deliver_update(const task_info& t,
                             const protocol::envelope<protocol::task_update_delivery>& d,
                             session* except);

  // ---- members -------------------------------------------------------------------------
  hub& self;
  hub_options opt;
  hub_policies pol;
  transport& out;
  const clock& clk;
  std::shared_ptr<broker> brk;

  std::unordered_map<session_id, std::unique_ptr<session>> sessions;
  mutable session* last_session = nullptr;  // find_session()'s last find, or null
  std::unordered_map<std::string, std::unique_ptr<user>> users;
  std::unordered_map<std::string, std::unique_ptr<room>> rooms;
  std::string probe;     // lookup key, reused so that a lookup does not allocate
  std::string watchers;  // "task:<id>", reused
  session_id next_session = 1;
  std::uint64_t mark_stamp = 0;

  std::array<std::optional<erased_handler>, hub_detail::builtin_count> hooks;
  std::map<std::string, erased_handler, std::less<>> host_types;
  std::function<void(session_view&)> connect_handler;
  std::function<void(session_view&, protocol::close_code)> disconnect_handler;

  protocol::inbound_frame inbound;
  protocol::decode_limits limits;
  request req;
  protocol::envelope<protocol::chat_message> chat_in;
  protocol::envelope<protocol::chat_delivery> chat_out;
  protocol::envelope<protocol::message_received> ack_out;

  hub_metrics counters;
  hub_detail::frame_tally out_tally{counters.out_by_type};  // these two after counters
  hub_detail::frame_tally dropped_tally{counters.dropped_by_type};
  std::uint64_t queue_bytes = 0;    // all hub queues
  std::uint64_t backlog_bytes = 0;  // all transport backlogs
  std::int64_t started_at = 0;
  protocol::health_status status = protocol::health_status::ok;
  std::int64_t next_health_at = 0;
  std::int64_t next_expire_at = 0;
  bool draining = false;
  std::int64_t drain_deadline = 0;
  bool broker_available = true;  // a shared broker's service is reachable
  std::size_t in_flight = 0;
  // Requests waiting for the broker (their answer is not queued yet).
  std::vector<waiting_join> waiting_joins;
  std::vector<std::pair<std::int64_t, session_id>> flush_deadlines;

  std::string id_prefix;
  std::uint64_t id_counter = 0;
};

}  // namespace roomwire::core
