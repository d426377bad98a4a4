// Records arriving on the bus channel (layouts in records.hpp). The subscriber connection hands
// them over in the order Redis published them, which is what keeps a room's deliveries in seq
// order on every node and a replay ahead of what was committed after it.
//
// What the bus loses while this node is not subscribed (Redis restarted, the subscriber
// connection killed or cut) is caught up from the rooms' histories once the link is back: see
// "catch-up" below.

#include <hiredis/hiredis.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

#include "redis_broker.hpp"

namespace roomwire::redis::detail {

namespace {

std::int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A room id for a log line: bounded, and without control characters (it comes from a client).
std::string loggable(std::string_view room) {
  std::string out(room.substr(0, 64));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < ' ' || c == 127 || c == '"') c = '?';
  }
  if (room.size() > 64) out += "...";
  return out;
}

}  // namespace

void redis_broker::on_bus(std::string_view record) {
  if (hub_ == nullptr) return;
  bool ok = false;
  if (!record.empty()) {
    field_reader in(record.substr(1));
    switch (record.front()) {
      case 'M':
        ok = on_chat_record(in);
        break;
      case 'R':
        ok = on_replay_record(in);
        break;
      case 'P':
        ok = on_push_record(in);
        break;
      case 'T':
        ok = on_task_record(in);
        break;
      case 'D':
        ok = on_dedup_record(in);
        break;
      default:
        break;
    }
  }
  if (!ok) {
    // Its kind and size only: the record may hold a message's content.
    const char kind = record.empty() ? '-' : record.front();
    const bool printable = kind > ' ' && kind < 127;
    log("redis: ignored a malformed bus record (kind " + std::string(1, printable ? kind : '?') +
        ", " + std::to_string(record.size()) + " bytes)");
  }
}

bool redis_broker::on_chat_record(field_reader& in) {
  const std::string_view origin = in.text();
  const core::session_id session = in.unsigned_integer();
  const protocol::priority priority = in.priority();
  const std::string_view room = in.text();
  const std::string_view sender = in.text();
  const std::string_view message_id = in.text();
  const std::int64_t timestamp = in.integer();
  const std::int64_t seq = in.integer();
  const bool client_id = in.flag();
  const std::string_view text = in.text();
  if (!in.finished() || room.empty()) return false;

  // A repeat sent to another node is recognised there by its replica too.
  if (client_id && dedup_enabled()) {
    protocol::message_received ack;
    ack.room_id.assign(room);
    ack.timestamp = timestamp;
    ack.seq = seq;
    dedup_.remember(sender, message_id, ack, now_ms_);
  }
  const std::int64_t now = steady_now_ms();
  const auto [it, fresh] = seen_.try_emplace(std::string(room));
  room_seen& seen = it->second;
  // Idle for this long, the room counts as unknown (as if forgotten already): its keys may
  // have expired and its seq started again at 1, so what comes now is not a repeat.
  if (!fresh && now - seen.used_ms >= forget_after_ms()) seen = room_seen{};
  seen.used_ms = now;
  const core::session_id except = origin == opt_.node_id ? session : 0;
  core::frame_ptr f = make_frame(std::string(text), priority, protocol::chat_delivery::type);
  if (seen.behind) {
    // It may be newer than what this node missed: it waits for the catch-up replay.
    seen.held.push_back({seq, except, std::move(f)});
    return true;
  }
  deliver_chat(room, seen, seq, except, f);
  return true;
}

bool redis_broker::on_replay_record(field_reader& in) {
  const std::string_view node = in.text();
  const std::uint64_t token = in.unsigned_integer();
  if (!in.ok()) return false;
  if (node != opt_.node_id) return true;  // another node's
  const bool complete = in.flag();
  const std::int64_t from = in.integer();
  const std::int64_t last = in.integer();
  const std::uint64_t count = in.unsigned_integer();
  if (!in.ok()) return false;
  core::recovery r;
  r.complete = complete;
  r.last_seq = last;
  for (std::uint64_t i = 0; i < count && in.ok(); ++i) {
    const std::string_view entry = in.text();
    if (entry.empty() || entry.front() < '0' || entry.front() >= '0' + protocol::priority_count) {
      return false;
    }
    const auto priority = static_cast<protocol::priority>(entry.front() - '0');
    r.frames.push_back(
        make_frame(std::string(entry.substr(1)), priority, protocol::chat_delivery::type));
  }
  if (!in.finished()) return false;
  if (catch_ups_.count(token) != 0) {
    caught_up(token, from, last, std::move(r.frames));
    return true;
  }
  const auto it = recoveries_.find(token);
  if (it == recoveries_.end()) return true;  // already answered unavailable
  recover_done done = std::move(it->second);
  recoveries_.erase(it);
  done(std::move(r));
  return true;
}

