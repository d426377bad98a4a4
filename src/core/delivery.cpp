// Outbound queues (§4), closing sessions, fan-out to audiences, and health frames (§3).

#include <string>

#include "hub_state.hpp"

namespace roomwire::core {

using namespace hub_detail;

// Queues `f` for the session; false when it took nothing (closing, or dropped by a drain).
bool hub::state::enqueue(session& s, const frame_ptr& f) {
  if (s.stage != phase::open) return false;
  if (draining && f->priority >= protocol::priority::low) {
    count_drop(*f);  // §8: priority 3-4 are dropped while draining
    return false;
  }
  const bool was_empty = s.queue.push(f);
  queue_bytes += f->text.size();
  enforce_limits(s);
  if (s.stage != phase::open) return false;
  // A queue that was not empty has a pump coming, unless the transport holds its frames back
  // (pacing a slow reader): a priority-0 frame may go ahead of those, so it wakes the transport.
  const bool wake = was_empty || f->priority == protocol::priority::critical;
  if (wake && !s.queue.empty()) out.wake(s.id);
  return true;
}

void hub::state::enforce_limits(session& s) {
  const std::size_t total = s.queue.bytes() + s.backlog;
  if (total <= opt.queue_soft_bytes && total <= opt.queue_hard_bytes) return;
  s.queue.shed(opt.queue_soft_bytes, s.backlog, [&](const frame& f) {
    queue_bytes -= f.text.size();
    count_drop(f);
  });
  if (s.queue.bytes() + s.backlog > opt.queue_hard_bytes) {
    close_session(s, protocol::close_code::policy_violation, "slow consumer");
  }
}

void hub::state::count_drop(const frame& f) {
  ++counters.messages_dropped;
  dropped_tally.bump(f.type, f.priority);
}

// Asks the transport to close the session; what its queue holds is discarded.
void hub::state::close_session(session& s, protocol::close_code code, std::string_view reason) {
  if (s.stage == phase::closing) return;
  s.stage = phase::closing;
  queue_bytes -= s.queue.bytes();
  s.queue.clear();
  out.close(s.id, code, reason);
}

// A session waiting to be closed is closed once nothing of it is left to write.
void hub::state::maybe_finish(session& s) {
  if (!s.queue.empty() || s.backlog != 0) return;
  if (s.stage == phase::flushing) {
    close_session(s, s.pending_close, protocol::describe(s.pending_close));
  } else if (s.stage == phase::open && draining) {
    finish_drain_if_flushed();
  }
}

// During a drain the open sessions are closed together, once none of them (nor any session
// flushing its last answer) has anything left to write. Requests are served until then, and a
// request accepted before that moment has been queued for every member, so no member misses a
// message whose sender saw it acknowledged. Closing each session as soon as its own queue ran
// dry would close members before a later message of the same drain reached them.
void hub::state::finish_drain_if_flushed() {
  if (!draining || in_flight != 0) return;
  for (const auto& entry : sessions) {
    const session& s = *entry.second;
    if (s.stage != phase::closing && (!s.queue.empty() || s.backlog != 0)) return;
  }
  for (auto& entry : sessions) {
    if (entry.second->stage == phase::open) {
      close_session(*entry.second, protocol::close_code::going_away, "server shutdown");
    }
  }
}

// The session's answer is queued; it is closed once that is written (or at a deadline).
void hub::state::close_after_flush(session& s, protocol::close_code code) {
  if (s.stage != phase::open) return;
  s.stage = phase::flushing;
  s.pending_close = code;
  flush_deadlines.emplace_back(clk.steady_ms() + opt.drain_timeout_ms, s.id);
  maybe_finish(s);
}

// Delivers to this node's sessions in `to`, each once, skipping `except`; then, when `publish`,
// to other nodes through the broker. Returns how many sessions took it.
std::size_t hub::state::deliver_to(const audience& to, const frame_ptr& f, session* except,
                                   bool publish) {
  const std::uint64_t stamp = ++mark_stamp;
  if (except != nullptr) except->mark = stamp;
  std::size_t n = 0;
  auto visit = [&](session& s) {
    if (s.mark == stamp) return;
    s.mark = stamp;
    if (enqueue(s, f)) ++n;
  };
  for (const std::string_view uid : to.user_ids) {
    if (uid.empty()) continue;
    if (user* u = find_user(uid)) {
      for (session* s : u->sessions) visit(*s);
    }
  }
  if (!to.room_id.empty()) {
    if (room* r = find_room(to.room_id)) {
      for (const member& m : r->members) visit(*m.s);
    }
  }
  if (publish) brk->publish(to, f);
  return n;
}

void hub::state::deliver(const audience& to, const frame_ptr& f) {
  deliver_to(to, f, to.except != 0 ? find_session(to.except) : nullptr, false);
}

void hub::state::availability_changed(bool available) {
  broker_available = available;
  if (available && !waiting_joins.empty()) {
    std::vector<waiting_join> again;
    again.swap(waiting_joins);
    for (auto& w : again) {
      --in_flight;
      start_recovery(std::move(w));
    }
  }
  if (status == protocol::health_status::draining) return;
  set_status(available ? protocol::health_status::ok : protocol::health_status::degraded);
}

std::int64_t hub::state::uptime_seconds() const { return (clk.steady_ms() - started_at) / 1000; }

std::string hub::state::metrics_json() const {
  json_object m;
  m.integer("connections", static_cast<std::int64_t>(sessions.size()))
      .integer("rooms", static_cast<std::int64_t>(rooms.size()))
      .integer("messagesIn", static_cast<std::int64_t>(counters.messages_in))
      .integer("messagesOut", static_cast<std::int64_t>(counters.messages_out))
      .integer("messagesDropped", static_cast<std::int64_t>(counters.messages_dropped))
      .integer("uptimeSeconds", uptime_seconds());
  std::string text = m.finish();
  std::string extra;
  brk->health_metrics(self.metrics(), extra);
  if (!extra.empty()) text.insert(text.size() - 1, extra);  // inside the closing brace
  return text;
}

frame_ptr hub::state::health_frame(protocol::priority p) {
  protocol::envelope<protocol::health_update> env;
  env.payload.status = status;
  env.payload.metrics.text = metrics_json();
  env.priority = p;
  env.timestamp = clk.wall_ms();
  append_message_id(env.message_id);
  return encode_frame(env, 256);
}

// Every health_interval_ms, to the members of system:health, with priority 3.
void hub::state::periodic_health() {
  room* r = find_room(health_room);
  if (r == nullptr || r->members.empty()) return;
  const frame_ptr f = health_frame(protocol::priority::low);
  for (const member& m : r->members) enqueue(*m.s, f);
}

// A status change goes to every session with priority 0.
void hub::state::set_status(protocol::health_status next) {
  if (next == status) return;
  status = next;
  broadcast_status();
}

void hub::state::broadcast_status() {
  const frame_ptr f = health_frame(protocol::priority::critical);
  for (auto& entry : sessions) enqueue(*entry.second, f);
}

}  // namespace roomwire::core
