#pragma once

// Socket set-up shared by the server endpoints (ws_plain.cpp, ws_endpoint.hpp): the listening
// socket and the options of an accepted one.

#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

#include <asio/ip/tcp.hpp>

#include "transport/endpoint.hpp"

namespace roomwire::transport {

// Opens, binds and listens on `at`, and returns the port bound. The socket is created
// close-on-exec (Asio would not: a child process the host spawns would keep the port bound after
// the server is gone), plus `extra_flags` (e.g. SOCK_NONBLOCK). On failure the acceptor is closed.
inline std::uint16_t open_listening(asio::ip::tcp::acceptor& acceptor,
                                    const asio::ip::tcp::endpoint& at, int extra_flags,
                                    std::error_code& ec) {
  const int fd =
      ::socket(at.protocol().family(), SOCK_STREAM | SOCK_CLOEXEC | extra_flags, IPPROTO_TCP);
  if (fd < 0) {
    ec = std::error_code(errno, std::system_category());
    return 0;
  }
  acceptor.assign(at.protocol(), fd, ec);
  if (ec) {
    ::close(fd);
    return 0;
  }
  std::uint16_t port = 0;
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(at, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) {
    const auto local = acceptor.local_endpoint(ec);
    if (!ec) port = local.port();
  }
  if (ec) {
    std::error_code ignored;
    acceptor.close(ignored);
    return 0;
  }
  return port;
}

// The options of an accepted connection: no Nagle delay, and at most unsent_bytes_limit unsent
// in the kernel. Otherwise the kernel would take megabytes of a slow reader's frames into its
// send buffer (it grows to net.ipv4.tcp_wmem's maximum), where no priority applies and a
// priority-0 message waits behind all of them; this way the backlog stays in the hub's queue,
// which sends the most urgent first (§4) and sheds 3-4 first. Best effort.
inline void set_accepted_options(int fd) noexcept {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const int limit = static_cast<int>(unsent_bytes_limit);
  ::setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &limit, sizeof limit);
}

// Whether the kernel already holds unsent_bytes_limit bytes of `fd` unsent. TCP_NOTSENT_LOWAT
// alone does not keep it under that: it refuses a write only when the write needs a new segment,
// so small writes keep going into the last unsent segment until it has its full size, up to half
// the reader's largest window (tens of KB on loopback), all ahead of any priority. Worse, a
// segment that outgrew what the reader now takes at once is sent only when Linux's persist timer
// splits it, some 200 ms later (docs/benchmarks.md). So a connection that is behind asks this
// before it writes more. One ioctl: only connections that are behind pay for it.
inline bool kernel_unsent_at_limit(int fd) noexcept {
  int unsent = 0;
  return ::ioctl(fd, SIOCOUTQNSD, &unsent) == 0 &&
         static_cast<std::size_t>(unsent) >= unsent_bytes_limit;
}

// The kernel's smoothed round-trip time of `fd` in nanoseconds, 0 when it has none. Read once,
// when a connection first probes its reader (read_credit::seed_round_trip()).
inline std::int64_t kernel_round_trip_ns(int fd) noexcept {
  tcp_info info{};
  socklen_t size = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &size) != 0) return 0;
  return static_cast<std::int64_t>(info.tcpi_rtt) * 1000;
}

}  // namespace roomwire::transport