bool redis_broker::on_push_record(field_reader& in) {
  const std::string_view origin = in.text();
  const protocol::priority priority = in.priority();
  const std::string_view type = in.text();
  const std::string_view room = in.text();
  const std::string_view user_1 = in.text();
  const std::string_view user_2 = in.text();
  const std::string_view text = in.text();
  if (!in.finished()) return false;
  if (origin == opt_.node_id) return true;  // delivered here before it was published
  core::audience to;
  to.room_id = room;
  to.user_ids = {user_1, user_2};
  hub_->deliver(to, make_frame(std::string(text), priority, type));
  return true;
}

bool redis_broker::on_task_record(field_reader& in) {
  const std::string_view origin = in.text();
  std::optional<core::task_info> task = decode_task(in);
  if (!task || !in.finished()) return false;
  if (origin == opt_.node_id) return true;
  tasks_seen_since_load_.insert(task->task_id);
  std::string id = task->task_id;
  tasks_[std::move(id)] = std::move(*task);
  return true;
}

bool redis_broker::on_dedup_record(field_reader& in) {
  const std::string_view origin = in.text();
  const std::string_view user = in.text();
  const std::string_view message_id = in.text();
  if (!in.ok()) return false;
  const std::optional<protocol::message_received> ack = decode_ack(in.rest(), user, message_id);
  if (!ack) return false;
  if (origin != opt_.node_id && dedup_enabled()) dedup_.remember(user, message_id, *ack, now_ms_);
  return true;
}

// ---- catch-up -------------------------------------------------------------------------------
//
// Per room that this node has delivered chat of: the last seq delivered (records carry it). When
// the link is lost every such room falls behind; once the link is back (subscribed, scripts
// loaded) each asks the recover script for its history after that seq, as an R record on the
// bus, so that the replay is ordered with the room's live records. Live records arriving before
// it are held, and delivered after it; whatever has a seq already delivered is dropped, so that
// nothing arrives twice or out of order. A replayed message that this node committed skips its
// sending session (known from the commit's reply), as its live delivery would have; when that
// reply was lost with the link too, the sender was told "unavailable" and gets the message like
// every other member.
//
// A room is forgotten after forget_after_ms() without records, so the map holds the rooms
// active lately, cluster-wide. A room this node has not delivered anything of, or has forgotten
// (quiet for that long, outage included), is not caught up: what it missed stays lost here.
//
// Seqs start again when Redis loses its data (restarted without persistence): then a seq this
// node delivered may name a new message. The epoch key tells (on_epoch()), and the rooms behind
// are caught up from the start of their new sequence.

std::int64_t redis_broker::forget_after_ms() const {
  // Well short of history_ttl_ms, so that a room whose keys expired (and whose seq started
  // again) is never mistaken for one sending repeats; at most an hour, to bound the map.
  return std::max<std::int64_t>(1, std::min<std::int64_t>(opt_.history_ttl_ms / 2, 3600 * 1000));
}

void redis_broker::deliver_chat(std::string_view room, room_seen& seen, std::int64_t seq,
                                core::session_id except, const core::frame_ptr& f) {
  if (seq <= seen.last || hub_ == nullptr) return;  // delivered already
  seen.last = seq;
  if (!seen.own.empty()) seen.own.erase(seen.own.begin(), seen.own.upper_bound(seq));
  core::audience to;
  to.room_id = room;
  to.except = except;
  hub_->deliver(to, f);
}

void redis_broker::fall_behind() {
  catch_ups_.clear();  // their R records, if any, would reach a subscriber that is gone
  for (auto& entry : seen_) {
    entry.second.behind = true;
    entry.second.token = 0;
  }
}

void redis_broker::on_epoch(std::string_view epoch) {
  if (!epoch_.empty() && epoch != epoch_) {
    log("redis: Redis lost its data since the last connection; rooms start their seq again");
    // Everything of the new sequences was published after this node lost the link: the rooms
    // behind have delivered none of it.
    for (auto& entry : seen_) {
      if (!entry.second.behind) continue;
      entry.second.last = 0;
      entry.second.own.clear();
    }
  }
  epoch_.assign(epoch);
}

