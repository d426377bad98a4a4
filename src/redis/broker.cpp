// make_broker, attach/detach, and the helpers every part of the broker uses.

#include <hiredis/hiredis.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <utility>

#include <asio/post.hpp>

#include "redis_broker.hpp"

namespace roomwire::redis {

namespace {

[[noreturn]] void reject(const std::string& what) {
  throw std::invalid_argument("roomwire::redis: " + what);
}

bool is_node_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == ':' || c == '-';
}

// 16 hex digits, different for every broker of every process on every machine (as far as
// randomness goes).
std::string random_node_id(const void* salt) {
  std::uint64_t seed = 0;
  try {
    std::random_device device;
    seed = (static_cast<std::uint64_t>(device()) << 32) ^ device();
  } catch (...) {
    // no entropy source: the address and the time still make clashes unlikely
  }
  seed ^= static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(salt)) ^
          static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) *
              0x9e3779b97f4a7c15ull;
  std::mt19937_64 mix(seed);
  std::string id;
  std::uint64_t v = mix();
  for (int i = 0; i < 16; ++i, v >>= 4) id.push_back("0123456789abcdef"[v & 15u]);
  return id;
}

void check(redis_options& o) {
  if (o.prefix.empty() || o.prefix.size() > 64 ||
      std::any_of(o.prefix.begin(), o.prefix.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == 127; })) {
    reject("prefix must be 1-64 characters without spaces or control characters");
  }
  if (o.node_id.empty()) o.node_id = random_node_id(&o);
  if (o.node_id.size() > 64 || !std::all_of(o.node_id.begin(), o.node_id.end(), is_node_char)) {
    reject("node_id must be 1-64 characters of [A-Za-z0-9_.:-]");
  }
  if (o.reconnect_min_ms < 1 || o.reconnect_max_ms < o.reconnect_min_ms) {
    reject("reconnect_min_ms must be at least 1 and reconnect_max_ms at least reconnect_min_ms");
  }
  if (o.history_ttl_ms < 1) reject("history_ttl_ms must be at least 1");
}

}  // namespace

std::shared_ptr<core::broker> make_broker(asio::io_context& io, serializer serialized,
                                          redis_options options) {
  if (!serialized) reject("serialized must not be empty");
  detail::endpoint where = detail::parse_url(options.url);
  check(options);
  return std::make_shared<detail::redis_broker>(io, std::move(serialized), std::move(options),
                                                std::move(where));
}

