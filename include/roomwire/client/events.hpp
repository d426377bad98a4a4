#pragma once

// Connection events of the client (PROTOCOL.md §6).

#include <cstdint>
#include <string>

namespace roomwire {

enum class connection_state {
  idle,        // connect() not called yet; sends wait in the outbox
  connecting,  // a connection attempt is in flight
  open,        // connected: sends are written at once
  waiting,     // disconnected, waiting to reconnect
  closing,     // close() was called; waiting for the close handshake
  closed,      // closed for good: close(), a 1000 or 4000 close, or gave up
};

// A connection ended, or a connection attempt failed (was_open false; code 1006 then, as for a
// browser's WebSocket).
struct close_info {
  std::uint16_t code = 1006;
  std::string reason;
  bool was_open = false;
  // No reconnection follows (close(), 1000, 4000 without a fresh token, or giving up).
  bool final = false;
};

struct reconnect_info {
  int attempt = 1;  // 1-based: attempt 1 waits initial_delay_ms
  int max_attempts = 5;
  std::int64_t delay_ms = 0;
  // The one immediate retry after a 4000 close, with a token from the token provider; it does
  // not count as an attempt.
  bool fresh_token = false;
};

}  // namespace roomwire
