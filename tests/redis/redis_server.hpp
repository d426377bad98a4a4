#pragma once

// A redis-server of the test's own on 127.0.0.1 and a free port, with no persistence: started by
// the constructor (which returns once it accepts connections), stopped by the destructor. It can
// be killed (SIGKILL, as a crash) and started again on the same port.

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace roomwire_test {

class redis_server {
 public:
  // Fails the test (with the reason) when redis-server is missing or does not come up.
  redis_server();
  // Uses this port (for a server that is not running yet: start() it later).
  explicit redis_server(std::uint16_t port, bool start_now);
  ~redis_server();
  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  bool running() const noexcept { return pid_ > 0; }

  void start();
  // SIGKILL, then waits for the process to be gone.
  void kill();
  // SIGTERM (SIGKILL after 5 s), then waits.
  void stop();

  // A port nothing listens on at the moment.
  static std::uint16_t free_port();

 private:
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace roomwire_test
