// An experiment, not a server: roomwire's own hub and WebSocket reader behind an event loop of
// our own instead of Asio, to measure what that lever is worth in the suite's ack scenario
// (docs/benchmarks.md, "Ack CPU: what is left"). One thread on edge-triggered epoll: every socket
// is registered once (no EPOLL_CTL_MOD per message), a read shorter than the buffer ends the
// socket's turn (no EAGAIN read), and each connection's frames of a turn go out in one write().
//
// Everything between the socket and the protocol is the library's: core::hub with its
// in-process broker, transport::ws::frame_reader, encode_frame and accept_key. What it leaves
// out (so it must never be taken for a server): TLS, pings and the 5 s close timeout, the
// handshake's checks beyond finding a key and a token, the connection limit, HTTP, the drain.
//
//   roomwire_bench_own_loop [--port 0] [--rate R] [--burst B] [--queue-soft-bytes N]
//                           [--queue-hard-bytes N] [--max-message-bytes N] [--room-history N]
//                           [--dedup-entries N] [--prefault-mib N] [--other-flag V]...
// takes roomwire-server's flags (ignoring those it has no use for) and, like it, prints
// "listening on ws://127.0.0.1:PORT/api/ws"; SIGTERM ends it. --room-history and
// --dedup-entries set the hub's options of those names; --prefault-mib N maps and touches N MiB
// of heap before it listens, so that the run's growth causes no page faults.
// bench/probe/compare-ack.sh runs it (docs/benchmarks.md, "The levers, measured").

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <malloc.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "roomwire/core/hub.hpp"
#include "roomwire/server.hpp"
#include "transport/http.hpp"
#include "transport/ws_wire.hpp"

namespace {

namespace core = roomwire::core;
namespace ws = roomwire::transport::ws;
namespace http = roomwire::transport;
using roomwire::protocol::close_code;

volatile sig_atomic_t stop_requested = 0;
void on_signal(int) { stop_requested = 1; }

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "roomwire_bench_own_loop: %s\n", why.c_str());
  std::exit(1);
}

class loop;

struct connection final : ws::frame_sink {
  connection(loop& l, int fd_, std::size_t max_message) : owner(l), fd(fd_), reader(max_message) {}

  void on_message(std::string_view text) override;
  void on_ping(std::string_view payload) override { out += ws::encode_frame(ws::pong, payload); }
  void on_pong(std::string_view) override {}
  void on_close(int code, std::string_view) override;
  void on_violation(int code, const char*) override;

  loop& owner;
  int fd;
  core::session_id session = 0;  // 0 until the handshake is done
  std::string handshake;
  ws::frame_reader reader;
  std::string out;       // bytes the socket has not taken yet
  bool queued = false;   // in loop::to_flush
  bool closing = false;  // a close frame is in `out`; drop after it is written
  close_code close_with = close_code::normal;
};

class loop final : public core::transport {
 public:
  loop(core::hub_options options, std::size_t max_message)
      : max_message_(max_message), hub_(std::move(options), {}, *this, clock_, nullptr) {}

