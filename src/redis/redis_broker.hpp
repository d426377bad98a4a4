#pragma once

// The Redis broker: core::broker against one Redis server, for hubs on several nodes. Defined
// across src/redis/:
//   broker.cpp        make_broker, attach/detach, command helpers
//   link.cpp          the two connections: connect, set up, lose, reconnect; availability
//   bus.cpp           records arriving on the bus channel
//   rooms.cpp         chat commits, recovery, host pushes
//   tasks.cpp         the task replica, presence, deferred taskAssigns
//   dedup_health.cpp  the dedup replica, cluster health figures
//
// Every member is used only inside `serialized` (the hub's lock): the hub calls in under it,
// and the connections' handlers enter it. Callbacks hold a weak reference and do nothing once
// the broker is detached or gone.

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include "connection.hpp"
#include "endpoint.hpp"
#include "records.hpp"
#include "roomwire/core/broker.hpp"
#include "roomwire/core/dedup.hpp"
#include "roomwire/redis.hpp"
#include "scripts.hpp"

namespace roomwire::redis::detail {

class redis_broker final : public core::broker, public std::enable_shared_from_this<redis_broker> {
 public:
  redis_broker(asio::io_context& io, serializer serialized, redis_options options, endpoint where);
  ~redis_broker() override;
  redis_broker(const redis_broker&) = delete;
  redis_broker& operator=(const redis_broker&) = delete;

  void attach(listener& hub, const core::hub_options& options) override;
  void detach() override;

  std::int64_t next_seq(std::string_view room_id) override;
  void room_removed(std::string_view room_id) override;
  void publish(const core::audience& to, const core::frame_ptr& f) override;
  bool sequences_chat() const noexcept override { return true; }
  bool commit_chat(const core::chat_commit& c, commit_done done) override;
  void record(std::string_view room_id, std::int64_t seq, const core::frame_ptr& f) override;
  void recover(std::string_view room_id, std::int64_t since, recover_done done) override;

  void user_present(std::string_view user_id, bool present) override;
  void health_metrics(const core::hub_metrics& local, std::string& members) override;

  std::optional<core::task_info> find_task(std::string_view task_id) override;
  void store_task(const core::task_info& task) override;
  void defer_task(std::string_view user_id, std::string_view task_id, core::frame_ptr f) override;
  void cancel_deferred(std::string_view user_id, std::string_view task_id) override;
  std::vector<core::frame_ptr> take_deferred(std::string_view user_id) override;

  std::optional<protocol::message_received> recall(std::string_view user_id,
                                                   std::string_view message_id,
                                                   std::int64_t now_ms) override;
  void remember(std::string_view user_id, std::string_view message_id,
                const protocol::message_received& ack, std::int64_t now_ms) override;
  void expire(std::int64_t now_ms) override;

 private:
  enum class phase : std::uint8_t {
    idle,        // not attached yet
    connecting,  // connections opening, subscribing, loading scripts and replicas
    ready,       // available
    waiting,     // lost or failed: the retry timer runs
    stopped,     // detached
  };
  enum class reported : std::uint8_t { nothing, up, down };

  // One node's counters in the health hash.
  struct node_figures {
    std::int64_t connections = 0, rooms = 0, messages_in = 0, messages_out = 0,
                 messages_dropped = 0, uptime_seconds = 0;
    std::int64_t wall_ms = 0;  // when the node wrote them
  };

  // ---- helpers (broker.cpp) --------------------------------------------------------------
  // A callback that runs f(*this, args...) only while the broker exists and is attached.
  template <class F>
  auto bind(F f) {
    return [weak = weak_from_this(), f = std::move(f)](auto&&... args) mutable {
      const auto self = weak.lock();
      if (self && !self->detached_) f(*self, std::forward<decltype(args)>(args)...);
    };
  }
  // Runs fn inside `serialized` on the io_context, unless the broker is detached by then.
  void post_serialized(void (redis_broker::*fn)());
  void after(asio::steady_timer& timer, std::int64_t ms, void (redis_broker::*fn)());
  // Sends a command on the command connection; false when there is none to take it.
  bool run(const std::vector<std::string>& args, connection::reply_handler done = {});
  // Runs a script by its SHA (by its text when Redis lost it). `keys` are the first
  // `key_count` of `args`.
  bool eval(script which, std::size_t key_count, std::vector<std::string> args,
            connection::reply_handler done);
  // A reply handler that logs an error reply of a command nobody waits for.
  connection::reply_handler log_errors(std::string_view what);
  // Logs an error reply (nothing for any other reply).
  void log_error(std::string_view what, const redisReply* r) const;
  std::string key(std::string_view kind) const;
  std::string key(std::string_view kind, std::string_view id) const;
  std::string dedup_key(std::string_view user_id, std::string_view message_id) const;
  bool dedup_enabled() const;
  void log(std::string_view line) const;

