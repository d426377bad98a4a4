// What one system call costs on this machine, for reading bench/probe/count-syscalls.sh: the
// calls a server makes per acknowledgement besides its read and its write. Over a loopback TCP
// connection with nothing to read, in a loop: getpid (the bare cost of entering the kernel),
// epoll_ctl(EPOLL_CTL_MOD) of the socket (what Asio's reactor does to re-arm a wait), and a
// recv that fails with EAGAIN (what a read tried ahead of readiness costs instead).
//   roomwire_bench_syscalls [--calls 200000] [--rounds 3]
// Wall time per call, so run it on an otherwise idle machine; the numbers are for orientation
// (docs/benchmarks.md, "Ack CPU"), not a regression check.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "roomwire_bench_syscalls: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

template <class F>
double micros_per_call(int calls, F f) {
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < calls; ++i) f();
  const std::chrono::duration<double, std::micro> took = std::chrono::steady_clock::now() - start;
  return took.count() / calls;
}

}  // namespace

int main(int argc, char** argv) {
  int calls = 200000;
  int rounds = 3;
  bool known = true;
  for (int i = 1; i < argc && known; i += 2) {
    if (i + 1 < argc && std::strcmp(argv[i], "--calls") == 0) {
      calls = std::atoi(argv[i + 1]);
    } else if (i + 1 < argc && std::strcmp(argv[i], "--rounds") == 0) {
      rounds = std::atoi(argv[i + 1]);
    } else {
      known = false;
    }
  }
  if (!known || calls <= 0 || rounds <= 0) {
    std::fprintf(stderr, "usage: roomwire_bench_syscalls [--calls N] [--rounds N]\n");
    return 2;
  }

  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  if (listener < 0) fail("socket");
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof at;
  if (bind(listener, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0) fail("bind");
  if (listen(listener, 1) != 0) fail("listen");
  if (getsockname(listener, reinterpret_cast<sockaddr*>(&at), &length) != 0) fail("getsockname");
  const int client = socket(AF_INET, SOCK_STREAM, 0);
  if (client < 0) fail("socket");
  if (connect(client, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0) fail("connect");
  const int server = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
  if (server < 0) fail("accept4");

  const int epoll = epoll_create1(0);
  if (epoll < 0) fail("epoll_create1");
  epoll_event event{};
  event.events = EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLPRI | EPOLLET;  // as Asio registers it
  if (epoll_ctl(epoll, EPOLL_CTL_ADD, server, &event) != 0) fail("epoll_ctl");

  char buffer[64 * 1024];
  for (int round = 1; round <= rounds; ++round) {
    const double bare = micros_per_call(calls, [] { (void)getpid(); });
    const double rearm =
        micros_per_call(calls, [&] { (void)epoll_ctl(epoll, EPOLL_CTL_MOD, server, &event); });
    const double eagain =
        micros_per_call(calls, [&] { (void)recv(server, buffer, sizeof buffer, 0); });
    std::printf("round %d: getpid %.3f us, epoll_ctl MOD %.3f us, recv EAGAIN %.3f us\n", round,
                bare, rearm, eagain);
  }
  close(epoll);
  close(server);
  close(client);
  close(listener);
  return 0;
}
