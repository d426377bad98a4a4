#pragma once

// Waiting on what a client's handlers saw: a thread-safe list with a condition variable. Every
// wait has a timeout; nothing sleeps.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "roomwire/client.hpp"

namespace roomwire_test {

using namespace std::chrono_literals;

template <class T>
class inbox {
 public:
  void push(T value) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      items_.push_back(std::move(value));
    }
    changed_.notify_all();
  }
  // Waits until pred(items) holds.
  template <class Pred>
  bool wait(Pred pred, std::chrono::milliseconds timeout = 10s) const {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return pred(items_); });
  }
  bool wait_size(std::size_t n, std::chrono::milliseconds timeout = 10s) const {
    return wait([n](const std::vector<T>& v) { return v.size() >= n; }, timeout);
  }
  std::vector<T> items() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return items_;
  }
  std::size_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return items_.size();
  }

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::vector<T> items_;
};

// Connection events as strings: "connected", "closed 1001 open", "reconnecting 1/5 50",
// "gave up".
inline void record_events(roomwire::client& c, inbox<std::string>& events) {
  c.on_connected([&events] { events.push("connected"); });
  c.on_closed([&events](const roomwire::close_info& i) {
    events.push("closed " + std::to_string(i.code) + (i.was_open ? " open" : " attempt") +
                (i.final ? " final" : ""));
  });
  c.on_reconnecting([&events](const roomwire::reconnect_info& r) {
    events.push("reconnecting " + std::to_string(r.attempt) + "/" + std::to_string(r.max_attempts) +
                " " + std::to_string(r.delay_ms));
  });
  c.on_gave_up([&events](std::string_view) { events.push("gave up"); });
}

inline bool contains(const std::vector<std::string>& v, const std::string& s) {
  for (const auto& x : v) {
    if (x == s) return true;
  }
  return false;
}

// Counts of an event so far, for waiting on the n-th occurrence.
inline auto count_of(const std::string& s, std::size_t n) {
  return [s, n](const std::vector<std::string>& v) {
    std::size_t k = 0;
    for (const auto& x : v) {
      if (x == s) ++k;
    }
    return k >= n;
  };
}

}  // namespace roomwire_test
