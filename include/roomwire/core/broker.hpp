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
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "roomwire/core/dedup.hpp"
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
  // Forget what has expired (called from hub::tick about once a second; steady time).
  virtual void expire(std::int64_t now_ms) = 0;
};

// The default: one node, everything in memory, publish() goes nowhere.
class in_process_broker final : public broker {
 public:
  in_process_broker() = default;

  void attach(listener& hub, const hub_options& options) override;
  void detach() override;

  std::int64_t next_seq(std::string_view room_id) override;
  void room_removed(std::string_view room_id) override;
  void publish(const audience& to, const frame_ptr& f) override;

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

  std::size_t deferred_cap_ = 1000;
  std::unordered_map<std::string, std::int64_t> seqs_;
  std::unordered_map<std::string, task_info> tasks_;
  std::unordered_map<std::string, ring<deferred_task>> deferred_;
  dedup_store dedup_;
  std::string probe_;  // lookup key, reused so that a lookup does not allocate
};

}  // namespace roomwire::core
