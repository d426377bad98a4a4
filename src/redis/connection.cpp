#include "connection.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <ctime>
#include <system_error>
#include <utility>

#include <asio/post.hpp>

namespace roomwire::redis::detail {

namespace {

// hiredis writes with write(2), which raises SIGPIPE when Redis has gone away. A library must
// not change the process's signal disposition, so SIGPIPE is blocked on this thread for the
// write, and one that the write raised is taken off the thread's queue before unblocking.
class sigpipe_guard {
 public:
  sigpipe_guard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &saved_);
  }
  ~sigpipe_guard() {
    if (!was_pending_) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        const timespec no_wait{0, 0};
        sigtimedwait(&pipe_, nullptr, &no_wait);
      }
    }
    pthread_sigmask(SIG_SETMASK, &saved_, nullptr);
  }
  sigpipe_guard(const sigpipe_guard&) = delete;
  sigpipe_guard& operator=(const sigpipe_guard&) = delete;

 private:
  sigset_t pipe_{};
  sigset_t saved_{};
  bool was_pending_ = false;
};

connection* owner_of(const redisAsyncContext* ac) { return static_cast<connection*>(ac->data); }

std::string error_text(const redisAsyncContext* ac, const char* otherwise) {
  return ac->errstr[0] != '\0' ? std::string(ac->errstr) : std::string(otherwise);
}

}  // namespace

// A command's callback; hiredis hands it back exactly once (with null when no reply comes).
struct connection::pending_reply {
  connection* owner = nullptr;  // null once the connection is gone
  reply_handler done;
};

// The subscription's callback; hiredis calls it for the confirmation, every message, and once
// with null when the context is freed.
struct connection::subscription {
  connection* owner = nullptr;
  std::function<void()> subscribed;
  message_handler message;
};

std::shared_ptr<connection> connection::create(asio::io_context& io, serializer serialized) {
  return std::shared_ptr<connection>(new connection(io, std::move(serialized)));
}

connection::connection(asio::io_context& io, serializer serialized)
    : io_(io), serialized_(std::move(serialized)) {}

// Normally the context is gone (close(), or hiredis freed it). If not, hiredis may still be
// inside one of its callbacks (the owner dropped the last reference there) and will free the
// context itself afterwards: unhook everything that points back here first.
connection::~connection() {
  closed_ = true;
  for (pending_reply* p : pending_) {
    p->owner = nullptr;
    p->done = nullptr;
  }
  pending_.clear();
  if (sub_ != nullptr) {
    sub_->owner = nullptr;
    sub_->subscribed = nullptr;
    sub_->message = nullptr;
    sub_ = nullptr;
  }
  if (ctx_ != nullptr) {
    redisAsyncContext* ac = ctx_;
    ac->data = nullptr;
    ac->ev = {};
    ac->onConnect = nullptr;
    ac->onDisconnect = nullptr;
    release_socket();
    ctx_ = nullptr;
    redisAsyncFree(ac);
  }
}

bool connection::open(const endpoint& where, events on, std::string& why) {
  redisAsyncContext* ac = redisAsyncConnect(where.host.c_str(), where.port);
  if (ac == nullptr) {
    why = "out of memory";
    return false;
  }
  if (ac->err != 0) {
    why = error_text(ac, "cannot connect");
    redisAsyncFree(ac);
    return false;
  }
  try {
    socket_ = std::make_unique<asio::posix::stream_descriptor>(io_, ac->c.fd);
  } catch (const std::system_error& e) {  // the reactor would not take the descriptor
    why = e.what();
    redisAsyncFree(ac);
    return false;
  }
  ctx_ = ac;
  on_ = std::move(on);
  ac->data = this;
  ac->ev.data = this;
  ac->ev.addRead = &connection::add_read;
  ac->ev.delRead = &connection::del_read;
  ac->ev.addWrite = &connection::add_write;
  ac->ev.delWrite = &connection::del_write;
  ac->ev.cleanup = &connection::cleanup;
  redisAsyncSetDisconnectCallback(ac, &connection::on_disconnect);
  // Asks for write readiness: the first one tells that the connect finished.
  redisAsyncSetConnectCallback(ac, &connection::on_connect);
  return true;
}

bool connection::command(const std::vector<std::string>& args, reply_handler done) {
  if (ctx_ == nullptr || closed_) return false;
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  auto* p = new pending_reply{this, std::move(done)};
  if (redisAsyncCommandArgv(ctx_, &connection::on_reply, p, static_cast<int>(argv.size()),
                            argv.data(), lengths.data()) != REDIS_OK) {
    delete p;
    return false;
  }
  pending_.push_back(p);
  return true;
}

bool connection::subscribe(const std::string& channel, std::function<void()> subscribed,
                           message_handler message) {
  if (ctx_ == nullptr || closed_ || sub_ != nullptr) return false;
  auto* s = new subscription{this, std::move(subscribed), std::move(message)};
  const char* argv[] = {"SUBSCRIBE", channel.data()};
  const std::size_t lengths[] = {9, channel.size()};
  if (redisAsyncCommandArgv(ctx_, &connection::on_message, s, 2, argv, lengths) != REDIS_OK) {
    delete s;
    return false;
  }
  sub_ = s;
  return true;
}

