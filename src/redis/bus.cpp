// Records arriving on the bus channel (layouts in records.hpp). The subscriber connection hands
// them over in the order Redis published them, which is what keeps a room's deliveries in seq
// order on every node and a replay ahead of what was committed after it.

#include <string>
#include <utility>

#include "redis_broker.hpp"

namespace roomwire::redis::detail {

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
  core::audience to;
  to.room_id = room;
  to.except = origin == opt_.node_id ? session : 0;
  hub_->deliver(to, make_frame(std::string(text), priority, protocol::chat_delivery::type));
  return true;
}

bool redis_broker::on_replay_record(field_reader& in) {
  const std::string_view node = in.text();
  const std::uint64_t token = in.unsigned_integer();
  const bool complete = in.flag();
  const std::uint64_t count = in.unsigned_integer();
  if (!in.ok()) return false;
  if (node != opt_.node_id) return true;  // another node's
  core::recovery r;
  r.complete = complete;
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

}  // namespace roomwire::redis::detail
