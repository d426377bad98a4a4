#pragma once

// The reconnection schedule of PROTOCOL.md §6.

#include <cmath>
#include <cstdint>

namespace roomwire {

struct reconnect_options {
  std::int64_t initial_delay_ms = 1000;
  double multiplier = 1.5;
  std::int64_t max_delay_ms = 30000;
  // Reconnection attempts after a connection is lost (or the first connect fails) before the
  // client gives up. 0: never reconnect.
  int max_attempts = 5;
  // 0 (default): exact delays. Otherwise 0-1: each delay is multiplied by a random factor in
  // [1 - jitter, 1], so jitter only ever shortens a delay and never passes max_delay_ms.
  double jitter = 0;
};

// The delay before attempt `attempt` (from 0): min(initial × multiplier^attempt, max), in whole
// milliseconds rounded down: the defaults give 1000, 1500, 2250, 3375 and 5062 (5062.5 rounded
// down, as a browser's setTimeout would), and 30000 from attempt 9 on.
inline std::int64_t reconnect_delay(const reconnect_options& options, int attempt) {
  const double cap = static_cast<double>(options.max_delay_ms);
  double delay = static_cast<double>(options.initial_delay_ms) *
                 std::pow(options.multiplier, static_cast<double>(attempt < 0 ? 0 : attempt));
  if (!(delay < cap)) delay = cap;  // also inf and NaN
  if (!(delay > 0)) return 0;
  return static_cast<std::int64_t>(std::floor(delay));
}

}  // namespace roomwire
