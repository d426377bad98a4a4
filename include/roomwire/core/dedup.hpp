#pragma once

// The dedup memory of PROTOCOL.md §6, as the in-process broker keeps it: per user, the
// acknowledgements of the last N accepted requests by messageId, each for a fixed time. Since
// every entry lives equally long, insertion order is expiry order: one FIFO per user serves both
// the count cap and the time limit, and entries only ever leave from its front.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "roomwire/core/ring.hpp"
#include "roomwire/protocol/messages.hpp"

namespace roomwire::core {

class dedup_store {
 public:
  dedup_store() = default;
  dedup_store(std::size_t entries_per_user, std::int64_t ttl_ms)
      : capacity_(entries_per_user), ttl_ms_(ttl_ms) {}

  // The acknowledgement of an accepted request with this messageId, if still remembered.
  std::optional<protocol::message_received> recall(std::string_view user_id,
                                                   std::string_view message_id,
                                                   std::int64_t now_ms) {
    window* w = find(user_id);
    if (w == nullptr) return std::nullopt;
    expire_front(*w, now_ms);
    probe_.assign(message_id);
    const auto it = w->by_id.find(probe_);
    if (it == w->by_id.end()) return std::nullopt;
    const entry& e = it->second;
    protocol::message_received ack;
    ack.message_id = it->first;
    ack.room_id = e.room_id;
    ack.sender_id.assign(user_id);
    ack.timestamp = e.timestamp;
    ack.seq = e.seq;
    return ack;
  }

  void remember(std::string_view user_id, std::string_view message_id,
                const protocol::message_received& ack, std::int64_t now_ms) {
    if (capacity_ == 0 || ttl_ms_ <= 0) return;
    window& w = find_or_add(user_id);
    expire_front(w, now_ms);
    probe_.assign(message_id);
    auto [it, inserted] = w.by_id.try_emplace(probe_);
    it->second.room_id = ack.room_id;
    it->second.timestamp = ack.timestamp;
    it->second.seq = ack.seq;
    if (!inserted) return;  // keeps its place (and its expiry)
    w.order.push_back(order_entry{&it->first, now_ms + ttl_ms_});
    while (w.order.size() > capacity_) forget_oldest(w);
  }

  // Gives back the memory of what has expired (the hub calls it about once a second, on its
  // I/O thread). Each call visits a share of the users, going on where the last one stopped, so
  // that a call takes a bounded time however many users there are (one call over all of a
  // million took 315-335 ms here: bench/probe/dedup_sweep.cpp). A pass over them all spreads
  // over half an entry's lifetime: a call visits the share of the users there were when the pass
  // began that the time since the previous call is of that half, and at least sweep_min_users.
  // So an expired user's memory comes back about half a lifetime later at most (2.5 minutes with
  // the defaults), sooner while there are few users; one pass later if the map grew meanwhile
  // and moved that user behind the resume point. Nothing expired is recalled in between: recall
  // and remember first forget the user's own expired entries.
  void expire(std::int64_t now_ms) {
    last_ = last_found{};  // it may go
    const std::int64_t since_last =
        last_expire_ms_ ? std::max<std::int64_t>(0, now_ms - *last_expire_ms_) : 0;
    last_expire_ms_ = now_ms;
    auto it = users_.end();
    if (resuming_) it = users_.find(resume_at_);  // only expire() erases, so it is still there
    if (it == users_.end()) {                     // a new pass
      it = users_.begin();
      pass_users_ = users_.size();
    }
    for (std::size_t budget = visits(since_last); budget > 0 && it != users_.end(); --budget) {
      expire_front(it->second, now_ms);
      it = it->second.order.empty() ? users_.erase(it) : std::next(it);
    }
    resuming_ = it != users_.end();
    if (resuming_) resume_at_ = it->first;
  }
  static constexpr std::size_t sweep_min_users = 4096;

  std::size_t size(std::string_view user_id) const {
    const auto it = users_.find(std::string(user_id));
    return it == users_.end() ? 0 : it->second.order.size();
  }
  std::size_t users() const noexcept { return users_.size(); }

 private:
  struct entry {
    std::string room_id;
    std::int64_t timestamp = 0;
    std::optional<std::int64_t> seq;
  };
  struct order_entry {
    const std::string* id = nullptr;  // the key in by_id (node-based: stable)
    std::int64_t expires_at = 0;
  };
  struct window {
    std::unordered_map<std::string, entry> by_id;
    ring<order_entry> order;
  };

  // How many users a call of expire() visits, since_last_ms after the previous call.
  std::size_t visits(std::int64_t since_last_ms) const {
    const std::int64_t pass_ms = std::max<std::int64_t>(1, ttl_ms_ / 2);
    if (since_last_ms >= pass_ms) return std::max(sweep_min_users, pass_users_);
    // In floating point: users times milliseconds could overflow 64 bits with a huge lifetime.
    const double share =
        std::ceil(static_cast<double>(pass_users_) * static_cast<double>(since_last_ms) /
                  static_cast<double>(pass_ms));
    return std::max(sweep_min_users, static_cast<std::size_t>(share));
  }

  // The user's window, if any. The last one found is kept: remember() follows recall() for the
  // same user, and a lookup in a map of every user is a cache miss or two on a busy server.
  window* find(std::string_view user_id) {
    if (last_.w != nullptr && *last_.user == user_id) return last_.w;
    probe_.assign(user_id);
    const auto it = users_.find(probe_);
    if (it == users_.end()) return nullptr;
    last_ = last_found{&it->first, &it->second};
    return last_.w;
  }
  window& find_or_add(std::string_view user_id) {
    if (window* w = find(user_id)) return *w;
    probe_.assign(user_id);
    const auto it = users_.try_emplace(probe_).first;
    last_ = last_found{&it->first, &it->second};
    return *last_.w;
  }
  static void expire_front(window& w, std::int64_t now_ms) {
    while (!w.order.empty() && w.order.front().expires_at <= now_ms) forget_oldest(w);
  }
  static void forget_oldest(window& w) {
    const order_entry oldest = w.order.take_front();
    const auto it = w.by_id.find(*oldest.id);  // an iterator, not the key: it dies with the node
    if (it != w.by_id.end()) w.by_id.erase(it);
  }

  std::size_t capacity_ = 1024;
  std::int64_t ttl_ms_ = 5 * 60 * 1000;
  std::unordered_map<std::string, window> users_;
  bool resuming_ = false;                       // the last expire() stopped before the end,
  std::string resume_at_;                       // at this user
  std::size_t pass_users_ = 0;                  // users there were when this pass began
  std::optional<std::int64_t> last_expire_ms_;  // the now_ms of the previous expire()
  std::string probe_;  // lookup key, reused so that a lookup does not allocate
  // The user find() found last: its key and window in users_ (nodes stay put until erased,
  // which only expire() does). A moved-from store forgets it, since the nodes moved.
  struct last_found {
    const std::string* user = nullptr;
    window* w = nullptr;
    last_found() = default;
    last_found(const std::string* u, window* found) : user(u), w(found) {}
    last_found(last_found&& o) noexcept : user(o.user), w(std::exchange(o.w, nullptr)) {}
    last_found& operator=(last_found&& o) noexcept {
      user = o.user;
      w = std::exchange(o.w, nullptr);
      return *this;
    }
  };
  last_found last_;
};

}  // namespace roomwire::core