void connection::close() {
  if (closed_) return;
  closed_ = true;
  connected_ = false;
  std::vector<reply_handler> waiting;
  for (pending_reply* p : pending_) {
    if (p->done) waiting.push_back(std::move(p->done));
    p->done = nullptr;
  }
  if (sub_ != nullptr) {
    sub_->subscribed = nullptr;
    sub_->message = nullptr;
  }
  // Inside one of this context's reply callbacks hiredis only marks it, and frees it when the
  // callback returns.
  if (ctx_ != nullptr) redisAsyncFree(ctx_);
  for (reply_handler& done : waiting) done(nullptr);
}

// ---- hiredis callbacks ------------------------------------------------------------------

void connection::on_connect(const redisAsyncContext* ac, int status) {
  connection* self = owner_of(ac);
  if (self == nullptr) return;
  if (status == REDIS_OK) {
    self->connected_ = true;
    self->report(true, {});
  } else {
    self->report(false, error_text(ac, "cannot connect"));  // hiredis frees the context next
  }
}

void connection::on_disconnect(const redisAsyncContext* ac, int status) {
  connection* self = owner_of(ac);
  if (self == nullptr) return;
  self->connected_ = false;
  self->report(false,
               status == REDIS_OK ? std::string("closed") : error_text(ac, "connection lost"));
}

void connection::on_reply(redisAsyncContext* /*ac*/, void* reply, void* privdata) {
  auto* p = static_cast<pending_reply*>(privdata);
  reply_handler done = std::move(p->done);
  if (p->owner != nullptr) p->owner->forget(p);
  delete p;
  if (done) done(static_cast<const redisReply*>(reply));
}

void connection::on_message(redisAsyncContext* /*ac*/, void* reply, void* privdata) {
  auto* s = static_cast<subscription*>(privdata);
  if (reply == nullptr) {  // the context is being freed: the last call
    if (s->owner != nullptr) s->owner->sub_ = nullptr;
    delete s;
    return;
  }
  const auto* r = static_cast<const redisReply*>(reply);
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) return;
  const redisReply* kind = r->element[0];
  const redisReply* body = r->element[2];
  if (kind->type != REDIS_REPLY_STRING) return;
  const std::string_view what(kind->str, kind->len);
  if (what == "subscribe") {
    if (s->subscribed) s->subscribed();
  } else if (what == "message" && body->type == REDIS_REPLY_STRING) {
    if (s->message) s->message(std::string_view(body->str, body->len));
  }
}

void connection::forget(pending_reply* p) {
  // Redis answers in order: the reply is almost always the oldest one waiting.
  if (!pending_.empty() && pending_.front() == p) {
    pending_.pop_front();
    return;
  }
  const auto it = std::find(pending_.begin(), pending_.end(), p);
  if (it != pending_.end()) pending_.erase(it);
}

// ---- event hooks ------------------------------------------------------------------------

void connection::add_read(void* self) {
  static_cast<connection*>(self)->want(readiness::read, true);
}
void connection::del_read(void* self) {
  static_cast<connection*>(self)->want(readiness::read, false);
}
void connection::add_write(void* self) {
  static_cast<connection*>(self)->want(readiness::write, true);
}
void connection::del_write(void* self) {
  static_cast<connection*>(self)->want(readiness::write, false);
}

// Called by hiredis just before it frees the context and closes the socket.
void connection::cleanup(void* self) {
  auto* c = static_cast<connection*>(self);
  c->release_socket();
  c->ctx_ = nullptr;
}

void connection::want(readiness r, bool on) {
  (r == readiness::read ? want_read_ : want_write_) = on;
  if (on) arm(r);
}

// One wait at a time per direction; a wait that completes when no longer wanted is not renewed.
void connection::arm(readiness r) {
  bool& armed = r == readiness::read ? read_armed_ : write_armed_;
  if (armed || !socket_) return;
  armed = true;
  const auto kind = r == readiness::read ? asio::posix::stream_descriptor::wait_read
                                         : asio::posix::stream_descriptor::wait_write;
  socket_->async_wait(kind, [weak = weak_from_this(), r](const std::error_code& ec) {
    if (ec == asio::error::operation_aborted) return;  // the socket was released
    const auto self = weak.lock();
    if (!self || self->closed_) return;
    self->serialized_([&] { self->on_ready(r); });
  });
}

// Readiness (or an error on the descriptor, which hiredis then finds out for itself).
void connection::on_ready(readiness r) {
  (r == readiness::read ? read_armed_ : write_armed_) = false;
  if (ctx_ == nullptr || closed_) return;
  if (r == readiness::read) {
    if (!want_read_) return;
    redisAsyncHandleRead(ctx_);
  } else {
    if (!want_write_) return;
    const sigpipe_guard quiet;
    redisAsyncHandleWrite(ctx_);
  }
  if (ctx_ != nullptr && !closed_ && (r == readiness::read ? want_read_ : want_write_)) arm(r);
}

void connection::release_socket() {
  if (!socket_) return;
  std::error_code ignored;
  socket_->cancel(ignored);
  static_cast<void>(socket_->release());  // hiredis owns the descriptor and closes it
  socket_.reset();
}

// Posted, so that the owner handles it outside of hiredis (and may close this connection).
void connection::report(bool up, std::string why) {
  if (!up) {
    if (reported_lost_) return;
    reported_lost_ = true;
  }
  asio::post(io_, [weak = weak_from_this(), up, why = std::move(why)] {
    const auto self = weak.lock();
    if (!self || self->closed_) return;
    self->serialized_([&] {
      if (self->closed_) return;
      if (up && self->on_.connected) {
        self->on_.connected();
      } else if (!up && self->on_.lost) {
        self->on_.lost(why);
      }
    });
  });
}

}  // namespace roomwire::redis::detail
