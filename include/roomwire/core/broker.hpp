#pragma once

// The seam between the hub's rules and the state that several server nodes would have to share.
// The hub asks the broker, and only the broker, for:
//   - room sequence numbers (§3: a room's `seq` starts at 1 and only grows),
//   - fan-out beyond this node (a room's or a user's traffic reaching sessions on other nodes),
//   - task records and their routing (assignments waiting for an offline assignee),
//   - the dedup memory of accepted requests (§6).
// Sessions, room membership and outbound queues stay in the hub: they belong to this node.
//
// in_process_broker is the single-node default. A scale-out broker (Redis, NATS, …) implements
// the same calls against its service, hands what other nodes publish to listener::deliver(), and
// reports an outage with listener::availability_changed(false) (the hub's health is then
// `degraded`). All calls come from the hub's caller, one at a time; listener calls must be made
// the same way (the hub is not thread-safe), e.g. posted to the server's executor.

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "roomwire/core/dedup.hpp"
#include "roomwire/core/hub.hpp"
#include "roomwire/core/options.hpp"
#include "roomwire/core/ring.hpp"
#include "roomwire/core/types.hpp"
#include "roomwire/protocol/messages.hpp"

namespace roomwire::core {

// Whom a published frame is for: every session in a room and/or every session of some users,
// each session once. Empty views mean "none". The views are valid only during the call.
struct audience {
  std::string_view room_id;
  std::array<std::string_view, 2> user_ids{};
  session_id except = 0;  // a session of the receiving node that must not get it (0: none)
};

// A chat message that a shared broker sequences and publishes (broker::commit_chat).
struct chat_commit {
  std::string_view room_id;
  std::string_view user_id;     // the sender
  std::string_view message_id;  // the request's messageId
  bool client_id = false;       // the client chose message_id: the cluster-wide dedup key (§6)
  session_id origin = 0;        // the sending session (on this node); 0: deliver to it as well
  protocol::priority priority = protocol::priority::normal;
  std::int64_t timestamp = 0;  // accept time (wall): the delivery's and acknowledgement's
  std::int64_t now_ms = 0;     // steady time, for the dedup memory
  // The delivery's text is head + the decimal seq + tail.
  std::string_view head;
  std::string_view tail;
};

// How a commit ended.
struct commit_result {
  enum class outcome {
    accepted,    // sequenced and published; `ack` is the acknowledgement to send
    repeated,    // the user's messageId was already accepted: `ack` is the original one (§6)
    unavailable  // the backing service could not be reached: refuse, nothing was delivered
  };
  outcome what = outcome::unavailable;
  protocol::message_received ack;  // accepted / repeated
};

// What a room's history holds after a given seq (joinRoom "since", §6).
struct recovery {
  std::vector<frame_ptr> frames;  // seq order; each a complete `message` delivery
  bool complete = false;          // the history reached back to since + 1
  bool unavailable = false;       // the backing service could not be reached
  std::int64_t last_seq = 0;      // the room's last seq when the history was read (0: none yet)
};

class broker {
 public:
  // The hub, as a broker sees it.
  class listener {
   public:
    // A frame published by another node: the hub queues it for its own sessions in `to`.
    virtual void deliver(const audience& to, const frame_ptr& f) = 0;
    // The backing service was lost (false) or is back (true).
    virtual void availability_changed(bool available) = 0;

   protected:
    virtual ~listener() = default;
  };

  virtual ~broker() = default;

  // The hub starts (attach) and stops (detach) using the broker. `options` carries the limits a
  // broker applies (offline_tasks_per_user, dedup_entries, dedup_ttl_ms).
  virtual void attach(listener& hub, const hub_options& options) = 0;
  virtual void detach() = 0;

  // ---- rooms ------------------------------------------------------------------------------
  // The room's next sequence number: 1 for a new room, then one more each call.
  virtual std::int64_t next_seq(std::string_view room_id) = 0;
  // This node removed a room created by a join (its last member left): its sequence restarts.
  // A shared broker restarts it only when no node has members left.
  virtual void room_removed(std::string_view room_id) = 0;
  // Fan-out beyond this node: the hub has already queued `f` for its own sessions in `to`.
  virtual void publish(const audience& to, const frame_ptr& f) = 0;

  // A shared broker sequences chat itself: it allocates the seq, publishes head+seq+tail to the
  // room on every node (this one included: its members get it through listener::deliver() with
  // audience::except = c.origin, in seq order with what other nodes sent), keeps it in the
  // room's history, and then calls `done` (later, from the event loop) with the
  // acknowledgement. Returns false when the broker does not (the in-process default): the hub
  // then takes next_seq(), delivers itself and calls record(). The views in `c` are valid only
  // during the call.
  using commit_done = std::function<void(const commit_result&)>;
  // True when this broker sequences chat with commit_chat() (and keeps the history itself).
  virtual bool sequences_chat() const noexcept { return false; }
  virtual bool commit_chat(const chat_commit& c, commit_done done) {
    (void)c;
    (void)done;
    return false;
  }
  // A delivery the hub sequenced with next_seq() (in-process path): keep it in the history.
  virtual void record(std::string_view room_id, std::int64_t seq, const frame_ptr& f) = 0;
  // The room's history after `since`, for a session joining with "since". `done` gets the
  // frames; a shared broker calls it later, ordered with listener::deliver() (everything
  // published after the history was read reaches the hub after `done`). The hub adds the member
  // inside `done`, so that it gets neither a gap nor a message twice. A join without "since"
  // asks with since = no_replay: no frames, only last_seq, ordered the same way.
  static constexpr std::int64_t no_replay = std::numeric_limits<std::int64_t>::max();
  using recover_done = std::function<void(recovery)>;
  virtual void recover(std::string_view room_id, std::int64_t since, recover_done done) = 0;

