// The dedup memory (§6) and the cluster's health figures. The hub asks both synchronously, so
// each is answered from what this node holds: a dedup replica fed by D and M records, and the
// health hash as last read.

#include <hiredis/hiredis.h>

#include <chrono>
#include <string>
#include <utility>

#include "redis_broker.hpp"

namespace roomwire::redis::detail {

namespace {

// Nodes that wrote no figures for this long are left out of the cluster's sums; after the
// second, their entry is removed.
constexpr std::int64_t health_fresh_ms = 30 * 1000;
constexpr std::int64_t health_forget_ms = 10 * 60 * 1000;

std::int64_t wall_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// ---- dedup --------------------------------------------------------------------------------

std::optional<protocol::message_received> redis_broker::recall(std::string_view user_id,
                                                               std::string_view message_id,
                                                               std::int64_t now_ms) {
  now_ms_ = now_ms;
  return dedup_.recall(user_id, message_id, now_ms);
}

void redis_broker::remember(std::string_view user_id, std::string_view message_id,
                            const protocol::message_received& ack, std::int64_t now_ms) {
  now_ms_ = now_ms;
  if (!dedup_enabled()) return;
  dedup_.remember(user_id, message_id, ack, now_ms);
  if (phase_ != phase::ready) return;
  std::string kept = encode_ack(ack);
  std::string record = "D";
  append_field(record, opt_.node_id);
  append_field(record, user_id);
  append_field(record, message_id);
  record += kept;
  run({"SET", dedup_key(user_id, message_id), std::move(kept), "PX",
       std::to_string(limits_.dedup_ttl_ms)},
      log_errors("SET dedup"));
  run({"PUBLISH", channel_, std::move(record)}, log_errors("PUBLISH"));
}

void redis_broker::expire(std::int64_t now_ms) {
  now_ms_ = now_ms;
  dedup_.expire(now_ms);
  forget_idle_rooms();
}

// ---- health -------------------------------------------------------------------------------

void redis_broker::health_metrics(const core::hub_metrics& local, std::string& members) {
  node_figures mine;
  mine.connections = static_cast<std::int64_t>(local.connections);
  mine.rooms = static_cast<std::int64_t>(local.rooms);
  mine.messages_in = static_cast<std::int64_t>(local.messages_in);
  mine.messages_out = static_cast<std::int64_t>(local.messages_out);
  mine.messages_dropped = static_cast<std::int64_t>(local.messages_dropped);
  mine.uptime_seconds = local.uptime_seconds;
  mine.wall_ms = wall_now_ms();
  cluster_[opt_.node_id] = mine;

  if (phase_ == phase::ready) {
    std::string encoded;
    for (const std::int64_t v : {mine.connections, mine.rooms, mine.messages_in, mine.messages_out,
                                 mine.messages_dropped, mine.uptime_seconds, mine.wall_ms}) {
      append_field(encoded, v);
    }
    run({"HSET", key("health"), opt_.node_id, std::move(encoded)}, log_errors("HSET health"));
    // One read at a time: health is asked at most every few seconds, but a stuck read must
    // not pile up more.
    if (!health_refreshing_) {
      health_refreshing_ =
          run({"HGETALL", key("health")},
              bind([](redis_broker& self, const redisReply* r) { self.on_health_loaded(r); }));
    }
  }

  node_figures sum;
  std::int64_t nodes = 0;
  for (const auto& [node, f] : cluster_) {
    if (f.wall_ms < mine.wall_ms - health_fresh_ms) continue;
    ++nodes;
    sum.connections += f.connections;
    sum.rooms += f.rooms;
    sum.messages_in += f.messages_in;
    sum.messages_out += f.messages_out;
    sum.messages_dropped += f.messages_dropped;
  }
  // node_id holds no character that JSON would need escaped (make_broker checks it).
  members += ",\"node\":\"" + opt_.node_id + "\",\"cluster\":{\"nodes\":" + std::to_string(nodes) +
             ",\"connections\":" + std::to_string(sum.connections) +
             ",\"rooms\":" + std::to_string(sum.rooms) +
             ",\"messagesIn\":" + std::to_string(sum.messages_in) +
             ",\"messagesOut\":" + std::to_string(sum.messages_out) +
             ",\"messagesDropped\":" + std::to_string(sum.messages_dropped) + "}";
}

void redis_broker::on_health_loaded(const redisReply* r) {
  health_refreshing_ = false;
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY) {
    log_error("HGETALL health", r);
    return;
  }
  const std::int64_t now = wall_now_ms();
  const auto mine = cluster_.find(opt_.node_id);
  const node_figures latest = mine == cluster_.end() ? node_figures{} : mine->second;
  const bool had_mine = mine != cluster_.end();
  cluster_.clear();
  for (std::size_t i = 0; i + 1 < r->elements; i += 2) {
    const redisReply* node = r->element[i];
    const redisReply* value = r->element[i + 1];
    if (node->type != REDIS_REPLY_STRING || value->type != REDIS_REPLY_STRING) continue;
    field_reader in(std::string_view(value->str, value->len));
    node_figures f;
    for (std::int64_t* v : {&f.connections, &f.rooms, &f.messages_in, &f.messages_out,
                            &f.messages_dropped, &f.uptime_seconds, &f.wall_ms}) {
      *v = in.integer();
    }
    if (!in.finished()) continue;
    std::string id(node->str, node->len);
    if (f.wall_ms < now - health_forget_ms) {
      run({"HDEL", key("health"), id}, log_errors("HDEL health"));
      continue;
    }
    cluster_[std::move(id)] = f;
  }
  // This node's own figures are the ones it computed last, whatever the hash held.
  if (had_mine) cluster_[opt_.node_id] = latest;
}

}  // namespace roomwire::redis::detail
