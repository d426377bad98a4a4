// The public hub API: the transport's events, the outbound pull, host pushes, drain, metrics.
// The rules themselves live in dispatch.cpp, rules.cpp and delivery.cpp.

#include "roomwire/core/hub.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <utility>

#include "hub_state.hpp"

namespace roomwire::core {

hub::state::state(hub& h, hub_options o, hub_policies p, transport& t, const clock& c,
                  std::shared_ptr<broker> b)
    : self(h), opt(std::move(o)), pol(std::move(p)), out(t), clk(c), brk(std::move(b)) {
  if (!brk) brk = std::make_shared<in_process_broker>();
  limits.max_depth = opt.max_depth;
  started_at = clk.steady_ms();
  next_health_at = started_at + opt.health_interval_ms;
  next_expire_at = started_at + 1000;
  if (pol.declared_rooms) {
    for (const std::string& id : *pol.declared_rooms) create_room(id, true);
  }
  // The node's prefix of server-made messageIds ("s-1f2e3d4c-"), then a counter.
  std::uint64_t seed = 0;
  try {
    std::random_device device;
    seed = (static_cast<std::uint64_t>(device()) << 32) ^ device();
  } catch (...) {
    // no entropy source: the address and the time still make clashes unlikely
  }
  seed ^= static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(this)) ^
          static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  id_prefix = "s-";
  hub_detail::append_hex(id_prefix, (seed ^ (seed >> 32)) & 0xffffffffu);
  id_prefix.push_back('-');
  brk->attach(*this, opt);
}

hub::state::~state() { brk->detach(); }

hub::hub(hub_options opts, hub_policies pols, transport& sink, const clock& clk,
         std::shared_ptr<broker> shared_broker)
    : state_(std::make_unique<state>(*this, std::move(opts), std::move(pols), sink, clk,
                                     std::move(shared_broker))) {}

hub::~hub() = default;

session_id hub::open(core::identity who) {
  state& st = *state_;
  const session_id id = st.next_session++;
  auto owned = std::make_unique<state::session>();
  state::session& s = *owned;
  s.id = id;
  s.who = std::move(who);
  s.limiter = rate_limiter(st.opt.rate_per_second, st.opt.burst, st.opt.abusive_windows,
                           st.clk.steady_ms());
  state::user* u = st.find_user(s.who.user_id);
  if (u == nullptr) {
    auto fresh = std::make_unique<state::user>();
    fresh->id = s.who.user_id;
    u = fresh.get();
    st.users.emplace(s.who.user_id, std::move(fresh));
    st.brk->user_present(u->id, true);
  }
  u->sessions.push_back(&s);
  s.owner = u;
  st.sessions.emplace(id, std::move(owned));

  if (st.opt.offline_task_delivery) {
    for (const frame_ptr& f : st.brk->take_deferred(u->id)) st.enqueue(s, f);
  }
  if (st.draining) st.enqueue(s, st.health_frame(protocol::priority::critical));
  if (st.connect_handler) {
    try {
      session_view view(*this, id, s.who, s.data);
      st.connect_handler(view);
    } catch (...) {
      ++st.counters.handler_errors;
    }
  }
  return id;
}

void hub::receive(session_id session, std::string_view text) {
  state::session* s = state_->find_session(session);
  if (s == nullptr || s->stage != state::phase::open) return;
  if (s->joining > 0) {
    // Behind a join waiting for its history; bounded like the session's outbound queue.
    if (s->held_bytes + text.size() > state_->opt.queue_hard_bytes) {
      state_->close_session(*s, protocol::close_code::policy_violation,
                            "too much sent while joining");
      return;
    }
    s->held_bytes += text.size();
    s->held.emplace_back(text);
    return;
  }
  state_->receive(*s, text);
}

