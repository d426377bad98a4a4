// The built-in requests (§3): rooms and membership, chat, tasks, and a client's healthUpdate.
// Each rule ends the request with exactly one ack() or refuse()/invalid().

#include <string>
#include <utility>

#include "hub_state.hpp"

namespace roomwire::core {

using namespace hub_detail;

// ---- membership --------------------------------------------------------------------------

hub::state::room& hub::state::create_room(std::string_view id, bool declared) {
  auto& slot = rooms[std::string(id)];
  if (!slot) {
    slot = std::make_unique<room>();
    slot->id.assign(id);
  }
  slot->declared = slot->declared || declared;
  return *slot;
}

void hub::state::remove_room(room& r) {
  brk->room_removed(r.id);
  const auto it = rooms.find(r.id);
  if (it != rooms.end()) rooms.erase(it);
}

bool hub::state::is_member(const session& s, const room& r) {
  return std::any_of(s.rooms.begin(), s.rooms.end(),
                     [&](const membership& m) { return m.r == &r; });
}

// A session in a few rooms finds one among its memberships: no lookup in the map of every room,
// which is a cache miss or two on a busy server.
hub::state::room* hub::state::joined_room(const session& s, std::string_view id) {
  constexpr std::size_t few = 4;
  if (s.rooms.size() <= few) {
    for (const membership& m : s.rooms) {
      if (m.r->id == id) return m.r;
    }
    return nullptr;
  }
  room* r = find_room(id);
  return r != nullptr && is_member(s, *r) ? r : nullptr;
}

void hub::state::add_member(session& s, room& r) {
  s.rooms.push_back(membership{&r, r.members.size()});
  r.members.push_back(member{&s, s.rooms.size() - 1});
}

// Removes s.rooms[i] (and the matching member) by swapping the last one in; removes a room
// created by a join once it is empty.
void hub::state::remove_membership(session& s, std::size_t i) {
  room& r = *s.rooms[i].r;
  const std::size_t j = s.rooms[i].slot;
  if (j + 1 != r.members.size()) {
    r.members[j] = r.members.back();
    r.members[j].s->rooms[r.members[j].slot].slot = j;
  }
  r.members.pop_back();
  if (i + 1 != s.rooms.size()) {
    s.rooms[i] = s.rooms.back();
    s.rooms[i].r->members[s.rooms[i].slot].slot = i;
  }
  s.rooms.pop_back();
  if (r.members.empty() && !r.declared) remove_room(r);
}

bool hub::state::leave(session& s, const room& r) {
  for (std::size_t i = 0; i < s.rooms.size(); ++i) {
    if (s.rooms[i].r == &r) {
      remove_membership(s, i);
      return true;
    }
  }
  return false;
}

// ---- policies ----------------------------------------------------------------------------

bool hub::state::may_join(const session& s, std::string_view room_id) const {
  return !pol.may_join || pol.may_join(s.who, room_id);
}

bool hub::state::may_touch(const session& s, const task_info& t) const {
  if (pol.may_touch_task) return pol.may_touch_task(s.who, t);
  return s.who.user_id == t.assigner_id || s.who.user_id == t.assignee_id;
}

// ---- rooms -------------------------------------------------------------------------------

void hub::state::on_join(session& s) {
  protocol::envelope<protocol::join_room> env;
  if (!inbound.decode(env)) return invalid_payload();
  const std::string& room_id = env.payload.room_id;
  room* r = find_room(room_id);
  if (r == nullptr && pol.declared_rooms && !is_implicit_room(room_id)) {
    return refuse(protocol::error_code::room_not_found, "room not found");
  }
  if (!may_join(s, room_id)) {
    return refuse(protocol::error_code::permission_denied, "not allowed to join this room");
  }
  if (r != nullptr && is_member(s, *r)) return ack(room_id, std::nullopt);  // joining again
  // The member is added once the broker has answered (finish_join), in the same turn as its
  // replay (§6 recovery, with since): a shared broker answers in order with the live traffic,
  // so the member gets neither a gap nor a message twice. A plain join learns the room's last
  // seq the same way, and its acknowledgement carries it: a client that sees nothing before its
  // connection drops can still rejoin with since.
  req.answered = true;
  s.invalid_in_row = 0;
  ++s.joining;
  start_recovery(waiting_join{s.id, room_id, env.payload.since, pending_request()});
}

void hub::state::start_recovery(waiting_join w) {
  ++in_flight;
  const std::string room_id = w.room_id;
  const std::int64_t since = w.since.value_or(broker::no_replay);
  brk->recover(room_id, since, [this, w = std::move(w)](recovery rec) mutable {
    --in_flight;
    finish_join(std::move(w), std::move(rec), true);
  });
}

void hub::state::finish_join(waiting_join w, recovery rec, bool may_wait) {
  session* s = find_session(w.id);
  if (s == nullptr || s->stage != phase::open) {
    finish_drain_if_flushed();
    return;
  }
  if (rec.unavailable && w.since && may_wait && !draining &&
      clk.steady_ms() - w.p.now < join_wait_ms) {
    // A node that just started, or lost Redis a moment ago: joining without the history would
    // lose what the client missed. Ask again when the service is back (availability_changed).
    ++in_flight;
    waiting_joins.push_back(std::move(w));
    return;
  }
  room* r = find_room(w.room_id);
  if (r == nullptr) r = &create_room(w.room_id, false);
  if (!is_member(*s, *r)) {
    add_member(*s, *r);
    for (const frame_ptr& f : rec.frames) enqueue(*s, f);
  }
  // Without the broker's answer a plain join goes ahead at once (local members are served while
  // Redis is down), with no seq to report.
  std::optional<std::int64_t> seq;
  if (!rec.unavailable) seq = rec.last_seq;
  std::optional<bool> recovered;
  if (w.since) recovered = rec.complete && !rec.unavailable;
  acknowledge(*s, w.p.message_id, w.p.client_id, w.p.priority, w.p.accepted_at, w.p.now,
              w.room_id, seq, recovered);
  --s->joining;
  release_held(*s);
  finish_drain_if_flushed();
}

// The frames that arrived while the session's joins were waiting, in order, until another
// join with since makes the rest wait again.
void hub::state::release_held(session& s) {
  while (s.joining == 0 && !s.held.empty() && s.stage == phase::open) {
    std::string text = std::move(s.held.front());
    s.held.pop_front();
    s.held_bytes -= text.size();
    receive(s, text);
  }
}

void hub::state::on_leave(session& s) {
  protocol::envelope<protocol::leave_room> env;
  if (!inbound.decode(env)) return invalid_payload();
  const std::string& room_id = env.payload.room_id;
  if (const room* r = find_room(room_id)) {
    leave(s, *r);  // leaving a room one is not in is accepted
  } else if (!is_implicit_room(room_id)) {
    return refuse(protocol::error_code::room_not_found, "room not found");
  }
  ack(room_id, std::nullopt);
}

// ---- chat --------------------------------------------------------------------------------

void hub::state::on_chat(session& s) {
  auto& env = chat_in;
  env.payload.metadata.known = protocol::chat_metadata{};  // optional: absent keeps the default
  env.payload.metadata.raw.text.clear();
  if (!inbound.decode(env)) return invalid_payload();
  const std::string& room_id = env.payload.room_id;
  room* r = joined_room(s, room_id);
  if (r == nullptr) {
    if (find_room(room_id) == nullptr && !is_implicit_room(room_id)) {
      return refuse(protocol::error_code::room_not_found, "room not found");
    }
    return refuse(protocol::error_code::permission_denied, "not a member of the room");
  }
  if (env.payload.metadata.known.kind == protocol::content_kind::system) {
    const bool allowed =
        pol.may_send_system ? pol.may_send_system(s.who, room_id) : s.who.has_role("admin");
    if (!allowed) {
      return refuse(protocol::error_code::permission_denied, "not allowed to send system messages");
    }
  }
  // A shared broker sequences the message cluster-wide (commit_chat); otherwise it is
  // sequenced, acknowledged and delivered here, now.
  const bool shared = brk->sequences_chat();
  const std::int64_t seq = shared ? 0 : brk->next_seq(room_id);
  if (!shared) ack(room_id, seq);

  // The delivery takes the decoded strings over (swapped, not copied) and is encoded once.
  auto& d = chat_out;
  d.payload.room_id.swap(env.payload.room_id);
  d.payload.content.swap(env.payload.content);
  std::swap(d.payload.metadata.known, env.payload.metadata.known);
  d.payload.metadata.raw.text.swap(env.payload.metadata.raw.text);
  d.payload.sender_id.assign(s.owner->id);
  d.payload.seq = seq;
  d.message_id.assign(req.message_id);
  d.timestamp = req.accepted_at;
  d.priority = req.priority;
  const frame_ptr f = encode_frame(d, 192 + d.payload.room_id.size() + d.payload.content.size() +
                                          d.payload.metadata.raw.text.size() +
                                          d.payload.sender_id.size() + d.message_id.size());
  if (shared) return commit_chat(s, *f);
  const session* except = opt.deliver_to_sender ? nullptr : &s;
  for (const member& m : r->members) {
    if (m.s != except) enqueue(*m.s, f);
  }
  brk->record(d.payload.room_id, seq, f);
  audience to;
  to.room_id = d.payload.room_id;
  brk->publish(to, f);
}

// Hands the delivery (encoded with seq 0) to the shared broker, which publishes it with the
// room's next seq to every node, this one included, and then completes the request.
void hub::state::commit_chat(session& s, const frame& delivery) {
  const std::string_view text = delivery.text;
  // The payload's "seq" is its last member: metadata (which may hold a "seq" of its own) comes
  // before it, and a quote inside a string value is always escaped.
  constexpr std::string_view seq_member = "\"seq\":0";
  const std::size_t at = text.rfind(seq_member);
  chat_commit c;
  c.room_id = chat_out.payload.room_id;
  c.user_id = s.owner->id;
  c.message_id = req.message_id;
  c.client_id = req.client_id;
  c.origin = opt.deliver_to_sender ? 0 : s.id;
  c.priority = req.priority;
  c.timestamp = req.accepted_at;
  c.now_ms = req.now;
  c.head = text.substr(0, at + seq_member.size() - 1);
  c.tail = text.substr(at + seq_member.size());
  req.answered = true;
  s.invalid_in_row = 0;
  ++in_flight;
  brk->commit_chat(c, [this, id = s.id, p = pending_request()](const commit_result& r) {
    --in_flight;
    finish_chat(id, p, r);
  });
}

void hub::state::finish_chat(session_id id, const pending& p, const commit_result& r) {
  session* s = find_session(id);
  if (s != nullptr && s->stage == phase::open) {
    if (r.what == commit_result::outcome::unavailable) {
      json_object details;
      details.string("messageId", p.message_id).string("type", protocol::chat_message::type);
      send_error(*s, protocol::error_code::permission_denied, std::string(cluster_unavailable),
                 details.finish(), p.priority);
    } else {
      ack_out.payload = r.ack;
      send_ack(*s, ack_out, p.priority, p.accepted_at);
    }
  }
  finish_drain_if_flushed();
}

// ---- tasks -------------------------------------------------------------------------------

void hub::state::on_assign(session& s) {
  protocol::envelope<protocol::task_assign> env;
  if (!inbound.decode(env)) return invalid_payload();
  if (refused_while_unavailable()) return;
  const std::optional<task_info> existing = brk->find_task(env.payload.task_id);
  if (existing && !may_touch(s, *existing)) {
    return refuse(protocol::error_code::permission_denied, "not allowed to reassign this task");
  }
  assign(existing, s.owner->id, env.payload, req.message_id, req.accepted_at, req.priority, true);
}

void hub::state::assign(const std::optional<task_info>& existing, std::string_view assigner,
                        const protocol::task_assign& a, std::string_view message_id,
                        std::int64_t timestamp, protocol::priority p, bool acknowledge) {
  if (existing && !existing->assignee_id.empty()) {
    brk->cancel_deferred(existing->assignee_id, a.task_id);  // the old assignment is void
  }
  task_info t;
  t.task_id = a.task_id;
  t.assigner_id.assign(assigner);
  t.assignee_id = a.assignee_id;
  t.status = "assigned";
  t.progress = 0;
  brk->store_task(t);
  if (acknowledge) ack("", std::nullopt);

  protocol::envelope<protocol::task_assign_delivery> d;
  d.payload.task_id = a.task_id;
  d.payload.assignee_id = a.assignee_id;
  d.payload.priority = a.priority;
  d.payload.assigner_id.assign(assigner);
  d.message_id.assign(message_id);
  d.timestamp = timestamp;
  d.priority = p;
  const frame_ptr f = encode_frame(
      d, 192 + a.task_id.size() + a.assignee_id.size() + assigner.size() + message_id.size());
  audience to;
  to.user_ids[0] = a.assignee_id;
  const std::size_t reached = deliver_to(to, f, nullptr, true);
  if (reached == 0 && opt.offline_task_delivery) brk->defer_task(a.assignee_id, a.task_id, f);
}

void hub::state::on_update(session& s) {
  protocol::envelope<protocol::task_update> env;
  if (!inbound.decode(env)) return invalid_payload();
  if (refused_while_unavailable()) return;
  std::optional<task_info> t = brk->find_task(env.payload.task_id);
  if (t) {
    if (!may_touch(s, *t)) {
      return refuse(protocol::error_code::permission_denied, "not allowed to update this task");
    }
  } else {
    if (pol.may_create_task && !pol.may_create_task(s.who, env.payload.task_id)) {
      return refuse(protocol::error_code::room_not_found, "task not found");
    }
    t.emplace();
    t->task_id = env.payload.task_id;
    t->assigner_id = s.owner->id;
  }
  t->status = env.payload.status;
  t->progress = env.payload.progress;
  brk->store_task(*t);
  ack("", std::nullopt);

  protocol::envelope<protocol::task_update_delivery> d;
  d.payload.task_id.swap(env.payload.task_id);
  d.payload.status.swap(env.payload.status);
  d.payload.progress = env.payload.progress;
  d.payload.metadata.text.swap(env.payload.metadata.text);
  d.payload.sender_id = s.owner->id;
  d.message_id.assign(req.message_id);
  d.timestamp = req.accepted_at;
  d.priority = req.priority;
  deliver_update(*t, d, &s);
}

// To the assigner's and assignee's sessions and the task:<id> watchers, once each.
std::size_t hub::state::deliver_update(const task_info& t,
                                       const protocol::envelope<protocol::task_update_delivery>& d,
                                       session* except) {
  const frame_ptr f = encode_frame(d, 192 + d.payload.task_id.size() + d.payload.status.size() +
                                          d.payload.metadata.text.size() +
                                          d.payload.sender_id.size() + d.message_id.size());
  watchers.assign(task_room_prefix).append(t.task_id);
  audience to;
  to.room_id = watchers;
  to.user_ids = {t.assigner_id, t.assignee_id};
  return deliver_to(to, f, except, true);
}

// ---- a client's healthUpdate -------------------------------------------------------------

void hub::state::on_health(session& s) {
  protocol::envelope<protocol::health_update> env;
  if (!inbound.decode(env)) return invalid_payload();
  if (!pol.may_publish_health || !pol.may_publish_health(s.who)) {
    return refuse(protocol::error_code::permission_denied, "not allowed to publish health updates");
  }
  ack("", std::nullopt);
  env.message_id.assign(req.message_id);
  env.timestamp = req.accepted_at;
  env.priority = req.priority;
  audience to;
  to.room_id = health_room;
  deliver_to(to, encode_frame(env, 256 + env.payload.metrics.text.size()), &s, true);
}

}  // namespace roomwire::core