  void listen(std::uint16_t port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_port = htons(port);
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0 ||
        ::listen(listener_, 4096) != 0) {
      die(std::string("bind/listen: ") + std::strerror(errno));
    }
    socklen_t len = sizeof at;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&at), &len);
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // the listener
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, listener_, &ev);
    std::printf("listening on ws://127.0.0.1:%u/api/ws\n", unsigned{ntohs(at.sin_port)});
    std::fflush(stdout);
  }

  void run() {
    epoll_event events[512];
    while (!stop_requested) {
      const std::int64_t wait =
          std::clamp<std::int64_t>(hub_.next_deadline_ms() - clock_.steady_ms(), 0, 100);
      const int n = ::epoll_wait(epoll_, events, 512, static_cast<int>(wait));
      for (int i = 0; i < n; ++i) {
        auto* c = static_cast<connection*>(events[i].data.ptr);
        if (c == nullptr) {
          accept_all();
          continue;
        }
        if ((events[i].events & EPOLLOUT) && !c->out.empty()) queue_flush(*c);
        if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP))
          read_all(*c);  // may drop c
      }
      if (hub_.next_deadline_ms() <= clock_.steady_ms()) hub_.tick();
      flush();
    }
    for (auto& [fd, c] : by_fd_) ::close(fd);
  }

  // ---- core::transport ----------------------------------------------------------------------
  void wake(core::session_id session) override {
    const auto it = by_session_.find(session);
    if (it != by_session_.end()) queue_flush(*it->second);
  }
  void close(core::session_id session, close_code code, std::string_view reason) override {
    const auto it = by_session_.find(session);
    if (it != by_session_.end()) start_close(*it->second, static_cast<int>(code), reason);
  }

  void start_close(connection& c, int code, std::string_view reason) {
    if (c.closing) return;
    c.closing = true;
    c.close_with = static_cast<close_code>(code);
    pull_frames(c);  // what the hub handed over before the close goes first
    c.out += ws::encode_frame(ws::close, ws::close_payload(code, reason));
    queue_flush(c);
  }

  core::hub& hub() { return hub_; }

 private:
  void queue_flush(connection& c) {
    if (!c.queued) {
      c.queued = true;
      to_flush_.push_back(c.fd);
    }
  }

  void accept_all() {
    for (;;) {
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN, or a failure the next turn may not have
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto c = std::make_unique<connection>(*this, fd, max_message_);
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;  // once, for the socket's life
      ev.data.ptr = c.get();
      ::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
      by_fd_.emplace(fd, std::move(c));
    }
  }

  void read_all(connection& c) {
    static char buffer[16384];
    for (;;) {
      const ssize_t n = ::recv(c.fd, buffer, sizeof buffer, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        drop(c, close_code::going_away);
        return;
      }
      if (n < 0) return;
      if (c.session == 0) {
        c.handshake.append(buffer, static_cast<std::size_t>(n));
        // False: dropped, or the head is incomplete (and shorter than this buffer: drained).
        if (!answer_handshake(c)) return;
      } else if (!c.reader.stopped()) {
        c.reader.consume(buffer, static_cast<std::size_t>(n), c);
      }
      // Edge-triggered: a read shorter than the buffer took all the socket had.
      if (static_cast<std::size_t>(n) < sizeof buffer) return;
    }
  }

  // False when the connection is gone or the request is not complete yet.
  bool answer_handshake(connection& c) {
    const auto head_end = c.handshake.find("\r\n\r\n");
    if (head_end == std::string::npos) {
      if (c.handshake.size() > http::max_request_head_bytes) drop(c, close_code::protocol_error);
      return false;
    }
    const auto head =
        http::parse_request_head(std::string_view(c.handshake).substr(0, head_end + 4));
    const auto key = head ? head->field("Sec-WebSocket-Key") : std::nullopt;
    const auto token =
        head ? http::query_param(http::split(head->target).query, "token") : std::nullopt;
    std::optional<core::identity> who = token ? roomwire::demo_authenticate(*token) : std::nullopt;
    if (!who || !key) {
      drop(c, close_code::invalid_authentication);
      return false;
    }
    c.out =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " +
        ws::accept_key(*key) + "\r\n\r\n";
    std::string early = c.handshake.substr(head_end + 4);  // frames sent right behind the request
    std::string().swap(c.handshake);
    c.session = hub_.open(std::move(*who));
    by_session_.emplace(c.session, &c);
    queue_flush(c);
    if (!early.empty()) c.reader.consume(early.data(), early.size(), c);
    return true;
  }

  void pull_frames(connection& c) {
    while (core::frame_ptr f = hub_.pop(c.session)) c.out += ws::encode_frame(ws::text, f->text);
  }

  void flush() {
    // A drop below may close other sessions through the hub, which queues them here: index, not
    // iterators.
    for (std::size_t i = 0; i < to_flush_.size(); ++i) {
      const auto it = by_fd_.find(to_flush_[i]);
      if (it == by_fd_.end()) continue;
      connection& c = *it->second;
      c.queued = false;
      if (c.session != 0 && !c.closing) pull_frames(c);
      if (!c.out.empty()) {
        const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN) {
          drop(c, close_code::going_away);
          continue;
        }
        if (n > 0) c.out.erase(0, static_cast<std::size_t>(n));
        if (c.session != 0) hub_.set_backlog(c.session, c.out.size());
      }
      if (c.closing && c.out.empty()) drop(c, c.close_with);
    }
    to_flush_.clear();
  }

  void drop(connection& c, close_code code) {
    const int fd = c.fd;
    const core::session_id session = c.session;
    ::close(fd);
    if (session != 0) by_session_.erase(session);
    by_fd_.erase(fd);  // c is gone
    if (session != 0) hub_.closed(session, code);
  }

  friend struct connection;
  const std::size_t max_message_;
  core::system_clock clock_;
  core::hub hub_;
  int listener_ = -1;
  int epoll_ = -1;
  std::unordered_map<int, std::unique_ptr<connection>> by_fd_;
  std::unordered_map<core::session_id, connection*> by_session_;
  std::vector<int> to_flush_;
};

void connection::on_message(std::string_view text) {
  if (!closing) owner.hub().receive(session, text);
}
void connection::on_close(int code, std::string_view) {
  owner.start_close(*this, code == ws::close_no_status ? ws::close_normal : code, {});
}
void connection::on_violation(int code, const char* why) { owner.start_close(*this, code, why); }

}  // namespace

int main(int argc, char** argv) {
  core::hub_options options;
  std::size_t max_message = 64 * 1024;
  unsigned long port = 0;
  std::size_t prefault_mib = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--port")
      port = std::strtoul(value, nullptr, 10);
    else if (flag == "--rate")
      options.rate_per_second = std::strtod(value, nullptr);
    else if (flag == "--burst")
      options.burst = std::strtod(value, nullptr);
    else if (flag == "--queue-soft-bytes")
      options.queue_soft_bytes = std::strtoull(value, nullptr, 10);
    else if (flag == "--queue-hard-bytes")
      options.queue_hard_bytes = std::strtoull(value, nullptr, 10);
    else if (flag == "--max-message-bytes")
      max_message = std::strtoull(value, nullptr, 10);
    else if (flag == "--room-history")
      options.room_history = std::strtoull(value, nullptr, 10);
    else if (flag == "--dedup-entries")
      options.dedup_entries = std::strtoull(value, nullptr, 10);
    else if (flag == "--prefault-mib")
      prefault_mib = std::strtoull(value, nullptr, 10);
  }
  if (prefault_mib > 0) {
    // Touch the heap's first pages now and keep them: glibc then serves the run's growth from
    // memory that is already mapped (no page fault per new page).
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
    const std::size_t bytes = prefault_mib << 20;
    auto* volatile p = static_cast<char*>(std::malloc(bytes));  // volatile: not optimised away
    if (p != nullptr) std::memset(p, 1, bytes);
    std::free(p);
  }
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  signal(SIGPIPE, SIG_IGN);
  loop l(options, max_message);
  l.listen(static_cast<std::uint16_t>(port));
  l.run();
  return 0;
}
