#pragma once

// Vocabulary of the sans-IO core: sessions, identities, clocks and outbound frames.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "roomwire/protocol/codes.hpp"

namespace roomwire::core {

// One open, authenticated connection. Ids are never reused within a hub's lifetime.
using session_id = std::uint64_t;

// Who a session belongs to, as the host's authenticator decided.
struct identity {
  std::string user_id;
  std::vector<std::string> roles;

  bool has_role(std::string_view role) const {
    return std::find(roles.begin(), roles.end(), role) != roles.end();
  }
};

// Time as the core sees it; injectable so that every rule can be tested with a virtual clock.
class clock {
 public:
  virtual ~clock() = default;
  // Milliseconds since the Unix epoch, for envelope timestamps.
  virtual std::int64_t wall_ms() const = 0;
  // Monotonic milliseconds, for rate limits, timeouts and intervals.
  virtual std::int64_t steady_ms() const = 0;
};

class system_clock final : public clock {
 public:
  std::int64_t wall_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  std::int64_t steady_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

// A clock that moves only when told to (tests).
class manual_clock final : public clock {
 public:
  explicit manual_clock(std::int64_t wall_start_ms = 1764489600000, std::int64_t steady_start_ms = 0)
      : wall_(wall_start_ms), steady_(steady_start_ms) {}
  std::int64_t wall_ms() const override { return wall_; }
  std::int64_t steady_ms() const override { return steady_; }
  void advance(std::int64_t ms) {
    wall_ += ms;
    steady_ += ms;
  }

 private:
  std::int64_t wall_;
  std::int64_t steady_;
};

// One encoded envelope. A room message is encoded once into one frame that every recipient's
// queue shares; nothing is copied per recipient.
struct frame {
  std::string text;  // the envelope's JSON
  protocol::priority priority = protocol::priority::normal;
  std::string_view type;  // wire tag (static storage), for metrics

  // The transport's prepared form of this frame (e.g. with its WebSocket header), made once on
  // first use by whichever thread sends it first and then shared.
  // (Not std::call_once: glibc makes a futex syscall on every first call, i.e. once per frame.)
  template <class Prepared, class Make>
  std::shared_ptr<const Prepared> prepared(Make&& make) const {
    if (prepared_state_.load(std::memory_order_acquire) != ready) {
      make_prepared(std::forward<Make>(make));
    }
    return std::static_pointer_cast<const Prepared>(prepared_);
  }

 private:
  enum : std::uint8_t { empty, making, ready };

  template <class Make>
  void make_prepared(Make&& make) const {
    for (;;) {
      std::uint8_t expected = empty;
      if (prepared_state_.compare_exchange_weak(expected, making, std::memory_order_acquire)) {
        break;  // this thread makes it
      }
      if (expected == ready) return;
      std::this_thread::yield();  // another thread is making it (a few hundred nanoseconds)
    }
    try {
      prepared_ = std::forward<Make>(make)(text);
    } catch (...) {
      prepared_state_.store(empty, std::memory_order_release);  // as call_once: the next tries
      throw;
    }
    prepared_state_.store(ready, std::memory_order_release);
  }

  mutable std::atomic<std::uint8_t> prepared_state_{empty};
  mutable std::shared_ptr<const void> prepared_;
};

using frame_ptr = std::shared_ptr<const frame>;

// What the core asks of a transport. Called from inside hub calls: an implementation must not
// call back into the hub from these functions (queue the work instead).
class transport {
 public:
  virtual ~transport() = default;
  // The session's outbound queue went from empty to non-empty: pull frames with hub::pop().
  virtual void wake(session_id session) = 0;
  // Close the session: send a close frame with `code` behind what the socket already holds,
  // drop the TCP connection if the close handshake has not finished within 5 s, then report
  // hub::closed(). Queued frames the hub still holds are discarded by the hub.
  virtual void close(session_id session, protocol::close_code code, std::string_view reason) = 0;
};

}  // namespace roomwire::core
