// The link to Redis: a command connection and a subscriber connection, opened together and
// given up together. The broker is available once both are up, the subscriber listens on the
// bus, and the command connection has loaded the scripts and the shared state that nodes keep
// replicas of. Losing either connection makes it unavailable; it then retries with a doubling
// back-off.

#include <hiredis/hiredis.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

#include "redis_broker.hpp"

namespace roomwire::redis::detail {

namespace {

// Connecting, subscribing and loading must finish within this, or the attempt counts as failed
// (a connect to an address that drops packets would otherwise wait for the kernel's timeout).
constexpr std::int64_t setup_timeout_ms = 5000;
// alive:<node> lives this long and is renewed every second: other nodes treat this node as gone
// a few seconds after it stopped (its presence entries then no longer count).
constexpr std::int64_t alive_ttl_ms = 5000;
constexpr std::int64_t alive_interval_ms = 1000;

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool is_error(const redisReply* r) { return r == nullptr || r->type == REDIS_REPLY_ERROR; }

std::string reply_error(const redisReply* r) {
  if (r == nullptr) return "no reply";
  return std::string(r->str, std::min<std::size_t>(r->len, 200));
}

}  // namespace

void redis_broker::connect() {
  if (phase_ != phase::waiting) return;
  phase_ = phase::connecting;
  const std::uint64_t link = ++link_;
  command_up_ = false;
  subscribed_ = false;
  state_sent_ = false;
  command_ = connection::create(io_, serialized_);
  subscriber_ = connection::create(io_, serialized_);
  after(setup_timer_, setup_timeout_ms, &redis_broker::setup_timed_out);

  auto lost =
      bind([link](redis_broker& self, const std::string& why) { self.link_failed(link, why); });
  std::string why;
  const bool opened =
      command_->open(where_,
                     {bind([link](redis_broker& self) { self.on_command_connected(link); }), lost},
                     why) &&
      subscriber_->open(
          where_, {bind([link](redis_broker& self) { self.on_subscriber_connected(link); }), lost},
          why);
  if (!opened) link_failed(link, why);
}

void redis_broker::on_command_connected(std::uint64_t link) {
  if (link != link_ || phase_ != phase::connecting) return;
  command_up_ = true;
  if (subscribed_) load_state(link);
}

void redis_broker::on_subscriber_connected(std::uint64_t link) {
  if (link != link_ || phase_ != phase::connecting) return;
  const bool sent = subscriber_->subscribe(
      channel_, bind([link](redis_broker& self) { self.on_subscribed(link); }),
      bind([](redis_broker& self, std::string_view record) { self.on_bus(record); }));
  if (!sent) link_failed(link, "cannot subscribe");
}

void redis_broker::on_subscribed(std::uint64_t link) {
  if (link != link_ || phase_ != phase::connecting) return;
  subscribed_ = true;
  if (command_up_) load_state(link);
}

// Only once subscribed: whatever changes after these reads reaches this node on the bus.
// Redis answers in order, so the last reply (alive:<node>) completes the set-up.
void redis_broker::load_state(std::uint64_t link) {
  auto step = [this, link](std::string_view what) {
    return bind([link, what](redis_broker& self, const redisReply* r) {
      if (link != self.link_ || self.phase_ != phase::connecting || !is_error(r)) return;
      self.link_failed(link, std::string(what) + ": " + reply_error(r));
    });
  };
  bool sent = true;
  if (where_.db != 0) sent = run({"SELECT", std::to_string(where_.db)}, step("SELECT"));
  for (std::size_t i = 0; i < script_count && sent; ++i) {
    sent = run({"SCRIPT", "LOAD", std::string(script_text[i])},
               bind([link, i](redis_broker& self, const redisReply* r) {
                 if (link != self.link_ || self.phase_ != phase::connecting) return;
                 if (r == nullptr || r->type != REDIS_REPLY_STRING) {
                   self.link_failed(link, "SCRIPT LOAD: " + reply_error(r));
                   return;
                 }
                 self.sha_[i].assign(r->str, r->len);
               }));
  }
  tasks_seen_since_load_.clear();
  sent =
      sent && run({"HGETALL", key("tasks")}, bind([link](redis_broker& self, const redisReply* r) {
                    self.on_tasks_loaded(link, r);
                  }));
  // Redis may have restarted empty, or other nodes may have dropped this node's entries while
  // its alive key was missing: register every user present here again.
  for (const auto& [user, count] : present_) {
    if (!sent) break;
    sent = run({"HSET", key("presence", user), opt_.node_id, std::to_string(count)},
               step("HSET presence"));
  }
  for (const std::string& user : departed_) {
    if (!sent) break;
    sent = run({"HDEL", key("presence", user), opt_.node_id}, step("HDEL presence"));
  }
  departed_.clear();
  // The epoch key lives as long as Redis keeps its data: a value other than the last one read
  // means that rooms' seqs started again (on_epoch()). SET NX keeps the first node's value.
  sent = sent &&
         run({"SET", key("epoch"),
              opt_.node_id + "-" + std::to_string(wall_ms()) + "-" + std::to_string(link), "NX"},
             step("SET epoch"));
  sent = sent && run({"GET", key("epoch")}, bind([link](redis_broker& self, const redisReply* r) {
                       if (link != self.link_ || self.phase_ != phase::connecting) return;
                       if (r == nullptr || r->type != REDIS_REPLY_STRING) {
                         self.link_failed(link, "GET epoch: " + reply_error(r));
                         return;
                       }
                       self.on_epoch(std::string_view(r->str, r->len));
                     }));
  state_sent_ = true;
  sent = sent && run({"SET", alive_prefix_ + opt_.node_id, "1", "PX", std::to_string(alive_ttl_ms)},
                     bind([link](redis_broker& self, const redisReply* r) {
                       if (link != self.link_ || self.phase_ != phase::connecting) return;
                       if (is_error(r)) {
                         self.link_failed(link, "SET alive: " + reply_error(r));
                       } else {
                         self.link_ready(link);
                       }
                     }));
  if (!sent) link_failed(link, "cannot send commands");
}

void redis_broker::on_tasks_loaded(std::uint64_t link, const redisReply* r) {
  if (link != link_ || phase_ != phase::connecting) return;
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY) {
    link_failed(link, "HGETALL tasks: " + reply_error(r));
    return;
  }
  std::size_t malformed = 0;
  for (std::size_t i = 0; i + 1 < r->elements; i += 2) {
    const redisReply* value = r->element[i + 1];
    if (value->type != REDIS_REPLY_STRING) {
      ++malformed;
      continue;
    }
    field_reader in(std::string_view(value->str, value->len));
    std::optional<core::task_info> task = decode_task(in);
    if (!task || !in.at_end()) {
      ++malformed;
      continue;
    }
    // What this node stored while unavailable, or heard of after the read, is newer.
    if (unsynced_tasks_.count(task->task_id) != 0) continue;
    if (tasks_seen_since_load_.count(task->task_id) != 0) continue;
    std::string id = task->task_id;
    tasks_[std::move(id)] = std::move(*task);
  }
  tasks_seen_since_load_.clear();
  if (malformed != 0) {
    log("redis: ignored " + std::to_string(malformed) + " malformed task records");
  }
}

