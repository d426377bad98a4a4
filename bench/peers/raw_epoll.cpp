// Peer "raw": the kernel ceiling for room fan-out. One thread on epoll, RFC 6455 by hand; a chat
// message is turned into one server frame, built once, and those bytes are queued to every other
// member of the room; at the end of each turn of the event loop every connection that got bytes
// is written once (one send() carrying all its frames of that turn).
// It speaks just enough of PROTOCOL.md for the suite's load generator: joinRoom and message are
// acknowledged with messageReceived (payload.messageId = the client's), a message is delivered
// as {"type":"message",...,"payload":{<the client's payload>,"senderId","seq"}}. No validation,
// no limits, no priorities: nothing a real server may skip.
//
//   roomwire_peer_raw [--port 0]      prints "listening on ws://127.0.0.1:PORT/api/ws"
//     [--busy-us N]   an experiment, not a peer: spend N µs of CPU on each text message before
//                     handling it, to measure what a slower reply costs a server on this machine
//                     (bench/probe/compare-ack.sh, peer raw+N; docs/benchmarks.md)
//     [--busy-after-us N]  the same work, spent after the turn's writes: the same CPU, but the
//                     reply leaves first (peer raw-after+N)
//     [--rearm]       re-register each connection with epoll_ctl after each read, as Asio 1.22
//                     does for every wait: what that system call costs (peer raw-rearm)
//     [--touch-kib K] on each text message, read and write K KiB of state kept for its
//                     connection, as 4*K objects of 256 bytes in as many arrays (one per kind of
//                     object, indexed by connection): what a larger state per connection costs
//                     once many connections have pushed it out of the caches (peer raw-touch+K)

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace {

// ---- SHA-1 and base64, for Sec-WebSocket-Accept ---------------------------------------------

std::string sha1(const std::string& text) {
  std::uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  std::string m = text;
  const std::uint64_t bits = static_cast<std::uint64_t>(text.size()) * 8;
  m.push_back(static_cast<char>(0x80));
  while (m.size() % 64 != 56) m.push_back(0);
  for (int k = 7; k >= 0; --k) m.push_back(static_cast<char>((bits >> (8 * k)) & 0xff));
  auto rol = [](std::uint32_t v, int n) { return (v << n) | (v >> (32 - n)); };
  for (std::size_t chunk = 0; chunk < m.size(); chunk += 64) {
    std::uint32_t w[80];
    for (int i = 0; i < 16; ++i) {
      const auto* p = reinterpret_cast<const unsigned char*>(m.data() + chunk + 4 * i);
      w[i] = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
    }
    for (int i = 16; i < 80; ++i) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
      std::uint32_t f, k;
      if (i < 20) f = (b & c) | (~b & d), k = 0x5A827999;
      else if (i < 40) f = b ^ c ^ d, k = 0x6ED9EBA1;
      else if (i < 60) f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
      else f = b ^ c ^ d, k = 0xCA62C1D6;
      const std::uint32_t t = rol(a, 5) + f + e + k + w[i];
      e = d, d = c, c = rol(b, 30), b = a, a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
  }
  std::string out;
  for (std::uint32_t v : h) {
    for (int k = 3; k >= 0; --k) out.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
  }
  return out;
}

std::string base64(const std::string& in) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{static_cast<unsigned char>(in[i])} << 16) |
                            (std::uint32_t{static_cast<unsigned char>(in[i + 1])} << 8) |
                            static_cast<unsigned char>(in[i + 2]);
    for (int k = 3; k >= 0; --k) out.push_back(table[(v >> (6 * k)) & 63]);
  }
  if (i < in.size()) {
    std::uint32_t v = std::uint32_t{static_cast<unsigned char>(in[i])} << 16;
    if (i + 1 < in.size()) v |= std::uint32_t{static_cast<unsigned char>(in[i + 1])} << 8;
    out.push_back(table[(v >> 18) & 63]);
    out.push_back(table[(v >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? table[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

// ---- frames and JSON scraps -----------------------------------------------------------------

std::string server_frame(int opcode, std::string_view payload) {
  std::string f;
  f.reserve(payload.size() + 10);
  f.push_back(static_cast<char>(0x80 | opcode));
  const std::size_t n = payload.size();
  if (n < 126) {
    f.push_back(static_cast<char>(n));
  } else if (n < 65536) {
    f.push_back(static_cast<char>(126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xff));
  } else {
    f.push_back(static_cast<char>(127));
    for (int k = 7; k >= 0; --k) f.push_back(static_cast<char>((n >> (8 * k)) & 0xff));
  }
  f.append(payload);
  return f;
}

// The string value of "key":"..." (no unescaping: ids in the suite are plain).
std::string_view string_field(std::string_view json, std::string_view key) {
  std::string pattern = "\"" + std::string(key) + "\":\"";
  const auto at = json.find(pattern);
  if (at == std::string_view::npos) return {};
  const auto start = at + pattern.size();
  auto end = start;
  while (end < json.size() && json[end] != '"') end += json[end] == '\\' ? 2 : 1;
  return json.substr(start, end - start);
}

// The object value of "payload": {...}, string-aware brace matching.
std::string_view payload_object(std::string_view json) {
  const auto at = json.find("\"payload\":");
  if (at == std::string_view::npos) return {};
  auto start = json.find('{', at);
  if (start == std::string_view::npos) return {};
  int depth = 0;
  bool in_string = false;
  for (auto i = start; i < json.size(); ++i) {
    const char ch = json[i];
    if (in_string) {
      if (ch == '\\') ++i;
      else if (ch == '"') in_string = false;
    } else if (ch == '"') {
      in_string = true;
    } else if (ch == '{') {
      ++depth;
    } else if (ch == '}' && --depth == 0) {
      return json.substr(start, i - start + 1);
    }
  }
  return {};
}

// ---- the server -----------------------------------------------------------------------------

struct conn {
  int fd = -1;
  bool upgraded = false;
  bool writable_armed = false;
  bool dirty = false;  // has bytes queued in this turn of the loop
  std::string user;
  std::string in;
  std::string out;  // bytes the socket did not take yet, from out_head on
  std::size_t out_head = 0;
  std::vector<std::string> rooms;
};

struct room {
  std::vector<int> members;
  std::uint64_t seq = 0;
};

class server {
 public:
  server(int listen_fd, std::int64_t busy_ns, std::int64_t busy_after_ns, bool rearm,
         int touch_kib)
      : listen_(listen_fd), busy_ns_(busy_ns), busy_after_ns_(busy_after_ns), rearm_(rearm),
        touch_(static_cast<std::size_t>(touch_kib) * 4) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    add(listen_, EPOLLIN);
  }

  void run() {
    epoll_event events[512];
    for (;;) {
      const int n = epoll_wait(epoll_, events, 512, -1);
      for (int k = 0; k < n; ++k) {
        const int fd = events[k].data.fd;
        if (fd == listen_) {
          accept_all();
          continue;
        }
        if (fd >= static_cast<int>(conns_.size()) || conns_[fd].fd < 0) continue;
        if (events[k].events & EPOLLOUT) flush(fd);
        if (events[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
          read_all(fd);
          if (rearm_ && fd < static_cast<int>(conns_.size()) && conns_[fd].fd >= 0) {
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.fd = fd;
            epoll_ctl(epoll_, EPOLL_CTL_MOD, fd, &ev);
          }
        }
      }
      flush_dirty();
      if (texts_ > 0 && busy_after_ns_ > 0) spin(busy_after_ns_ * texts_);
      texts_ = 0;
    }
  }

  static void spin(std::int64_t ns) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(ns);
    while (std::chrono::steady_clock::now() < until) {
    }
  }

 private:
  void add(int fd, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
  }

  void accept_all() {
    for (;;) {
      const int fd = accept4(listen_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (fd >= static_cast<int>(conns_.size())) conns_.resize(static_cast<std::size_t>(fd) + 1024);
      conns_[fd] = conn{};
      conns_[fd].fd = fd;
      add(fd, EPOLLIN);
    }
  }

  void drop(int fd) {
    conn& c = conns_[fd];
    for (const auto& r : c.rooms) {
      auto it = rooms_.find(r);
      if (it == rooms_.end()) continue;
      auto& m = it->second.members;
      for (std::size_t i = 0; i < m.size(); ++i) {
        if (m[i] == fd) {
          m[i] = m.back();
          m.pop_back();
          break;
        }
      }
    }
    epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    c = conn{};
  }

  // Queues bytes; every connection written to in this turn of the loop is flushed once at its
  // end (one send() for all the frames it got), as a server that gathers writes would.
  void write(int fd, std::string_view bytes) {
    conn& c = conns_[fd];
    if (c.out.empty() && !c.dirty) {
      c.dirty = true;
      dirty_.push_back(fd);
    }
    c.out.append(bytes);
  }

  void flush_dirty() {
    for (const int fd : dirty_) {
      conn& c = conns_[fd];
      if (c.fd < 0 || !c.dirty) continue;
      c.dirty = false;
      if (!c.writable_armed) flush(fd);
    }
    dirty_.clear();
  }

  void flush(int fd) {
    conn& c = conns_[fd];
    while (c.out_head < c.out.size()) {
      const ssize_t n =
          ::send(fd, c.out.data() + c.out_head, c.out.size() - c.out_head, MSG_NOSIGNAL);
      if (n <= 0) break;
      c.out_head += static_cast<std::size_t>(n);
    }
    if (c.out_head == c.out.size()) {
      c.out.clear();
      c.out_head = 0;
    } else if (c.out_head > c.out.size() / 2) {
      c.out.erase(0, c.out_head);  // amortised: at most as many bytes moved as were sent
      c.out_head = 0;
    }
    if (!c.out.empty()) {
      if (!c.writable_armed) {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT;
        ev.data.fd = fd;
        epoll_ctl(epoll_, EPOLL_CTL_MOD, fd, &ev);
        c.writable_armed = true;
      }
      return;
    }
    if (c.writable_armed) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      epoll_ctl(epoll_, EPOLL_CTL_MOD, fd, &ev);
      c.writable_armed = false;
    }
  }

  void read_all(int fd) {
    static char buffer[1 << 16];
    for (;;) {
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        drop(fd);
        return;
      }
      if (n < 0) return;
      conn& c = conns_[fd];
      c.in.append(buffer, static_cast<std::size_t>(n));
      if (!c.upgraded && !upgrade(fd)) return;
      frames(fd);
      return;  // level-triggered: the rest waits for the next turn, after the flush
    }
  }

  bool upgrade(int fd) {
    conn& c = conns_[fd];
    const auto end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    std::string head = c.in.substr(0, end + 2);
    std::string lower = head;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const auto k = lower.find("sec-websocket-key:");
    if (k == std::string::npos) {
      drop(fd);
      return false;
    }
    auto v = k + 18;
    while (head[v] == ' ') ++v;
    const std::string key = head.substr(v, head.find("\r\n", v) - v);
    const auto t = head.find("token=");
    if (t != std::string::npos) {
      const auto te = head.find_first_of("& ", t + 6);
      c.user = head.substr(t + 6, te - t - 6);
    }
    c.in.erase(0, end + 4);
    c.upgraded = true;
    write(fd, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Accept: " +
                  base64(sha1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")) + "\r\n\r\n");
    return true;
  }

  bool frames(int fd) {
    std::size_t at = 0;
    for (;;) {
      conn& c = conns_[fd];
      const std::size_t avail = c.in.size() - at;
      if (avail < 2) break;
      auto* p = reinterpret_cast<unsigned char*>(c.in.data() + at);
      const int opcode = p[0] & 0x0f;
      std::size_t len = p[1] & 0x7f;
      std::size_t header = 2;
      if (len == 126) {
        if (avail < 4) break;
        len = (std::size_t{p[2]} << 8) | p[3];
        header = 4;
      } else if (len == 127) {
        if (avail < 10) break;
        len = 0;
        for (int k = 2; k < 10; ++k) len = (len << 8) | p[k];
        header = 10;
      }
      const bool masked = (p[1] & 0x80) != 0;
      if (masked) header += 4;
      if (avail < header + len) break;
      unsigned char* data = p + header;
      if (masked) {
        const unsigned char* mask = data - 4;
        for (std::size_t i = 0; i < len; ++i) data[i] ^= mask[i & 3];
      }
      const std::string_view payload(reinterpret_cast<char*>(data), len);
      at += header + len;
      if (opcode == 0x8) {
        write(fd, server_frame(0x8, payload.substr(0, 2)));
        drop(fd);
        return false;
      }
      if (opcode == 0x9) write(fd, server_frame(0xA, payload));
      if (opcode == 0x1) on_text(fd, payload);
    }
    conns_[fd].in.erase(0, at);
    return true;
  }

  void ack(int fd, std::string_view id, std::string_view room_id, const std::string& extra) {
    const std::string text = R"({"type":"messageReceived","payload":{"messageId":")" +
                             std::string(id) + R"(","roomId":")" + std::string(room_id) + "\"" +
                             extra + "}}";
    write(fd, server_frame(0x1, text));
  }

  // One object of each kind for connection `fd`, every cache line of it read and written. The
  // arrays grow with the highest descriptor; a kind's objects of neighbouring connections are
  // neighbours, as a server's allocations of one kind tend to be. Each line's address depends on
  // the value read from the line before (always 0, which the compiler cannot know), so the loads
  // wait for each other, as a server's walk from a socket to its connection, session and room
  // does: the pessimistic price, with no overlap of misses.
  void touch(int fd) {
    const std::size_t index = static_cast<std::size_t>(fd);
    std::uint64_t chain = 0;
    for (auto& kind : touch_) {
      if (kind.size() < (index + 1) * object_words) kind.resize((index + 1) * object_words * 2);
      for (std::size_t line = 0; line < object_words; line += 8) {
        std::uint64_t* at = &kind[index * object_words + line + chain];
        chain = at[0] & zero_;  // word 0 of each line stays 0
        ++at[1];
      }
    }
  }

  void on_text(int fd, std::string_view json) {
    if (busy_ns_ > 0) spin(busy_ns_);
    if (!touch_.empty()) touch(fd);
    ++texts_;
    const auto type = string_field(json, "type");
    const auto payload = payload_object(json);
    const auto room_id = string_field(payload, "roomId");
    const auto id = string_field(json, "messageId");
    conn& c = conns_[fd];
    if (type == "joinRoom") {
      room& r = rooms_[std::string(room_id)];
      bool member = false;
      for (int m : r.members) member = member || m == fd;
      if (!member) {
        r.members.push_back(fd);
        c.rooms.emplace_back(room_id);
      }
      ack(fd, id, room_id, "");
      return;
    }
    if (type == "message") {
      auto it = rooms_.find(std::string(room_id));
      if (it == rooms_.end()) return;
      room& r = it->second;
      const std::uint64_t seq = ++r.seq;
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
      std::string text = R"({"type":"message","messageId":")" + std::string(id) +
                         R"(","timestamp":)" + std::to_string(ms) + R"(,"priority":2,"payload":)";
      text.append(payload.substr(0, payload.size() - 1));
      text += R"(,"senderId":")" + c.user + R"(","seq":)" + std::to_string(seq) + "}}";
      const std::string frame = server_frame(0x1, text);  // built once, written to every member
      ack(fd, id, room_id, R"(,"seq":)" + std::to_string(seq));
      for (int m : r.members) {
        if (m != fd) write(m, frame);
      }
    }
  }

  int listen_;
  std::int64_t busy_ns_;
  std::int64_t busy_after_ns_;
  bool rearm_;
  static constexpr std::size_t object_words = 32;  // 256 bytes, four cache lines
  std::vector<std::vector<std::uint64_t>> touch_;  // --touch-kib: one array per kind of object
  std::uint64_t zero_ = 0;  // a mask of 0 the compiler cannot see through (touch())
  std::int64_t texts_ = 0;  // text messages read in this turn of the loop
  int epoll_;
  std::vector<conn> conns_;
  std::vector<int> dirty_;
  std::unordered_map<std::string, room> rooms_;
};

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  std::int64_t busy_ns = 0;
  std::int64_t busy_after_ns = 0;
  bool rearm = false;
  int touch_kib = 0;
  for (int i = 1; i < argc; ++i) rearm = rearm || std::strcmp(argv[i], "--rearm") == 0;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--port") == 0) port = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--busy-us") == 0) busy_ns = std::atoll(argv[++i]) * 1000;
    else if (std::strcmp(argv[i], "--busy-after-us") == 0) busy_after_ns = std::atoll(argv[++i]) * 1000;
    else if (std::strcmp(argv[i], "--touch-kib") == 0) touch_kib = std::max(0, std::atoi(argv[++i]));
  }
  signal(SIGPIPE, SIG_IGN);
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 4096) != 0) {
    std::perror("roomwire_peer_raw: bind/listen");
    return 2;
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::printf("listening on ws://127.0.0.1:%u/api/ws\n", static_cast<unsigned>(ntohs(addr.sin_port)));
  std::fflush(stdout);
  server s(fd, busy_ns, busy_after_ns, rearm, touch_kib);
  s.run();
}