namespace detail {

redis_broker::redis_broker(asio::io_context& io, serializer serialized, redis_options options,
                           endpoint where)
    : io_(io),
      serialized_(std::move(serialized)),
      opt_(std::move(options)),
      where_(std::move(where)),
      channel_(opt_.prefix + ":bus"),
      alive_prefix_(opt_.prefix + ":alive:"),
      backoff_ms_(opt_.reconnect_min_ms),
      retry_timer_(io),
      setup_timer_(io),
      alive_timer_(io) {}

redis_broker::~redis_broker() { detach(); }

void redis_broker::attach(listener& hub, const core::hub_options& options) {
  hub_ = &hub;
  limits_ = options;
  dedup_ = core::dedup_store(options.dedup_entries, options.dedup_ttl_ms);
  if (phase_ != phase::idle) return;
  phase_ = phase::waiting;
  // Not from here: attach() runs inside the hub's constructor, and a failed connect is
  // reported to the hub.
  post_serialized(&redis_broker::connect);
}

// Afterwards nothing calls the hub: callbacks check detached_, and what close() reports (null
// replies) reaches only callbacks made with bind().
void redis_broker::detach() {
  if (detached_.exchange(true)) return;
  phase_ = phase::stopped;
  hub_ = nullptr;
  std::error_code ignored;
  retry_timer_.cancel(ignored);
  setup_timer_.cancel(ignored);
  alive_timer_.cancel(ignored);
  if (command_) command_->close();
  if (subscriber_) subscriber_->close();
  command_.reset();
  subscriber_.reset();
  recoveries_.clear();
}

// ---- helpers ------------------------------------------------------------------------------

void redis_broker::post_serialized(void (redis_broker::*fn)()) {
  asio::post(io_, [weak = weak_from_this(), fn] {
    const auto self = weak.lock();
    if (!self || self->detached_) return;
    self->serialized_([&] {
      if (!self->detached_) ((*self).*fn)();
    });
  });
}

void redis_broker::after(asio::steady_timer& timer, std::int64_t ms, void (redis_broker::*fn)()) {
  timer.expires_after(std::chrono::milliseconds(ms));
  timer.async_wait([weak = weak_from_this(), fn](const std::error_code& ec) {
    if (ec) return;  // cancelled
    const auto self = weak.lock();
    if (!self || self->detached_) return;
    self->serialized_([&] {
      if (!self->detached_) ((*self).*fn)();
    });
  });
}

bool redis_broker::run(const std::vector<std::string>& args, connection::reply_handler done) {
  return command_ && command_->command(args, std::move(done));
}

bool redis_broker::eval(script which, std::size_t key_count, std::vector<std::string> args,
                        connection::reply_handler done) {
  const auto index = static_cast<std::size_t>(which);
  auto call = std::make_shared<std::vector<std::string>>();
  call->reserve(args.size() + 3);
  call->emplace_back("EVALSHA");
  call->push_back(sha_[index]);
  call->push_back(std::to_string(key_count));
  for (std::string& a : args) call->push_back(std::move(a));
  // A Redis that restarted (or ran SCRIPT FLUSH) since the scripts were loaded answers
  // NOSCRIPT: the same call again, with the script's text.
  auto on_reply = bind([call, index, done](redis_broker& self, const redisReply* r) {
    const bool unknown = r != nullptr && r->type == REDIS_REPLY_ERROR &&
                         std::string_view(r->str, r->len).substr(0, 8) == "NOSCRIPT";
    if (!unknown) {
      done(r);
      return;
    }
    (*call)[0] = "EVAL";
    (*call)[1] = std::string(script_text[index]);
    if (!self.run(*call, done)) done(nullptr);
  });
  return run(*call, std::move(on_reply));
}

connection::reply_handler redis_broker::log_errors(std::string_view what) {
  return bind([what](redis_broker& self, const redisReply* r) { self.log_error(what, r); });
}

void redis_broker::log_error(std::string_view what, const redisReply* r) const {
  if (r == nullptr || r->type != REDIS_REPLY_ERROR) return;
  // Redis's own error text names the command and the problem, never the values.
  log("redis: " + std::string(what) +
      " failed: " + std::string(r->str, std::min<std::size_t>(r->len, 200)));
}

std::string redis_broker::key(std::string_view kind) const {
  std::string k;
  k.reserve(opt_.prefix.size() + 1 + kind.size());
  k.append(opt_.prefix).push_back(':');
  k.append(kind);
  return k;
}

std::string redis_broker::key(std::string_view kind, std::string_view id) const {
  std::string k = key(kind);
  k.push_back(':');
  k.append(id);
  return k;
}

// The user id goes in with its length, so that no (user, messageId) pair can be spelt like
// another one when ids contain ':'.
std::string redis_broker::dedup_key(std::string_view user_id, std::string_view message_id) const {
  std::string k = key("dedup", std::to_string(user_id.size()));
  k.push_back(':');
  k.append(user_id);
  k.push_back(':');
  k.append(message_id);
  return k;
}

bool redis_broker::dedup_enabled() const {
  return limits_.dedup_entries > 0 && limits_.dedup_ttl_ms > 0;
}

void redis_broker::log(std::string_view line) const {
  if (opt_.log) opt_.log(line);
}

}  // namespace detail
}  // namespace roomwire::redis