void redis_broker::catch_up() {
  const std::int64_t now = steady_now_ms();
  for (auto next = seen_.begin(); next != seen_.end();) {
    if (now - next->second.used_ms >= forget_after_ms()) {
      next = seen_.erase(next);  // unknown by now: see on_chat_record()
      continue;
    }
    const std::string& room = next->first;
    room_seen& seen = next->second;
    ++next;
    if (!seen.behind || seen.token != 0) continue;
    const std::uint64_t token = ++next_token_;
    seen.token = token;
    catch_ups_.emplace(token, catch_up_request{room, seen.last});
    // The reply only says that the R record is on its way. A null one means the link is lost
    // (the room stays behind for the next link); an error means no replay will come, so the
    // room delivers what it held rather than waiting for ever.
    auto on_reply = bind([token](redis_broker& self, const redisReply* r) {
      if (r == nullptr || r->type == REDIS_REPLY_INTEGER) return;
      self.log_error("catch-up", r);
      const auto request = self.catch_ups_.find(token);
      if (request == self.catch_ups_.end()) return;
      const std::string name = std::move(request->second.room);
      self.catch_ups_.erase(request);
      const auto it = self.seen_.find(name);
      if (it == self.seen_.end() || it->second.token != token) return;
      self.log("redis: cannot catch room \"" + loggable(name) +
               "\" up after reconnecting: messages published meanwhile may be missing");
      self.release_held(name, it->second);
    });
    std::vector<std::string> args = {key("seq", room),
                                     key("hist", room),
                                     std::to_string(seen.last),
                                     opt_.node_id,
                                     std::to_string(token),
                                     channel_,
                                     "1"};
    // False: the link is failing, and every room stays behind for the next one.
    if (!eval(script::recover, 2, std::move(args), on_reply)) return;
  }
}

void redis_broker::caught_up(std::uint64_t token, std::int64_t from, std::int64_t last,
                             std::vector<core::frame_ptr> frames) {
  const auto request = catch_ups_.find(token);
  const catch_up_request asked = std::move(request->second);
  catch_ups_.erase(request);
  const auto it = seen_.find(asked.room);
  if (it == seen_.end() || it->second.token != token) return;
  room_seen& seen = it->second;
  std::int64_t since = asked.since;
  if (last < since) {
    // The room started again while this node was away (its keys expired, or Redis came back
    // without them): the script replayed its new sequence from the start.
    since = 0;
    seen.last = 0;
    seen.own.clear();
  }
  // Seqs after `since` that neither the history nor the held records have.
  std::int64_t missing = from - (since + 1);
  for (const held_chat& h : seen.held) {
    if (h.seq > since && h.seq < from) --missing;
  }
  if (missing > 0) {
    log("redis: the history of room \"" + loggable(asked.room) + "\" no longer reaches back: " +
        std::to_string(missing) + " messages published while disconnected cannot be delivered");
  }
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const std::int64_t seq = from + static_cast<std::int64_t>(i);
    const auto own = seen.own.find(seq);
    deliver_chat(asked.room, seen, seq, own == seen.own.end() ? 0 : own->second, frames[i]);
  }
  release_held(asked.room, seen);
}

void redis_broker::release_held(std::string_view room, room_seen& seen) {
  seen.behind = false;
  seen.token = 0;
  std::vector<held_chat> held = std::move(seen.held);
  seen.held.clear();
  for (const held_chat& h : held) deliver_chat(room, seen, h.seq, h.except, h.f);
}

// Only while the room's M record has not been delivered: that is when a replay may carry it.
void redis_broker::own_commit(std::string_view room, std::int64_t seq, core::session_id origin) {
  if (origin == 0) return;
  const auto it = seen_.find(std::string(room));
  if (it == seen_.end() || seq <= it->second.last) return;
  it->second.own.emplace(seq, origin);
}

void redis_broker::forget_idle_rooms() {
  const std::int64_t now = steady_now_ms();
  if (now < next_forget_ms_) return;
  const std::int64_t after = forget_after_ms();
  next_forget_ms_ = now + std::min<std::int64_t>(after, 60 * 1000);
  for (auto it = seen_.begin(); it != seen_.end();) {
    if (now - it->second.used_ms >= after) {
      it = seen_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace roomwire::redis::detail
