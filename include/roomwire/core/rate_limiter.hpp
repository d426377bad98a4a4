#pragma once

// The per-session rate limit of PROTOCOL.md §5: a token bucket (starts full) that decides each
// offered message, and the abuse rule: a session whose offered rate, refused messages included,
// exceeds twice the limit in each of N consecutive one-second windows is to be closed with 4001.
// Windows are counted from the session's first offer; a window with no message breaks a streak.

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace roomwire::core {

class rate_limiter {
 public:
  struct decision {
    bool allowed = true;
    bool abusive = false;             // close the session with 4001
    std::int64_t retry_after_ms = 0;  // when refused: ms until a token is available (>= 1)
  };

  rate_limiter() = default;
  // A rate of 0 or less disables the limit (and the abuse rule).
  rate_limiter(double rate_per_second, double burst, int abusive_windows, std::int64_t now_ms)
      : rate_(rate_per_second),
        burst_(std::max(burst, 1.0)),
        tokens_(burst_),
        refilled_at_(now_ms),
        abusive_windows_(std::max(abusive_windows, 1)) {}

  decision offer(std::int64_t now_ms) {
    decision d;
    if (rate_ <= 0) return d;

    // The abuse rule counts every offer.
    if (!started_) origin_ = now_ms;
    const std::int64_t window = std::max<std::int64_t>(0, now_ms - origin_) / 1000;
    if (!started_ || window != window_) {
      const bool consecutive = started_ && window == window_ + 1;
      streak_ = consecutive && window_abusive_ ? streak_ + 1 : 0;
      window_ = window;
      offered_ = 0;
      window_abusive_ = false;
      started_ = true;
    }
    ++offered_;
    if (!window_abusive_ && static_cast<double>(offered_) > 2 * rate_) {
      window_abusive_ = true;
      if (streak_ + 1 >= abusive_windows_) d.abusive = true;
    }

    if (now_ms > refilled_at_) {
      tokens_ =
          std::min(burst_, tokens_ + static_cast<double>(now_ms - refilled_at_) * rate_ / 1000);
      refilled_at_ = now_ms;
    }
    if (tokens_ >= 1 - 1e-9) {  // refills are sums of fractions: do not lose a token to rounding
      tokens_ -= 1;
      return d;
    }
    d.allowed = false;
    const double wait = (1 - tokens_) * 1000 / rate_;
    d.retry_after_ms = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(wait - 1e-9)));
    return d;
  }

  double tokens() const noexcept { return tokens_; }

 private:
  double rate_ = 0;
  double burst_ = 1;
  double tokens_ = 1;
  std::int64_t refilled_at_ = 0;
  int abusive_windows_ = 5;
  // abuse windows
  bool started_ = false;
  std::int64_t origin_ = 0;  // steady time of the first offer: window 0 starts there
  std::int64_t window_ = 0;
  std::int64_t offered_ = 0;
  bool window_abusive_ = false;
  int streak_ = 0;  // abusive windows in a row just before the current one
};

}  // namespace roomwire::core