void redis_broker::link_ready(std::uint64_t link) {
  if (link != link_ || phase_ != phase::connecting) return;
  phase_ = phase::ready;
  std::error_code ignored;
  setup_timer_.cancel(ignored);
  backoff_ms_ = opt_.reconnect_min_ms;
  log("redis: connected to " + where_.describe() + " as node " + opt_.node_id);
  // Asked for before the hub hears of it: what the bus lost while this node was away.
  catch_up();
  after(alive_timer_, alive_interval_ms, &redis_broker::refresh_alive);

  // Tasks stored while unavailable, and taskAssigns kept for users who connected meanwhile.
  const std::unordered_set<std::string> unsynced = std::move(unsynced_tasks_);
  unsynced_tasks_.clear();
  for (const std::string& id : unsynced) {
    const auto it = tasks_.find(id);
    if (it != tasks_.end() && !write_task(it->second)) unsynced_tasks_.insert(id);
  }
  for (const auto& entry : present_) take_deferred_now(entry.first);
  report(true);
}

// Late or repeated reports of an attempt that has already been given up are ignored.
void redis_broker::link_failed(std::uint64_t link, std::string_view why) {
  if (link != link_ || (phase_ != phase::connecting && phase_ != phase::ready)) return;
  const bool was_ready = phase_ == phase::ready;
  phase_ = phase::waiting;
  std::error_code ignored;
  setup_timer_.cancel(ignored);
  alive_timer_.cancel(ignored);

  // close() from inside one of the command connection's reply callbacks is safe: hiredis only
  // marks the context and frees it once that callback has returned. Commits still waiting for
  // their reply are answered `unavailable` by it.
  // Whatever is published from now until the catch-up replay arrives is lost or held.
  fall_behind();
  const std::shared_ptr<connection> command = std::move(command_);
  const std::shared_ptr<connection> subscriber = std::move(subscriber_);
  if (command) command->close();
  if (subscriber) subscriber->close();
  fail_recoveries();

  const std::int64_t delay = backoff_ms_;
  backoff_ms_ = std::min(backoff_ms_ * 2, opt_.reconnect_max_ms);
  const std::string retrying = "; retrying in " + std::to_string(delay) + " ms";
  if (was_ready) {
    log("redis: connection lost (" + std::string(why) + ")" + retrying);
  } else {
    log("redis: cannot connect to " + where_.describe() + " (" + std::string(why) + ")" + retrying);
  }
  after(retry_timer_, delay, &redis_broker::retry);
  report(false);
}

void redis_broker::setup_timed_out() {
  if (phase_ == phase::connecting) link_failed(link_, "timed out");
}

void redis_broker::retry() {
  if (phase_ == phase::waiting) connect();
}

void redis_broker::refresh_alive() {
  if (phase_ != phase::ready) return;
  run({"SET", alive_prefix_ + opt_.node_id, "1", "PX", std::to_string(alive_ttl_ms)},
      log_errors("SET alive"));
  after(alive_timer_, alive_interval_ms, &redis_broker::refresh_alive);
}

// Once per transition; the first failure counts as one (the hub starts out healthy).
void redis_broker::report(bool available) {
  const reported now = available ? reported::up : reported::down;
  if (reported_ == now || hub_ == nullptr) return;
  reported_ = now;
  hub_->availability_changed(available);
}

void redis_broker::fail_recoveries() {
  auto waiting = std::move(recoveries_);
  recoveries_.clear();
  for (auto& entry : waiting) {
    core::recovery r;
    r.unavailable = true;
    entry.second(std::move(r));
  }
}

}  // namespace roomwire::redis::detail