  // ---- presence and health ----------------------------------------------------------------
  // The user's first session on this node opened (true) or its last one closed (false).
  virtual void user_present(std::string_view user_id, bool present) {
    (void)user_id;
    (void)present;
  }
  // Called when the hub builds a healthUpdate with this node's counters: a shared broker may
  // append members to its `metrics` object (`,"node":…,"cluster":{…}`), each preceded by a comma.
  virtual void health_metrics(const hub_metrics& local, std::string& members) {
    (void)local;
    (void)members;
  }

  // ---- tasks ------------------------------------------------------------------------------
  virtual std::optional<task_info> find_task(std::string_view task_id) = 0;
  virtual void store_task(const task_info& task) = 0;
  // A taskAssign for a user with no session on this node (called after publish()): keep it for
  // the user's next open(), at most options.offline_tasks_per_user, oldest dropped first. A
  // shared broker drops it instead when the user has a session on another node.
  virtual void defer_task(std::string_view user_id, std::string_view task_id, frame_ptr f) = 0;
  // The task was reassigned: a kept delivery of its old assignment must not be delivered.
  virtual void cancel_deferred(std::string_view user_id, std::string_view task_id) = 0;
  // What was kept for the user, oldest first; forgotten once taken.
  virtual std::vector<frame_ptr> take_deferred(std::string_view user_id) = 0;

  // ---- dedup (§6) -------------------------------------------------------------------------
  // The acknowledgement of the user's accepted request with this messageId, if remembered.
  virtual std::optional<protocol::message_received> recall(std::string_view user_id,
                                                           std::string_view message_id,
                                                           std::int64_t now_ms) = 0;
  virtual void remember(std::string_view user_id, std::string_view message_id,
                        const protocol::message_received& ack, std::int64_t now_ms) = 0;
  // Give back the memory of what has expired (called from hub::tick about once a second;
  // steady time). It runs on the hub's thread, so it may do a bounded part of the work per
  // call, as dedup_store does; recall must not return an expired entry either way.
  virtual void expire(std::int64_t now_ms) = 0;
};

// The default: one node, everything in memory, publish() goes nowhere.
class in_process_broker final : public broker {
 public:
  in_process_broker() = default;
  in_process_broker(const in_process_broker&) = delete;  // it keeps pointers into its maps
  in_process_broker& operator=(const in_process_broker&) = delete;

  void attach(listener& hub, const hub_options& options) override;
  void detach() override;

  std::int64_t next_seq(std::string_view room_id) override;
  void room_removed(std::string_view room_id) override;
  void publish(const audience& to, const frame_ptr& f) override;
  void record(std::string_view room_id, std::int64_t seq, const frame_ptr& f) override;
  void recover(std::string_view room_id, std::int64_t since, recover_done done) override;

  std::optional<task_info> find_task(std::string_view task_id) override;
  void store_task(const task_info& task) override;
  void defer_task(std::string_view user_id, std::string_view task_id, frame_ptr f) override;
  void cancel_deferred(std::string_view user_id, std::string_view task_id) override;
  std::vector<frame_ptr> take_deferred(std::string_view user_id) override;

  std::optional<protocol::message_received> recall(std::string_view user_id,
                                                   std::string_view message_id,
                                                   std::int64_t now_ms) override;
  void remember(std::string_view user_id, std::string_view message_id,
                const protocol::message_received& ack, std::int64_t now_ms) override;
  void expire(std::int64_t now_ms) override;

  std::size_t tasks() const noexcept { return tasks_.size(); }
  std::size_t deferred(std::string_view user_id) const;

 private:
  struct deferred_task {
    std::string task_id;
    frame_ptr f;
  };

  // A room's sequence and its last deliveries (seq of history.back() == seq), at most
  // history_cap_ of them and history_bytes_cap_ bytes.
  struct room_log {
    std::int64_t seq = 0;
    ring<frame_ptr> history;
    std::size_t bytes = 0;
  };

  room_log* find_log(std::string_view room_id);

  std::size_t deferred_cap_ = 1000;
  std::size_t history_cap_ = 0;
  std::size_t history_bytes_cap_ = 0;
  std::unordered_map<std::string, room_log> seqs_;
  std::unordered_map<std::string, task_info> tasks_;
  std::unordered_map<std::string, ring<deferred_task>> deferred_;
  dedup_store dedup_;
  std::string probe_;  // lookup key, reused so that a lookup does not allocate
  // The room next_seq() found last, for record() right after it: its key and log in seqs_ (nodes
  // stay put until room_removed() erases one).
  struct last_room_log {
    const std::string* room_id = nullptr;
    room_log* log = nullptr;
  };
  last_room_log last_log_;
};

}  // namespace roomwire::core