void hub::closed(session_id session, protocol::close_code code) {
  state& st = *state_;
  state::session* s = st.find_session(session);
  if (s == nullptr) return;
  s->stage = state::phase::closing;  // nothing more is queued for it
  ++st.counters.closes_by_code[static_cast<int>(code)];
  if (st.disconnect_handler) {
    try {
      session_view view(*this, session, s->who, s->data);
      st.disconnect_handler(view, code);
    } catch (...) {
      ++st.counters.handler_errors;
    }
  }
  while (!s->rooms.empty()) st.remove_membership(*s, s->rooms.size() - 1);
  state::user& u = *s->owner;
  u.sessions.erase(std::find(u.sessions.begin(), u.sessions.end(), s));
  if (u.sessions.empty()) {
    st.brk->user_present(u.id, false);
    const auto it = st.users.find(u.id);
    if (it != st.users.end()) st.users.erase(it);
  }
  st.queue_bytes -= s->queue.bytes();
  st.backlog_bytes -= s->backlog;
  if (st.last_session == s) st.last_session = nullptr;
  st.sessions.erase(session);
  st.finish_drain_if_flushed();  // it may have been the last one with something to write
}

void hub::tick() {
  state& st = *state_;
  const std::int64_t now = st.clk.steady_ms();
  if (!st.waiting_joins.empty()) {
    // Joins that waited join_wait_ms for the broker's service go ahead without the history.
    std::vector<state::waiting_join> due;
    auto& waiting = st.waiting_joins;
    for (auto it = waiting.begin(); it != waiting.end();) {
      if (st.draining || now - it->p.now >= state::join_wait_ms) {
        due.push_back(std::move(*it));
        it = waiting.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& w : due) {
      --st.in_flight;
      recovery none;
      none.unavailable = true;
      st.finish_join(std::move(w), std::move(none), false);
    }
  }
  if (st.opt.health_interval_ms > 0 && now >= st.next_health_at) {
    st.periodic_health();
    st.next_health_at += st.opt.health_interval_ms;
    if (st.next_health_at <= now) st.next_health_at = now + st.opt.health_interval_ms;
  }
  if (st.draining && now >= st.drain_deadline) {
    for (auto& entry : st.sessions) {
      st.close_session(*entry.second, protocol::close_code::going_away, "server shutdown");
    }
  }
  if (!st.flush_deadlines.empty()) {
    auto& pending = st.flush_deadlines;
    pending.erase(std::remove_if(pending.begin(), pending.end(),
                                 [&](const std::pair<std::int64_t, session_id>& p) {
                                   state::session* s = st.find_session(p.second);
                                   if (s == nullptr || s->stage != state::phase::flushing) {
                                     return true;
                                   }
                                   if (now < p.first) return false;
                                   st.close_session(*s, s->pending_close,
                                                    protocol::describe(s->pending_close));
                                   return true;
                                 }),
                  pending.end());
  }
  if (now >= st.next_expire_at) {
    st.brk->expire(now);
    st.next_expire_at = now + 1000;
  }
}

std::int64_t hub::next_deadline_ms() const {
  const state& st = *state_;
  std::int64_t next = st.next_expire_at;
  if (st.opt.health_interval_ms > 0) next = std::min(next, st.next_health_at);
  if (st.draining) next = std::min(next, st.drain_deadline);
  for (const auto& w : st.waiting_joins) next = std::min(next, w.p.now + state::join_wait_ms);
  for (const auto& p : st.flush_deadlines) next = std::min(next, p.first);
  return next;
}

void hub::count_handshake_failure() { ++state_->counters.handshake_failures; }

frame_ptr hub::pop(session_id session) {
  state& st = *state_;
  state::session* s = st.find_session(session);
  if (s == nullptr) return nullptr;
  frame_ptr f = s->queue.pop();
  if (f) {
    st.count_popped(*f);
    return f;
  }
  st.maybe_finish(*s);
  return nullptr;
}

frame_ptr hub::pop(session_id session, protocol::priority lowest) {
  if (lowest == protocol::priority::background) return pop(session);
  state& st = *state_;
  state::session* s = st.find_session(session);
  if (s == nullptr) return nullptr;
  frame_ptr f = s->queue.pop(lowest);
  if (f) st.count_popped(*f);
  return f;
}

void hub::set_backlog(session_id session, std::size_t bytes) {
  state& st = *state_;
  state::session* s = st.find_session(session);
  if (s == nullptr) return;
  st.backlog_bytes = st.backlog_bytes - s->backlog + bytes;
  s->backlog = bytes;
  if (s->stage == state::phase::open) st.enforce_limits(*s);
  if (bytes == 0) st.maybe_finish(*s);
}

std::size_t hub::queued_bytes(session_id session) const {
  const state::session* s = state_->find_session(session);
  return s == nullptr ? 0 : s->queue.bytes() + s->backlog;
}

void hub::on_connect(std::function<void(session_view&)> handler) {
  state_->connect_handler = std::move(handler);
}

void hub::on_disconnect(std::function<void(session_view&, protocol::close_code)> handler) {
  state_->disconnect_handler = std::move(handler);
}

void hub::register_handler(std::string_view type, erased_handler handler, bool /*built_in*/) {
  // By wire tag: a host struct tagged "message" hooks the built-in rule like chat_message does.
  const auto kind = hub_detail::classify(type);
  if (kind != hub_detail::builtin_type::none) {
    state_->hooks[static_cast<std::size_t>(kind)] = std::move(handler);
  } else {
    state_->host_types.insert_or_assign(std::string(type), std::move(handler));
  }
}

std::size_t hub::enqueue_session(session_id session, frame_ptr f) {
  state::session* s = state_->find_session(session);
  return s != nullptr && state_->enqueue(*s, f) ? 1 : 0;
}

std::size_t hub::enqueue_user(std::string_view user_id, frame_ptr f) {
  audience to;
  to.user_ids[0] = user_id;
  return state_->deliver_to(to, f, nullptr, true);
}

std::size_t hub::enqueue_room(std::string_view room_id, frame_ptr f) {
  audience to;
  to.room_id = room_id;
  return state_->deliver_to(to, f, nullptr, true);
}

void hub::publish_task_update(std::string_view sender_id, const protocol::task_update& update,
                              protocol::priority priority) {
  state& st = *state_;
  std::optional<task_info> t = st.brk->find_task(update.task_id);
  if (!t) {
    t.emplace();
    t->task_id = update.task_id;
    t->assigner_id.assign(sender_id);
  }
  t->status = update.status;
  t->progress = update.progress;
  st.brk->store_task(*t);

  protocol::envelope<protocol::task_update_delivery> d;
  d.payload.task_id = update.task_id;
  d.payload.status = update.status;
  d.payload.progress = update.progress;
  d.payload.metadata = update.metadata;
  d.payload.sender_id.assign(sender_id);
  d.priority = priority;
  d.timestamp = st.clk.wall_ms();
  st.append_message_id(d.message_id);
  st.deliver_update(*t, d, nullptr);
}

void hub::assign_task(std::string_view assigner_id, const protocol::task_assign& assignment,
                      protocol::priority priority) {
  state& st = *state_;
  std::string message_id;
  st.append_message_id(message_id);
  st.assign(st.brk->find_task(assignment.task_id), assigner_id, assignment, message_id,
            st.clk.wall_ms(), priority, false);
}

void hub::set_health(protocol::health_status status) { state_->set_status(status); }

void hub::drain() {
  state& st = *state_;
  if (st.draining) return;
  st.draining = true;
  st.drain_deadline = st.clk.steady_ms() + st.opt.drain_timeout_ms;
  for (auto& entry : st.sessions) {
    entry.second->queue.drop_low([&](const frame& f) {
      st.queue_bytes -= f.text.size();
      st.count_drop(f);
    });
  }
  st.status = protocol::health_status::draining;
  st.broadcast_status();
  st.finish_drain_if_flushed();
}

bool hub::draining() const noexcept { return state_->draining; }

bool hub::drained() const noexcept { return state_->draining && state_->sessions.empty(); }

hub_metrics hub::metrics() const {
  const state& st = *state_;
  hub_metrics m = st.counters;
  m.connections = st.sessions.size();
  m.rooms = st.rooms.size();
  m.queue_bytes = st.queue_bytes + st.backlog_bytes;
  m.uptime_seconds = st.uptime_seconds();
  m.status = st.status;
  return m;
}

const hub_options& hub::options() const noexcept { return state_->opt; }

const clock& hub::time() const noexcept { return state_->clk; }

std::string hub::make_message_id() {
  std::string id;
  id.reserve(state_->id_prefix.size() + 16);
  state_->append_message_id(id);
  return id;
}

}  // namespace roomwire::core
