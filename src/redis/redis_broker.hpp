#pragma once

// The Redis broker: core::broker against one Redis server, for hubs on several nodes. Defined
// across src/redis/:
//   broker.cpp        make_broker, attach/detach, command helpers
//   link.cpp          the two connections: connect, set up, lose, reconnect; availability
//   bus.cpp           records arriving on the bus channel; catching rooms up after an outage
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

  // ---- catch-up (bus.cpp) ----------------------------------------------------------------
  // A room's chat reaches this node only on the bus, which loses whatever is published while
  // the subscriber is not subscribed. So the broker remembers, per room, the last seq it
  // delivered; after an outage it asks for the history after it and holds the room's live
  // records until that replay has been delivered.
  struct held_chat {
    std::int64_t seq = 0;
    core::session_id except = 0;
    core::frame_ptr f;
  };
  struct room_seen {
    std::int64_t last = 0;     // the highest seq delivered from the bus
    std::int64_t used_ms = 0;  // steady time of the last record (for forgetting idle rooms)
    bool behind = false;       // the link was lost since: live records wait in `held`
    std::uint64_t token = 0;   // the catch-up asked for on the current link (0: none yet)
    std::vector<held_chat> held;
    // This node's commits (seq → sending session) whose M record it has not delivered yet:
    // a replay of one must still skip its sender.
    std::map<std::int64_t, core::session_id> own;
  };
  struct catch_up_request {
    std::string room;
    std::int64_t since = 0;
  };
  // Delivers a chat record unless its seq was delivered already.
  void deliver_chat(std::string_view room, room_seen& seen, std::int64_t seq,
                    core::session_id except, const core::frame_ptr& f);
  // The link is lost: every room falls behind.
  void fall_behind();
  // The epoch key's value as read on connecting (a new one: Redis lost its data).
  void on_epoch(std::string_view epoch);
  // The link is ready: asks for every room's replay.
  void catch_up();
  void caught_up(std::uint64_t token, std::int64_t from, std::int64_t last,
                 std::vector<core::frame_ptr> frames);
  // Ends a room's catch-up (its replay delivered, or failed): delivers what was held.
  void release_held(std::string_view room, room_seen& seen);
  // A commit of this node was accepted with this seq.
  void own_commit(std::string_view room, std::int64_t seq, core::session_id origin);
  // Called from expire(): drops rooms idle for forget_after_ms() (at most once a minute).
  void forget_idle_rooms();
  std::int64_t forget_after_ms() const;

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

  // What this node delivered of each room, and the catch-ups on their way (by token).
  std::unordered_map<std::string, room_seen> seen_;
  std::unordered_map<std::uint64_t, catch_up_request> catch_ups_;
  std::int64_t next_forget_ms_ = 0;
  std::string epoch_;  // as read on the last link ("" before the first)

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
