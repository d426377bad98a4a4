#pragma once

// Close-on-exec for the sockets Asio makes: Asio opens and accepts without SOCK_CLOEXEC, so a
// child process the host spawns would inherit them (a listening socket inherited that way keeps
// the port bound after the server is gone). Shared by the server transport and the client.

#include <fcntl.h>

namespace roomwire::transport {

// Sets FD_CLOEXEC on `fd` (best effort: a failure leaves the descriptor as it was).
inline void set_cloexec(int fd) noexcept {
  if (fd < 0) return;
  const int flags = ::fcntl(fd, F_GETFD);
  if (flags >= 0 && (flags & FD_CLOEXEC) == 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

}  // namespace roomwire::transport
