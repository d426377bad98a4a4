#pragma once

// A growable FIFO in one flat array (a power-of-two ring). Used for the per-priority lanes of an
// outbound queue and the insertion order of the dedup window: unlike std::deque it costs nothing
// until the first push, and a burst's memory is given back once it has drained.

#include <cstddef>
#include <memory>
#include <utility>

namespace roomwire::core {

template <class T>
class ring {
 public:
  ring() = default;
  ring(ring&& other) noexcept { swap(other); }
  ring& operator=(ring&& other) noexcept {
    ring(std::move(other)).swap(*this);
    return *this;
  }
  ring(const ring&) = delete;
  ring& operator=(const ring&) = delete;
  ~ring() = default;

  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }

  void push_back(T value) {
    if (size_ == capacity_) grow();
    slots_[(head_ + size_) & (capacity_ - 1)] = std::move(value);
    ++size_;
  }

  T& front() noexcept { return slots_[head_]; }
  const T& front() const noexcept { return slots_[head_]; }
  T& operator[](std::size_t i) noexcept { return slots_[(head_ + i) & (capacity_ - 1)]; }
  const T& operator[](std::size_t i) const noexcept {
    return slots_[(head_ + i) & (capacity_ - 1)];
  }

  // Removes and returns the oldest element. The ring must not be empty.
  T take_front() {
    T value = std::move(slots_[head_]);
    slots_[head_] = T();
    head_ = (head_ + 1) & (capacity_ - 1);
    if (--size_ == 0) {
      head_ = 0;
      if (capacity_ > keep_capacity) clear();  // a burst is over: give its memory back
    }
    return value;
  }
  void pop_front() { static_cast<void>(take_front()); }

  void clear() noexcept {
    slots_.reset();
    capacity_ = head_ = size_ = 0;
  }

  // Removes the elements for which `pred` holds, keeping the order of the others.
  template <class Pred>
  std::size_t erase_if(Pred&& pred) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < size_; ++i) {
      T& item = (*this)[i];
      if (pred(static_cast<const T&>(item))) continue;
      if (kept != i) (*this)[kept] = std::move(item);
      ++kept;
    }
    const std::size_t removed = size_ - kept;
    for (std::size_t i = kept; i < size_; ++i) (*this)[i] = T();
    size_ = kept;
    if (size_ == 0) head_ = 0;
    return removed;
  }

  void swap(ring& other) noexcept {
    using std::swap;
    swap(slots_, other.slots_);
    swap(capacity_, other.capacity_);
    swap(head_, other.head_);
    swap(size_, other.size_);
  }

 private:
  static constexpr std::size_t keep_capacity = 256;

  void grow() {
    const std::size_t next = capacity_ == 0 ? 4 : capacity_ * 2;
    auto fresh = std::make_unique<T[]>(next);
    for (std::size_t i = 0; i < size_; ++i) fresh[i] = std::move((*this)[i]);
    slots_ = std::move(fresh);
    capacity_ = next;
    head_ = 0;
  }

  std::unique_ptr<T[]> slots_;
  std::size_t capacity_ = 0;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace roomwire::core
