#pragma once

// One session's outbound queue (PROTOCOL.md §4): a FIFO lane per priority, popped most urgent
// first, with its byte count and the soft limit's shedding rule. The hub owns the limits and what
// happens past the hard one; this class only keeps frames in order and counts them.

#include <algorithm>
#include <array>
#include <cstddef>
#include <utility>

#include "roomwire/core/ring.hpp"
#include "roomwire/core/types.hpp"
#include "roomwire/protocol/codes.hpp"

namespace roomwire::core {

class outbound_queue {
 public:
  // Adds a frame behind the others of its priority. True when the queue was empty before, that
  // is when the transport has to be woken.
  bool push(frame_ptr f) {
    const bool was_empty = count_ == 0;
    bytes_ += f->text.size();
    lanes_[lane_of(f->priority)].push_back(std::move(f));
    ++count_;
    return was_empty;
  }

  // The most urgent, oldest frame, removed; null when the queue is empty. Every frame a session
  // is sent leaves through here: a loop over all the lanes compiles to fixed offsets, which one
  // bounded by a priority does not (15 instructions a frame, bench/probe).
  frame_ptr pop() {
    if (count_ == 0) return nullptr;
    for (auto& lane : lanes_) {
      if (!lane.empty()) return take(lane);
    }
    return nullptr;
  }

  // The same, of priority `lowest` or more urgent only; null when there is none.
  frame_ptr pop(protocol::priority lowest) {
    if (count_ == 0) return nullptr;
    const std::size_t last = std::min(lane_of(lowest), lanes_.size() - 1);
    for (std::size_t lane = 0; lane <= last; ++lane) {
      if (!lanes_[lane].empty()) return take(lanes_[lane]);
    }
    return nullptr;
  }

  // While bytes() + extra_bytes exceeds `limit`, drops priority-4 then priority-3 frames, oldest
  // first, calling on_drop(const frame&) for each. Priorities 0-2 are never dropped.
  template <class OnDrop>
  void shed(std::size_t limit, std::size_t extra_bytes, OnDrop&& on_drop) {
    for (const auto p : {protocol::priority::background, protocol::priority::low}) {
      auto& lane = lanes_[lane_of(p)];
      while (bytes_ + extra_bytes > limit && !lane.empty()) {
        const frame_ptr f = take(lane);
        on_drop(*f);
      }
    }
  }

  // Drops every frame of priority 3 and 4 (drain, §8), calling on_drop(const frame&) for each.
  template <class OnDrop>
  void drop_low(OnDrop&& on_drop) {
    for (const auto p : {protocol::priority::low, protocol::priority::background}) {
      auto& lane = lanes_[lane_of(p)];
      while (!lane.empty()) {
        const frame_ptr f = take(lane);
        on_drop(*f);
      }
    }
  }

  void clear() noexcept {
    for (auto& lane : lanes_) lane.clear();
    count_ = 0;
    bytes_ = 0;
  }

  bool empty() const noexcept { return count_ == 0; }
  std::size_t size() const noexcept { return count_; }
  std::size_t size(protocol::priority p) const noexcept { return lanes_[lane_of(p)].size(); }
  // Bytes of the queued frames' text.
  std::size_t bytes() const noexcept { return bytes_; }

 private:
  static std::size_t lane_of(protocol::priority p) noexcept { return static_cast<std::size_t>(p); }

  frame_ptr take(ring<frame_ptr>& lane) {
    frame_ptr f = lane.take_front();
    bytes_ -= f->text.size();
    --count_;
    return f;
  }

  std::array<ring<frame_ptr>, protocol::priority_count> lanes_;
  std::size_t count_ = 0;
  std::size_t bytes_ = 0;
};

}  // namespace roomwire::core
