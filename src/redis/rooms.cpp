// Rooms across nodes: chat is sequenced, kept and published by one script (commit_lua), so that
// every node delivers a room's messages in seq order; a replay travels on the bus too, so that
// it reaches the joining session ahead of everything committed after it; host pushes are
// published for the other nodes.

#include <hiredis/hiredis.h>

#include <charconv>
#include <string>
#include <utility>

#include "redis_broker.hpp"

namespace roomwire::redis::detail {

namespace {

core::commit_result unavailable() {
  core::commit_result r;
  r.what = core::commit_result::outcome::unavailable;
  return r;
}

bool is_string(const redisReply* r) {
  return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS;
}

}  // namespace

// Never reached: this broker sequences chat itself (sequences_chat(), commit_chat()), so the
// hub has no use for it. A synchronous answer from Redis would block the event loop, so there
// is none: 0.
std::int64_t redis_broker::next_seq(std::string_view /*room_id*/) { return 0; }

// commit_chat() keeps the history in Redis.
void redis_broker::record(std::string_view /*room_id*/, std::int64_t /*seq*/,
                          const core::frame_ptr& /*f*/) {}

// A room that is empty on this node may still have members on others, and this node cannot
// know when the last one anywhere left. So a shared room keeps its seq (and its history) while
// its keys live: they expire history_ttl_ms after the room's last message, and only then does
// its seq start again at 1.
void redis_broker::room_removed(std::string_view /*room_id*/) {}

bool redis_broker::commit_chat(const core::chat_commit& c, commit_done done) {
  now_ms_ = c.now_ms;
  if (phase_ != phase::ready) {
    done(unavailable());
    return true;
  }
  const bool dedup = c.client_id && dedup_enabled();
  // The layout commit_lua expects: three keys, then its ARGV.
  std::vector<std::string> args = {key("seq", c.room_id),
                                   key("hist", c.room_id),
                                   dedup_key(c.user_id, c.message_id),
                                   std::string(c.head),
                                   std::string(c.tail),
                                   std::to_string(limits_.room_history),
                                   std::to_string(opt_.history_ttl_ms),
                                   dedup ? "1" : "0",
                                   std::to_string(dedup ? limits_.dedup_ttl_ms : 0),
                                   std::string(c.room_id),
                                   std::to_string(c.timestamp),
                                   opt_.node_id,
                                   std::to_string(c.origin),
                                   std::string(priority_text(c.priority)),
                                   channel_,
                                   std::string(c.user_id),
                                   std::string(c.message_id)};
  protocol::message_received ack;
  ack.message_id.assign(c.message_id);
  ack.room_id.assign(c.room_id);
  ack.sender_id.assign(c.user_id);
  ack.timestamp = c.timestamp;
  auto on_reply = bind([ack = std::move(ack), done, dedup, origin = c.origin](
                           redis_broker& self, const redisReply* r) mutable {
    const core::commit_result result = self.committed(r, std::move(ack));
    if (dedup && result.what != core::commit_result::outcome::unavailable) {
      self.dedup_.remember(result.ack.sender_id, result.ack.message_id, result.ack, self.now_ms_);
    }
    if (result.what == core::commit_result::outcome::accepted && result.ack.seq) {
      self.own_commit(result.ack.room_id, *result.ack.seq, origin);
    }
    done(result);
  });
  if (!eval(script::commit, 3, std::move(args), on_reply)) done(unavailable());
  return true;
}

// [1, seq]: accepted; [0, kept ack]: a repeat; anything else: nothing can be promised.
core::commit_result redis_broker::committed(const redisReply* r, protocol::message_received ack) {
  const bool shaped = r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                      r->element[0]->type == REDIS_REPLY_INTEGER && is_string(r->element[1]);
  if (!shaped) {
    log_error("chat commit", r);
    return unavailable();
  }
  const std::string_view value(r->element[1]->str, r->element[1]->len);
  core::commit_result result;
  if (r->element[0]->integer == 0) {
    std::optional<protocol::message_received> kept =
        decode_ack(value, ack.sender_id, ack.message_id);
    if (!kept) {
      log("redis: ignored a malformed kept acknowledgement");
      return unavailable();
    }
    result.what = core::commit_result::outcome::repeated;
    result.ack = std::move(*kept);
    return result;
  }
  std::int64_t seq = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seq);
  if (ec != std::errc() || end != value.data() + value.size()) return unavailable();
  ack.seq = seq;
  result.what = core::commit_result::outcome::accepted;
  result.ack = std::move(ack);
  return result;
}

void redis_broker::recover(std::string_view room_id, std::int64_t since, recover_done done) {
  if (phase_ != phase::ready) {
    core::recovery r;
    r.unavailable = true;
    done(std::move(r));
    return;
  }
  const std::uint64_t token = ++next_token_;
  recoveries_.emplace(token, std::move(done));
  // The script's reply only says that the R record is on its way; a failed one ends the wait.
  auto on_reply = bind([token](redis_broker& self, const redisReply* r) {
    if (r != nullptr && r->type == REDIS_REPLY_INTEGER) return;
    self.log_error("recovery", r);
    const auto it = self.recoveries_.find(token);
    if (it == self.recoveries_.end()) return;
    recover_done waiting = std::move(it->second);
    self.recoveries_.erase(it);
    core::recovery failed;
    failed.unavailable = true;
    waiting(std::move(failed));
  });
  std::vector<std::string> args = {key("seq", room_id),
                                   key("hist", room_id),
                                   std::to_string(since),
                                   opt_.node_id,
                                   std::to_string(token),
                                   channel_,
                                   "0"};
  if (!eval(script::recover, 2, std::move(args), on_reply)) on_reply(nullptr);
}

void redis_broker::publish(const core::audience& to, const core::frame_ptr& f) {
  if (phase_ != phase::ready || !f) return;
  std::string record = "P";
  record.reserve(64 + f->text.size() + to.room_id.size());
  append_field(record, opt_.node_id);
  append_field(record, priority_text(f->priority));
  append_field(record, f->type);
  append_field(record, to.room_id);
  append_field(record, to.user_ids[0]);
  append_field(record, to.user_ids[1]);
  append_field(record, f->text);
  run({"PUBLISH", channel_, std::move(record)}, log_errors("PUBLISH"));
}

}  // namespace roomwire::redis::detail
