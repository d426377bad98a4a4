#include <algorithm>
#include <utility>

#include "roomwire/core/broker.hpp"

namespace roomwire::core {

void in_process_broker::attach(listener& /*hub*/, const hub_options& options) {
  deferred_cap_ = options.offline_tasks_per_user;
  history_cap_ = options.room_history;
  history_bytes_cap_ = options.room_history_bytes;
  dedup_ = dedup_store(options.dedup_entries, options.dedup_ttl_ms);
}

void in_process_broker::detach() {}

std::int64_t in_process_broker::next_seq(std::string_view room_id) {
  probe_.assign(room_id);
  const auto it = seqs_.try_emplace(probe_).first;
  last_log_ = last_room_log{&it->first, &it->second};
  return ++it->second.seq;
}

// Called right after next_seq() for the same room: that lookup is kept.
in_process_broker::room_log* in_process_broker::find_log(std::string_view room_id) {
  if (last_log_.log != nullptr && *last_log_.room_id == room_id) return last_log_.log;
  probe_.assign(room_id);
  const auto it = seqs_.find(probe_);
  return it == seqs_.end() ? nullptr : &it->second;
}

void in_process_broker::record(std::string_view room_id, std::int64_t seq, const frame_ptr& f) {
  if (history_cap_ == 0) return;
  room_log* found = find_log(room_id);
  if (found == nullptr || found->seq != seq) return;  // not the room's latest: ignore
  room_log& log = *found;
  if (f->text.size() > history_bytes_cap_) {  // too big to keep: the history now starts after it
    log.history.clear();
    log.bytes = 0;
    return;
  }
  while (log.history.size() >= history_cap_ || log.bytes + f->text.size() > history_bytes_cap_) {
    log.bytes -= log.history.front()->text.size();
    log.history.pop_front();
  }
  log.bytes += f->text.size();
  log.history.push_back(f);
}

// The history holds seqs (seq - size, seq]; a room that does not exist here has seq 0.
void in_process_broker::recover(std::string_view room_id, std::int64_t since, recover_done done) {
  recovery r;
  probe_.assign(room_id);
  const auto it = seqs_.find(probe_);
  const std::int64_t last = it == seqs_.end() ? 0 : it->second.seq;
  r.last_seq = last;
  if (since > last) {  // the room restarted since the client saw it: its seqs are not the same
    r.complete = false;
  } else {
    const auto held = static_cast<std::int64_t>(it == seqs_.end() ? 0 : it->second.history.size());
    const std::int64_t first = last - held + 1;  // oldest seq held
    r.complete = since + 1 >= first;
    if (it != seqs_.end()) {
      const std::int64_t from = std::max(since + 1, first);
      for (std::int64_t s = from; s <= last; ++s) {
        r.frames.push_back(it->second.history[static_cast<std::size_t>(s - first)]);
      }
    }
  }
  done(std::move(r));
}

void in_process_broker::room_removed(std::string_view room_id) {
  last_log_ = last_room_log{};
  probe_.assign(room_id);
  seqs_.erase(probe_);
}

void in_process_broker::publish(const audience& /*to*/, const frame_ptr& /*f*/) {}

std::optional<task_info> in_process_broker::find_task(std::string_view task_id) {
  probe_.assign(task_id);
  const auto it = tasks_.find(probe_);
  if (it == tasks_.end()) return std::nullopt;
  return it->second;
}

void in_process_broker::store_task(const task_info& task) { tasks_[task.task_id] = task; }

void in_process_broker::defer_task(std::string_view user_id, std::string_view task_id,
                                   frame_ptr f) {
  if (deferred_cap_ == 0) return;
  probe_.assign(user_id);
  auto& pending = deferred_[probe_];
  while (pending.size() >= deferred_cap_) pending.pop_front();
  pending.push_back(deferred_task{std::string(task_id), std::move(f)});
}

void in_process_broker::cancel_deferred(std::string_view user_id, std::string_view task_id) {
  probe_.assign(user_id);
  const auto it = deferred_.find(probe_);
  if (it == deferred_.end()) return;
  it->second.erase_if([&](const deferred_task& d) { return d.task_id == task_id; });
  if (it->second.empty()) deferred_.erase(it);
}

std::vector<frame_ptr> in_process_broker::take_deferred(std::string_view user_id) {
  std::vector<frame_ptr> out;
  probe_.assign(user_id);
  const auto it = deferred_.find(probe_);
  if (it == deferred_.end()) return out;
  out.reserve(it->second.size());
  while (!it->second.empty()) out.push_back(it->second.take_front().f);
  deferred_.erase(it);
  return out;
}

std::size_t in_process_broker::deferred(std::string_view user_id) const {
  const auto it = deferred_.find(std::string(user_id));
  return it == deferred_.end() ? 0 : it->second.size();
}

std::optional<protocol::message_received> in_process_broker::recall(std::string_view user_id,
                                                                    std::string_view message_id,
                                                                    std::int64_t now_ms) {
  return dedup_.recall(user_id, message_id, now_ms);
}

void in_process_broker::remember(std::string_view user_id, std::string_view message_id,
                                 const protocol::message_received& ack, std::int64_t now_ms) {
  dedup_.remember(user_id, message_id, ack, now_ms);
}

void in_process_broker::expire(std::int64_t now_ms) { dedup_.expire(now_ms); }

}  // namespace roomwire::core
