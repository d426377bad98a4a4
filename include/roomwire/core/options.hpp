#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "roomwire/core/types.hpp"
#include "roomwire/protocol/messages.hpp"

namespace roomwire::core {

// The contract's numbers (PROTOCOL.md §1-§6), all adjustable. Defaults are the contract's.
struct hub_options {
  // §4 back-pressure
  std::size_t queue_soft_bytes = 1u << 20;  // past it, priority 4 then 3 is shed, oldest first
  std::size_t queue_hard_bytes = 8u << 20;  // past it, the session is closed with 1008
  // §5 rate limit, per session; the bucket starts full
  double rate_per_second = 50;
  double burst = 100;
  int abusive_windows = 5;        // offered > 2x rate in this many 1 s windows in a row: 4001
  int max_invalid_in_row = 10;    // the next invalid one is answered, then closed with 4002
  std::size_t max_depth = 32;     // JSON nesting
  // §3 health
  std::int64_t health_interval_ms = 10000;
  // §3 chat: also deliver a room message to the session that sent it
  bool deliver_to_sender = false;
  // §3 tasks: deliver taskAssign to an assignee when they next connect
  bool offline_task_delivery = true;
  std::size_t offline_tasks_per_user = 1000;
  // §6 dedup of accepted requests per user
  std::size_t dedup_entries = 1024;
  std::int64_t dedup_ttl_ms = 5 * 60 * 1000;
  // §6 recovery: the last deliveries a room keeps for a joinRoom with "since" (0: none)
  std::size_t room_history = 256;
  std::size_t room_history_bytes = 1u << 20;  // and at most this many bytes of them per room
  // §8 drain: how long priority 0-2 may take to flush before sessions are closed with 1001
  std::int64_t drain_timeout_ms = 5000;
};

// The host's decisions. Every member may be left empty: the contract's default applies.
struct task_info {
  std::string task_id;
  std::string assigner_id;
  std::string assignee_id;
  std::string status;
  double progress = 0;
};

struct hub_policies {
  // May this identity join the room? Default: yes.
  std::function<bool(const identity&, std::string_view room_id)> may_join;
  // May this identity send `metadata.type: "system"` to the room? Default: role "admin".
  std::function<bool(const identity&, std::string_view room_id)> may_send_system;
  // May this identity update or reassign an existing task? Default: its assigner or assignee.
  std::function<bool(const identity&, const task_info&)> may_touch_task;
  // May an update for an unknown task create it (sender becomes assigner)? Default: yes; a
  // refusal is answered with 4003.
  std::function<bool(const identity&, std::string_view task_id)> may_create_task;
  // May this identity publish a healthUpdate (forwarded to system:health)? Default: no (4004).
  std::function<bool(const identity&)> may_publish_health;
  // Pre-declared rooms: when set, joining any other room (outside task:/system:) is 4003, and
  // these rooms live as long as the hub. When empty, rooms are created on first join.
  std::optional<std::set<std::string, std::less<>>> declared_rooms;
};

}  // namespace roomwire::core
