// Tasks across nodes. The hub looks tasks up synchronously, so every node keeps a replica of the
// `tasks` hash: loaded on every connect, updated by T records. A taskAssign for a user with no
// session anywhere waits in deferred:<user>, which any node's open() takes; presence:<user>
// says which nodes have sessions of the user, and alive:<node> which of those nodes still run.

#include <hiredis/hiredis.h>

#include <string>
#include <utility>

#include "redis_broker.hpp"

namespace roomwire::redis::detail {

std::optional<core::task_info> redis_broker::find_task(std::string_view task_id) {
  const auto it = tasks_.find(std::string(task_id));
  if (it == tasks_.end()) return std::nullopt;
  return it->second;
}

void redis_broker::store_task(const core::task_info& task) {
  tasks_[task.task_id] = task;
  const bool written = phase_ == phase::ready && write_task(task);
  if (!written) unsynced_tasks_.insert(task.task_id);  // written once connected
}

bool redis_broker::write_task(const core::task_info& task) {
  std::string encoded = encode_task(task);
  std::string record = "T";
  append_field(record, opt_.node_id);
  record += encoded;
  return run({"HSET", key("tasks"), task.task_id, std::move(encoded)}, log_errors("HSET tasks")) &&
         run({"PUBLISH", channel_, std::move(record)}, log_errors("PUBLISH"));
}

// The hub tells only transitions (first session opened, last one closed); a count keeps the
// broker right should it be told twice. The node's entry holds the count itself rather than
// being incremented, so that registering again after a reconnect cannot count twice.
void redis_broker::user_present(std::string_view user_id, bool present) {
  std::string user(user_id);
  int& count = present_[user];
  count += present ? 1 : -1;
  const int now = count;
  if (now <= 0) present_.erase(user);
  // Once load_state() has queued its commands, a new one goes behind them.
  const bool sent = (phase_ == phase::ready || (phase_ == phase::connecting && state_sent_)) &&
                    register_presence(user, now);
  if (sent) return;
  // Written on the next connect; an entry of a user who left may have outlived the outage.
  if (now <= 0) {
    departed_.insert(std::move(user));
  } else {
    departed_.erase(user);
  }
}

bool redis_broker::register_presence(const std::string& user_id, int count) {
  if (count > 0) {
    return run({"HSET", key("presence", user_id), opt_.node_id, std::to_string(count)},
               log_errors("HSET presence"));
  }
  return run({"HDEL", key("presence", user_id), opt_.node_id}, log_errors("HDEL presence"));
}

// Unavailable: the assignment cannot be kept anywhere shared, and is dropped (the hub reports
// `degraded` meanwhile).
void redis_broker::defer_task(std::string_view user_id, std::string_view task_id,
                              core::frame_ptr f) {
  if (limits_.offline_tasks_per_user == 0 || !f || phase_ != phase::ready) return;
  std::string entry;
  entry.reserve(32 + task_id.size() + f->text.size());
  append_field(entry, task_id);
  append_field(entry, priority_text(f->priority));
  append_field(entry, f->type);
  append_field(entry, f->text);
  eval(script::defer, 2,
       {key("presence", user_id), key("deferred", user_id), opt_.node_id, alive_prefix_,
        std::to_string(limits_.offline_tasks_per_user), std::move(entry)},
       log_errors("deferring a task"));
}

void redis_broker::cancel_deferred(std::string_view user_id, std::string_view task_id) {
  if (phase_ != phase::ready) return;
  std::string id_field;
  append_field(id_field, task_id);
  eval(script::cancel, 1, {key("deferred", user_id), std::move(id_field)},
       log_errors("cancelling a deferred task"));
}

// Nothing now: what was kept is taken from Redis, and delivered through listener::deliver()
// to the user's sessions on this node (the one that just opened among them).
std::vector<core::frame_ptr> redis_broker::take_deferred(std::string_view user_id) {
  if (phase_ == phase::ready) take_deferred_now(std::string(user_id));
  return {};
}

void redis_broker::take_deferred_now(const std::string& user_id) {
  eval(script::take, 1, {key("deferred", user_id)},
       bind([user_id](redis_broker& self, const redisReply* r) {
         self.deliver_deferred(user_id, r);
       }));
}

// The take script's reply: the kept entries, oldest first.
void redis_broker::deliver_deferred(const std::string& user_id, const redisReply* r) {
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY) {
    log_error("taking deferred tasks", r);
    return;
  }
  core::audience to;
  to.user_ids[0] = user_id;
  std::size_t malformed = 0;
  for (std::size_t i = 0; i < r->elements && hub_ != nullptr; ++i) {
    const redisReply* e = r->element[i];
    field_reader in(e->type == REDIS_REPLY_STRING ? std::string_view(e->str, e->len)
                                                  : std::string_view());
    in.text();  // the task id
    const protocol::priority priority = in.priority();
    const std::string_view type = in.text();
    const std::string_view text = in.text();
    if (!in.finished()) {
      ++malformed;
      continue;
    }
    hub_->deliver(to, make_frame(std::string(text), priority, type));
  }
  if (malformed != 0) {
    log("redis: ignored " + std::to_string(malformed) + " malformed deferred tasks");
  }
}

}  // namespace roomwire::redis::detail
