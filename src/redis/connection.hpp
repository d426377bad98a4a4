#pragma once

// One hiredis asynchronous connection, driven by an Asio io_context: hiredis asks for read and
// write readiness through its event hooks, and a non-owning stream_descriptor waits for it.
//
// Threading and lifetime: every call into hiredis (and so every hiredis callback) is made inside
// `serialized`, either by the owner (already inside it) or by this class's Asio handlers (which
// enter it). Connect and disconnect events are posted rather than reported from inside hiredis,
// so that whoever handles them may close connections freely; reply callbacks may call close(),
// which hiredis then completes after the callback. A handler that outlives close() or the object
// does nothing, and never enters `serialized`.

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>

#include "endpoint.hpp"

struct redisAsyncContext;
struct redisReply;

namespace roomwire::redis::detail {

using serializer = std::function<void(const std::function<void()>&)>;

class connection : public std::enable_shared_from_this<connection> {
 public:
  // The reply, or null when none will come (the connection was lost or closed first). It is
  // valid only during the call.
  using reply_handler = std::function<void(const redisReply*)>;
  using message_handler = std::function<void(std::string_view payload)>;

  struct events {
    std::function<void()> connected;
    // The connect failed or the connection dropped (`why` is hiredis's message). At most once,
    // and never after close().
    std::function<void(const std::string& why)> lost;
  };

  static std::shared_ptr<connection> create(asio::io_context& io, serializer serialized);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Starts connecting. False, with `why`, when that failed at once; `on` is then never called.
  // A host name (not an address) is resolved with getaddrinfo, which may block.
  bool open(const endpoint& where, events on, std::string& why);
  // Queues a command. False when the connection cannot take it (`done` is then not called).
  bool command(const std::vector<std::string>& args, reply_handler done);
  // Subscribes to one channel: `subscribed` once Redis confirmed it, then `message` for each
  // message. No other command may be sent on a subscribed connection.
  bool subscribe(const std::string& channel, std::function<void()> subscribed,
                 message_handler message);
  // Frees the hiredis context. Replies still awaited are reported as null, now.
  void close();

  bool connected() const noexcept { return connected_ && !closed_; }

 private:
  struct pending_reply;
  struct subscription;
  enum class readiness { read, write };

  connection(asio::io_context& io, serializer serialized);

  static void on_connect(const redisAsyncContext* ac, int status);
  static void on_disconnect(const redisAsyncContext* ac, int status);
  static void on_reply(redisAsyncContext* ac, void* reply, void* privdata);
  static void on_message(redisAsyncContext* ac, void* reply, void* privdata);
  static void add_read(void* self);
  static void del_read(void* self);
  static void add_write(void* self);
  static void del_write(void* self);
  static void cleanup(void* self);

  void want(readiness r, bool on);
  void arm(readiness r);
  void on_ready(readiness r);
  void report(bool up, std::string why);
  void release_socket();
  void forget(pending_reply* p);

  asio::io_context& io_;
  serializer serialized_;
  redisAsyncContext* ctx_ = nullptr;
  std::unique_ptr<asio::posix::stream_descriptor> socket_;
  bool want_read_ = false;
  bool want_write_ = false;
  bool read_armed_ = false;
  bool write_armed_ = false;
  bool connected_ = false;
  bool reported_lost_ = false;
  // Read by Asio handlers before they enter `serialized`.
  std::atomic<bool> closed_{false};
  events on_;
  std::deque<pending_reply*> pending_;  // oldest first; each owned by hiredis until its reply
  subscription* sub_ = nullptr;         // owned by hiredis until its last (null) callback
};

}  // namespace roomwire::redis::detail