  // ---- the link (link.cpp) ---------------------------------------------------------------
  void connect();
  void on_command_connected(std::uint64_t link);
  void on_subscriber_connected(std::uint64_t link);
  void on_subscribed(std::uint64_t link);
  void load_state(std::uint64_t link);
  void on_tasks_loaded(std::uint64_t link, const redisReply* r);
  void link_ready(std::uint64_t link);
  void link_failed(std::uint64_t link, std::string_view why);
  void setup_timed_out();
  void retry();
  void refresh_alive();
  void report(bool available);
  void fail_recoveries();

  // ---- the bus (bus.cpp) -----------------------------------------------------------------
  void on_bus(std::string_view record);
  bool on_chat_record(field_reader& in);
  bool on_replay_record(field_reader& in);
  bool on_push_record(field_reader& in);
  bool on_task_record(field_reader& in);
  bool on_dedup_record(field_reader& in);

  // ---- rooms (rooms.cpp) -----------------------------------------------------------------
  // The commit script's reply, as the hub's answer.
  core::commit_result committed(const redisReply* r, protocol::message_received ack);

  // ---- tasks (tasks.cpp) -----------------------------------------------------------------
  // HSET and publish; false when the link could not take them.
  bool write_task(const core::task_info& task);
  void take_deferred_now(const std::string& user_id);
  void deliver_deferred(const std::string& user_id, const redisReply* r);
  bool register_presence(const std::string& user_id, int count);

  // ---- health (dedup_health.cpp) ---------------------------------------------------------
  void on_health_loaded(const redisReply* r);

  // ---- members ---------------------------------------------------------------------------
  asio::io_context& io_;
  serializer serialized_;
  const redis_options opt_;
  const endpoint where_;
  const std::string channel_;       // <prefix>:bus
  const std::string alive_prefix_;  // <prefix>:alive:
  listener* hub_ = nullptr;
  core::hub_options limits_;
  // Read by Asio handlers before they enter `serialized`.
  std::atomic<bool> detached_{false};

  // The link: both connections of one attempt, numbered so that late callbacks of an older
  // attempt are ignored.
  phase phase_ = phase::idle;
  std::uint64_t link_ = 0;
  std::shared_ptr<connection> command_;
  std::shared_ptr<connection> subscriber_;
  bool command_up_ = false;
  bool subscribed_ = false;
  bool state_sent_ = false;  // load_state() has queued its commands on this link
  std::array<std::string, script_count> sha_;
  reported reported_ = reported::nothing;
  std::int64_t backoff_ms_;
  asio::steady_timer retry_timer_;
  asio::steady_timer setup_timer_;
  asio::steady_timer alive_timer_;

  // Recoveries waiting for their R record, by token.
  std::uint64_t next_token_ = 0;
  std::unordered_map<std::uint64_t, recover_done> recoveries_;

  // Replicas of shared state, kept current by the bus.
  std::unordered_map<std::string, core::task_info> tasks_;
  std::unordered_set<std::string> tasks_seen_since_load_;  // T records newer than a load
  std::unordered_set<std::string> unsynced_tasks_;         // stored while unavailable
  core::dedup_store dedup_;
  std::int64_t now_ms_ = 0;  // the hub's steady time as last seen (for replica entries)

  // Users with sessions on this node (count of user_present(true) minus false).
  std::unordered_map<std::string, int> present_;
  // Users whose last session here closed while unavailable: their entries are removed on connect.
  std::unordered_set<std::string> departed_;

  // The cluster as last read from the health hash, by node.
  std::map<std::string, node_figures, std::less<>> cluster_;
  bool health_refreshing_ = false;
};

}  // namespace roomwire::redis::detail
