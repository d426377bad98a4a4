#pragma once

// Shared pieces of the hostile-client suite: the well-behaved bystanders whose latency every
// case checks while it attacks, plain POSIX sockets for attacks that need hundreds of
// connections (a wire_client owns an io_context: three more descriptors each), and the resident
// memory of a server process.

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <rapidjson/pointer.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "test_server.hpp"

namespace rwtest::hostile {

using clock_type = std::chrono::steady_clock;

// What "served within its normal latency" means here: a chat round trip on loopback takes well
// under a millisecond; this bound is generous enough for a Debug or ASan build on a busy machine.
inline constexpr millis normal_latency = 500ms;

inline long long ms_since(clock_type::time_point t0) {
  return std::chrono::duration_cast<millis>(clock_type::now() - t0).count();
}

// Two well-behaved users in a room of their own. round_trip(): alice's chat message is
// acknowledged to her and delivered to bob; returns the time until both happened, or -1.
class bystanders {
 public:
  explicit bystanders(const endpoint_options& at, std::string room = "calm")
      : room_(std::move(room)) {
    alice_ = connect_as(at, "bystander-alice");
    bob_ = connect_as(at, "bystander-bob");
    ok_ = alice_ && bob_ && join(*alice_, room_, "by-join-a") && join(*bob_, room_, "by-join-b");
  }
  bool ok() const { return ok_; }

  long long round_trip() {
    if (!ok_) return -1;
    const std::string id = "by-" + std::to_string(++count_);
    const auto t0 = clock_type::now();
    alice_->send_text(envelope(
        "message", R"({"roomId":")" + room_ + R"(","content":"still there? )" + id + R"("})", id));
    if (!wait_for(*alice_, "messageReceived", "/payload/messageId", id)) return -1;
    if (!wait_for(*bob_, "message", "/messageId", id)) return -1;
    const long long ms = ms_since(t0);
    if (ms > worst_) worst_ = ms;
    return ms;
  }
  // Ends both sessions with a close handshake (a server stopping gracefully waits for it).
  void close() {
    for (auto* c : {alice_.get(), bob_.get()}) {
      if (c == nullptr || c->closed()) continue;
      c->send_close();
      c->wait_close(2000ms);
    }
  }
  long long worst() const { return worst_; }
  int count() const { return count_; }

 private:
  static bool wait_for(wire_client& c, std::string_view type, const char* pointer,
                       const std::string& id) {
    const auto deadline = clock_type::now() + 5000ms;
    for (;;) {
      const auto left = std::chrono::duration_cast<millis>(deadline - clock_type::now());
      if (left.count() <= 0) return false;
      auto text = c.next_of_type(type, left);
      if (!text) return false;
      const auto doc = parse_json(*text);
      const auto* v = rapidjson::Pointer(pointer).Get(doc);
      if (v && v->IsString() && id == v->GetString()) return true;
    }
  }

  std::string room_;
  std::unique_ptr<wire_client> alice_;
  std::unique_ptr<wire_client> bob_;
  bool ok_ = false;
  int count_ = 0;
  long long worst_ = 0;
};

// One round trip, checked against the bound (a Catch assertion with the latency in its message).
#define ROOMWIRE_CHECK_SERVED(by)                                                          \
  do {                                                                                     \
    const long long rw_rtt_ = (by).round_trip();                                           \
    INFO("bystander round trip: " << rw_rtt_ << " ms (bound "                              \
                                  << ::rwtest::hostile::normal_latency.count() << " ms)"); \
    CHECK(rw_rtt_ >= 0);                                                                   \
    CHECK(rw_rtt_ < ::rwtest::hostile::normal_latency.count());                            \
  } while (false)

// The close code the server ends `c` with (-1: none within the timeout).
inline int close_code_after(wire_client& c, millis timeout = default_timeout) {
  auto closed = c.wait_close(timeout);
  return closed ? closed->code : -1;
}

// ---- plain sockets ----------------------------------------------------------------------

// A blocking, close-on-exec TCP connection to 127.0.0.1:port; -1 on failure.
inline int tcp_connect(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

inline bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Reads an HTTP head (up to "\r\n\r\n"); returns its status, 0 on end or timeout.
inline int read_http_status(int fd, millis timeout) {
  const auto deadline = clock_type::now() + timeout;
  std::string head;
  while (head.find("\r\n\r\n") == std::string::npos) {
    const auto left = std::chrono::duration_cast<millis>(deadline - clock_type::now()).count();
    if (left <= 0) return 0;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    // One byte at a time: nothing after the head may be taken from the socket.
    char c = 0;
    const ssize_t n = ::recv(fd, &c, 1, 0);
    if (n <= 0) return 0;
    head.push_back(c);
  }
  if (head.rfind("HTTP/1.1 ", 0) != 0) return 0;
  return std::atoi(head.c_str() + 9);
}

inline std::string upgrade_request(std::uint16_t port, std::string_view token) {
  return "GET /api/ws?token=" + std::string(token) +
         " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
         "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
}

// A masked client frame header announcing `length` bytes, and the first bytes of its payload.
inline std::string frame_prefix(int opcode, std::uint64_t length, std::string_view partial) {
  std::string f;
  f.push_back(static_cast<char>(0x80 | opcode));
  if (length < 126) {
    f.push_back(static_cast<char>(0x80 | length));
  } else if (length <= 0xffff) {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(length >> 8));
    f.push_back(static_cast<char>(length & 0xff));
  } else {
    f.push_back(static_cast<char>(0x80 | 127));
    for (int shift = 56; shift >= 0; shift -= 8) f.push_back(static_cast<char>(length >> shift));
  }
  f.append(4, '\0');  // a zero masking key: the payload goes as it is
  f.append(partial);
  return f;
}

// Owns a set of descriptors and closes them.
class socket_set {
 public:
  socket_set() = default;
  socket_set(const socket_set&) = delete;
  socket_set& operator=(const socket_set&) = delete;
  ~socket_set() { close_all(); }
  void add(int fd) { fds_.push_back(fd); }
  std::vector<int>& fds() { return fds_; }
  void close_all() {
    for (int fd : fds_) {
      if (fd >= 0) ::close(fd);
    }
    fds_.clear();
  }

 private:
  std::vector<int> fds_;
};

// Raises the soft descriptor limit towards `wanted` (children inherit it). Returns the limit.
inline rlim_t raise_descriptor_limit(rlim_t wanted) {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return 0;
  if (r.rlim_cur < wanted) {
    r.rlim_cur = r.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, r.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &r);
    ::getrlimit(RLIMIT_NOFILE, &r);
  }
  return r.rlim_cur;
}

// ---- a server process -------------------------------------------------------------------

// The pid of our own child process running `name` (child_process does not expose it).
inline int child_pid_named(const std::string& name) {
  const int self = static_cast<int>(::getpid());
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string pid = entry.path().filename().string();
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    // "pid (comm) state ppid ...": comm may hold spaces, so split at the last ')'.
    const auto open = line.find('(');
    const auto close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    const std::string comm = line.substr(open + 1, close - open - 1);
    std::istringstream rest(line.substr(close + 1));
    std::string state;
    int ppid = 0;
    rest >> state >> ppid;
    if (ppid == self && name.rfind(comm, 0) == 0) return std::stoi(pid);
  }
  return -1;
}

// VmRSS of a process in KiB (-1 when unknown).
inline long rss_kib(int pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

}  // namespace rwtest::hostile
