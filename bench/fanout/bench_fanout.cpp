// Room fan-out: one sender, a room of N receivers (default 1,000), against roomwire-server in a
// process of its own. See docs/benchmarks.md, "Room fan-out (1 → 1,000)".
//
// The load generator is this one thread on epoll, speaking RFC 6455 itself (masked client
// frames, no websocketpp), so that it costs far less per delivered frame than the server.
//
//   1. capacity: the sender keeps at most --window messages not yet delivered to every
//      receiver (a closed loop, so the server's queues stay short); deliveries/s across all
//      receivers over --capacity-s seconds, after --warmup-s.
//   2. latency: sends on a fixed schedule at --load (default 0.5) of that capacity for
//      --latency-s seconds; each message carries its *scheduled* send time, and latency is the
//      receive time minus that (a late send counts against the server: no coordinated
//      omission). Percentiles from a log-bucket histogram (about 3% wide buckets).
//
// CPU time of both processes comes from /proc/<pid>/stat; a run whose load generator used
// >= 90% of a core is flagged as client-bound (its numbers are a floor for the server).

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

extern char** environ;

namespace {

// ---- time, CPU ------------------------------------------------------------------------------

std::int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// utime + stime of a process, in seconds.
double cpu_seconds(pid_t pid) {
  const std::string path =
      pid == 0 ? std::string("/proc/self/stat") : "/proc/" + std::to_string(pid) + "/stat";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buffer[1024];
  const ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
  ::close(fd);
  if (n <= 0) return 0;
  const std::string text(buffer, static_cast<std::size_t>(n));
  // The command name (field 2) may hold spaces: fields are counted after its ')'.
  const auto close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::vector<std::string> fields;
  std::size_t at = close + 2;
  while (at < text.size() && fields.size() < 13) {
    const auto space = text.find(' ', at);
    fields.push_back(text.substr(at, space - at));
    if (space == std::string::npos) break;
    at = space + 1;
  }
  if (fields.size() < 13) return 0;
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return (std::strtod(fields[11].c_str(), nullptr) + std::strtod(fields[12].c_str(), nullptr)) /
         ticks;
}

// ---- histogram ------------------------------------------------------------------------------

// Log buckets: values below 32 ns exactly; above, 32 sub-buckets per power of two (<= 3.1%).
class histogram {
 public:
  void add(std::int64_t v) {
    if (v < 0) v = 0;
    ++buckets_[index(static_cast<std::uint64_t>(v))];
    ++count_;
    max_ = std::max(max_, v);
  }
  std::uint64_t count() const { return count_; }
  std::int64_t max() const { return max_; }
  // The upper edge of the bucket holding the q-quantile (a slight overestimate).
  std::int64_t quantile(double q) const {
    if (count_ == 0) return 0;
    const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
      seen += buckets_[i];
      if (seen >= rank && buckets_[i] > 0) {
        return std::min<std::int64_t>(static_cast<std::int64_t>(upper(i)), max_);
      }
    }
    return max_;
  }

 private:
  static constexpr int sub_bits = 5;
  static std::size_t index(std::uint64_t v) {
    if (v < (1u << sub_bits)) return static_cast<std::size_t>(v);
    const int e = 63 - __builtin_clzll(v);  // >= sub_bits
    const auto sub = static_cast<std::size_t>((v >> (e - sub_bits)) & ((1u << sub_bits) - 1));
    return (static_cast<std::size_t>(e - sub_bits + 1) << sub_bits) + sub;
  }
  static std::uint64_t upper(std::size_t i) {
    if (i < (1u << sub_bits)) return i;
    const int e = static_cast<int>(i >> sub_bits) + sub_bits - 1;
    const std::uint64_t sub = i & ((1u << sub_bits) - 1);
    return ((std::uint64_t{1} << sub_bits) + sub + 1) << (e - sub_bits);
  }

  std::array<std::uint64_t, (64 - sub_bits + 1) << sub_bits> buckets_{};
  std::uint64_t count_ = 0;
  std::int64_t max_ = 0;
};

// ---- options --------------------------------------------------------------------------------

struct options {
  std::string server = ROOMWIRE_SERVER_EXE;
  int receivers = 1000;
  int server_threads = 1;
  int window = 64;
  double warmup_s = 1;
  double capacity_s = 5;
  double latency_s = 10;
  double load = 0.5;
  int content_bytes = 64;
};

void usage() {
  std::fputs(
      "usage: roomwire_bench_fanout [--server PATH] [--receivers 1000] [--server-threads 1]\n"
      "  [--window 64] [--warmup-s 1] [--capacity-s 5] [--latency-s 10] [--load 0.5]\n"
      "  [--content-bytes 64]\n",
      stderr);
}

bool parse_args(int argc, char** argv, options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") return false;
    if (i + 1 >= argc) return false;
    const char* v = argv[++i];
    if (flag == "--server") {
      o.server = v;
    } else if (flag == "--receivers") {
      o.receivers = std::atoi(v);
    } else if (flag == "--server-threads") {
      o.server_threads = std::atoi(v);
    } else if (flag == "--window") {
      o.window = std::atoi(v);
    } else if (flag == "--warmup-s") {
      o.warmup_s = std::atof(v);
    } else if (flag == "--capacity-s") {
      o.capacity_s = std::atof(v);
    } else if (flag == "--latency-s") {
      o.latency_s = std::atof(v);
    } else if (flag == "--load") {
      o.load = std::atof(v);
    } else if (flag == "--content-bytes") {
      o.content_bytes = std::atoi(v);
    } else {
      return false;
    }
  }
  return o.receivers > 0 && o.window > 0 && o.server_threads > 0 && o.load > 0 &&
         o.content_bytes >= 0;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "roomwire_bench_fanout: %s\n", what.c_str());
  std::exit(1);
}

// ---- the server process ---------------------------------------------------------------------

struct server_process {
  pid_t pid = -1;
  std::uint16_t port = 0;

  void start(const options& o) {
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) die("pipe2 failed");
    // Nothing binds: no rate limit (1e9/s), queues large enough never to shed or close, no
    // pings during the run.
    std::vector<std::string> args = {o.server,
                                     "--port",
                                     "0",
                                     "--rate",
                                     "1000000000",
                                     "--burst",
                                     "1000000000",
                                     "--queue-soft-bytes",
                                     std::to_string(std::size_t{256} << 20),
                                     "--queue-hard-bytes",
                                     std::to_string(std::size_t{1} << 30),
                                     "--ping-interval-ms",
                                     "3600000",
                                     "--threads",
                                     std::to_string(o.server_threads),
                                     "--log-level",
                                     "warning"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) {
      die("cannot start " + o.server);
    }
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    // Its first line: "listening on ws://127.0.0.1:PORT/api/ws".
    std::string line;
    const std::int64_t deadline = now_ns() + 10'000'000'000;
    while (line.find('\n') == std::string::npos) {
      pollfd p{out[0], POLLIN, 0};
      const int left = static_cast<int>((deadline - now_ns()) / 1'000'000);
      if (left <= 0 || poll(&p, 1, left) <= 0) die("the server did not say where it listens");
      char buffer[256];
      const ssize_t n = read(out[0], buffer, sizeof buffer);
      if (n <= 0) die("the server exited before listening");
      line.append(buffer, static_cast<std::size_t>(n));
    }
    close(out[0]);
    const auto colon = line.rfind(':', line.find("/api/ws"));
    if (line.rfind("listening on ws://", 0) != 0 || colon == std::string::npos) {
      die("unexpected first line: " + line);
    }
    port = static_cast<std::uint16_t>(std::atoi(line.c_str() + colon + 1));
  }

  void stop() {
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    pid = -1;
  }
};

// ---- the load generator ---------------------------------------------------------------------

std::string masked_text(std::string_view payload) {
  std::string f;
  f.reserve(payload.size() + 14);
  f.push_back(static_cast<char>(0x81));
  if (payload.size() < 126) {
    f.push_back(static_cast<char>(0x80 | payload.size()));
  } else if (payload.size() < 65536) {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(payload.size() >> 8));
    f.push_back(static_cast<char>(payload.size() & 0xff));
  } else {
    die("frame too large");
  }
  static std::uint32_t seed = 0x9e3779b9;
  seed = seed * 1664525 + 1013904223;  // a fresh mask per frame, as RFC 6455 asks
  unsigned char mask[4];
  std::memcpy(mask, &seed, 4);
  f.append(reinterpret_cast<const char*>(mask), 4);
  for (std::size_t i = 0; i < payload.size(); ++i) {
    f.push_back(static_cast<char>(static_cast<unsigned char>(payload[i]) ^ mask[i % 4]));
  }
  return f;
}

std::string masked_control(int opcode, std::string_view payload) {
  std::string f = masked_text(payload);
  f[0] = static_cast<char>(0x80 | opcode);
  return f;
}

struct connection {
  int fd = -1;
  bool upgraded = false;
  bool joined = false;
  std::string in;
  std::string out;
  std::uint64_t delivered = 0;
};

class load_generator {
 public:
  load_generator(const options& o, std::uint16_t port)
      : o_(o), port_(port), conns_(static_cast<std::size_t>(o.receivers) + 1) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    timer_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = timer_tag;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, timer_, &ev);
    ring_.assign(ring_size, 0);
  }

  // Connects every receiver and the sender (the last one), each joining the room.
  void connect_all() {
    std::size_t next = 0;
    std::size_t joined = 0;
    const std::int64_t deadline = now_ns() + 60'000'000'000;
    while (joined < conns_.size()) {
      while (next < conns_.size() && next < joined + 200) open(next++);
      wait_events(deadline, [&](std::size_t i) {
        const bool before = conns_[i].joined;
        on_ready(i);
        if (!before && conns_[i].joined) ++joined;
      });
      if (now_ns() > deadline) die("timed out connecting");
    }
  }

  struct capacity_result {
    double seconds = 0;
    std::uint64_t deliveries = 0;
    std::uint64_t sent = 0;
    double server_cpu = 0;
    double client_cpu = 0;
  };

  capacity_result capacity(pid_t server) {
    closed_loop_until(now_ns() + static_cast<std::int64_t>(o_.warmup_s * 1e9));
    capacity_result r;
    const std::uint64_t d0 = deliveries_;
    const std::uint64_t s0 = fully_delivered_;
    const double sc0 = cpu_seconds(server);
    const double cc0 = cpu_seconds(0);
    const std::int64_t t0 = now_ns();
    closed_loop_until(t0 + static_cast<std::int64_t>(o_.capacity_s * 1e9));
    const std::int64_t t1 = now_ns();
    r.seconds = static_cast<double>(t1 - t0) / 1e9;
    r.deliveries = deliveries_ - d0;
    r.sent = fully_delivered_ - s0;
    r.server_cpu = cpu_seconds(server) - sc0;
    r.client_cpu = cpu_seconds(0) - cc0;
    drain();
    return r;
  }

  struct latency_result {
    double seconds = 0;
    double rate = 0;  // messages/s scheduled
    std::uint64_t scheduled = 0;
    std::uint64_t deliveries = 0;
    double server_cpu = 0;
    double client_cpu = 0;
    std::int64_t max_send_lag_ns = 0;  // how late the load generator sent (it counts anyway)
  };

  latency_result latency(pid_t server, double rate) {
    latency_result r;
    r.rate = rate;
    const std::uint64_t d0 = deliveries_;
    const double sc0 = cpu_seconds(server);
    const double cc0 = cpu_seconds(0);
    const std::int64_t interval = static_cast<std::int64_t>(1e9 / rate);
    const std::int64_t t0 = now_ns() + 10'000'000;
    const auto total = static_cast<std::uint64_t>(o_.latency_s * rate);
    record_latency_ = true;
    std::uint64_t k = 0;
    while (k < total) {
      const std::int64_t due = t0 + static_cast<std::int64_t>(k) * interval;
      const std::int64_t now = now_ns();
      if (now >= due) {
        r.max_send_lag_ns = std::max(r.max_send_lag_ns, now - due);
        send_message(due);
        ++k;
        continue;
      }
      arm_timer(due);
      wait_events(now + 1'000'000'000, [&](std::size_t i) { on_ready(i); });
    }
    drain();
    record_latency_ = false;
    r.seconds = static_cast<double>(now_ns() - t0) / 1e9;
    r.scheduled = total;
    r.deliveries = deliveries_ - d0;
    r.server_cpu = cpu_seconds(server) - sc0;
    r.client_cpu = cpu_seconds(0) - cc0;
    return r;
  }

  const histogram& latencies() const { return latencies_; }
  std::uint64_t refusals() const { return refusals_; }

 private:
  static constexpr std::uint64_t timer_tag = ~std::uint64_t{0};
  static constexpr std::size_t ring_size = 1 << 16;

  std::size_t sender() const { return conns_.size() - 1; }
  std::uint64_t receivers() const { return conns_.size() - 1; }

  void open(std::size_t i) {
    connection& c = conns_[i];
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) die(std::string("socket: ") + std::strerror(errno));
    const int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port_);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 && errno != EINPROGRESS) {
      die(std::string("connect: ") + std::strerror(errno));
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
    ev.data.u64 = i;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &ev);
    const std::string who = i == sender() ? "sender" : "r" + std::to_string(i);
    c.out = "GET /api/ws?token=" + who +
            " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  }

  template <class F>
  void wait_events(std::int64_t deadline, F&& on) {
    const std::int64_t left_ms = std::max<std::int64_t>(0, (deadline - now_ns()) / 1'000'000);
    epoll_event events[512];
    const int n =
        epoll_wait(epoll_, events, 512, static_cast<int>(std::min<std::int64_t>(left_ms, 1000)));
    for (int k = 0; k < n; ++k) {
      if (events[k].data.u64 == timer_tag) {
        std::uint64_t expirations = 0;
        (void)!read(timer_, &expirations, sizeof expirations);
        continue;
      }
      on(static_cast<std::size_t>(events[k].data.u64));
    }
  }

  void arm_timer(std::int64_t at_ns) {
    itimerspec spec{};
    spec.it_value.tv_sec = at_ns / 1'000'000'000;
    spec.it_value.tv_nsec = at_ns % 1'000'000'000;
    timerfd_settime(timer_, TFD_TIMER_ABSTIME, &spec, nullptr);
  }

  void flush(connection& c) {
    while (!c.out.empty()) {
      const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOTCONN) return;
        die(std::string("send: ") + std::strerror(errno));
      }
      c.out.erase(0, static_cast<std::size_t>(n));
    }
  }

  void on_ready(std::size_t i) {
    connection& c = conns_[i];
    flush(c);
    static char buffer[1 << 16];
    for (;;) {
      const ssize_t n = ::recv(c.fd, buffer, sizeof buffer, 0);
      if (n > 0) {
        if (c.in.empty() && c.upgraded) {
          const std::size_t used = parse_frames(i, std::string_view(buffer, n));
          c.in.assign(buffer + used, static_cast<std::size_t>(n) - used);
        } else {
          c.in.append(buffer, static_cast<std::size_t>(n));
          consume(i);
        }
        if (static_cast<std::size_t>(n) < sizeof buffer) break;
        continue;
      }
      if (n == 0) die("the server closed connection " + std::to_string(i));
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      die(std::string("recv: ") + std::strerror(errno));
    }
  }

  void consume(std::size_t i) {
    connection& c = conns_[i];
    if (!c.upgraded) {
      const auto end = c.in.find("\r\n\r\n");
      if (end == std::string::npos) return;
      if (c.in.rfind("HTTP/1.1 101", 0) != 0) die("upgrade refused: " + c.in.substr(0, end));
      c.in.erase(0, end + 4);
      c.upgraded = true;
      c.out += masked_text(R"({"type":"joinRoom","payload":{"roomId":"fanout"},"messageId":"j"})");
      flush(c);
    }
    const std::size_t used = parse_frames(i, c.in);
    c.in.erase(0, used);
  }

  // Handles the complete frames at the front of `data`; returns the bytes used.
  std::size_t parse_frames(std::size_t i, std::string_view data) {
    connection& c = conns_[i];
    std::size_t at = 0;
    while (data.size() - at >= 2) {
      const auto* p = reinterpret_cast<const unsigned char*>(data.data() + at);
      std::size_t len = p[1] & 0x7f;
      std::size_t header = 2;
      if (len == 126) {
        if (data.size() - at < 4) break;
        len = (static_cast<std::size_t>(p[2]) << 8) | p[3];
        header = 4;
      } else if (len == 127) {
        if (data.size() - at < 10) break;
        len = 0;
        for (int k = 2; k < 10; ++k) len = (len << 8) | p[k];
        header = 10;
      }
      if (data.size() - at < header + len) break;
      on_frame(c, i, p[0] & 0x0f, data.substr(at + header, len));
      at += header + len;
    }
    return at;
  }

  void on_frame(connection& c, std::size_t i, int opcode, std::string_view payload) {
    if (opcode == 0x9) {
      c.out += masked_control(0xA, payload);
      flush(c);
      return;
    }
    if (opcode == 0x8) die("the server closed connection " + std::to_string(i));
    if (opcode != 0x1) return;
    if (!c.joined) {
      if (payload.find(R"("type":"messageReceived")") != std::string_view::npos) {
        c.joined = true;
      } else if (payload.find(R"("type":"error")") != std::string_view::npos) {
        die("joinRoom refused: " + std::string(payload));
      }
      return;
    }
    if (i == sender()) {
      if (payload.find(R"("type":"error")") != std::string_view::npos) ++refusals_;
      return;  // acknowledgements
    }
    // A delivered message: "content":"#<index> <scheduled ns> ..."
    const auto at = payload.find(R"("content":"#)");
    if (at == std::string_view::npos) return;
    const char* s = payload.data() + at + 12;
    char* end = nullptr;
    const std::uint64_t index = std::strtoull(s, &end, 10);
    const std::int64_t scheduled = std::strtoll(end + 1, nullptr, 10);
    ++c.delivered;
    ++deliveries_;
    if (record_latency_) latencies_.add(now_ns() - scheduled);
    std::uint32_t& count = ring_[index % ring_size];
    if (++count == receivers()) {
      count = 0;
      // Deliveries to one receiver are in order, but the last receiver to get message k may
      // get it after the last one of k+1: count every completed message.
      ++fully_delivered_;
    }
  }

  void send_message(std::int64_t scheduled_ns) {
    connection& s = conns_[sender()];
    std::string content = "#" + std::to_string(sent_) + " " + std::to_string(scheduled_ns) + " ";
    if (static_cast<int>(content.size()) < o_.content_bytes) {
      content.append(static_cast<std::size_t>(o_.content_bytes) - content.size(), 'x');
    }
    s.out += masked_text(R"({"type":"message","payload":{"roomId":"fanout","content":")" + content +
                         R"("},"messageId":"m)" + std::to_string(sent_) + "\"}");
    ++sent_;
    flush(s);
  }

  // Keeps --window messages not yet delivered to every receiver.
  void closed_loop_until(std::int64_t end) {
    while (now_ns() < end) {
      while (sent_ - fully_delivered_ < static_cast<std::uint64_t>(o_.window)) {
        send_message(now_ns());
      }
      wait_events(end, [&](std::size_t i) { on_ready(i); });
    }
  }

  // Until everything sent was delivered to every receiver.
  void drain() {
    const std::int64_t deadline = now_ns() + 30'000'000'000;
    while (fully_delivered_ < sent_) {
      if (now_ns() > deadline) die("deliveries did not complete within 30 s");
      wait_events(deadline, [&](std::size_t i) { on_ready(i); });
    }
  }

  const options& o_;
  std::uint16_t port_;
  int epoll_ = -1;
  int timer_ = -1;
  std::vector<connection> conns_;
  std::vector<std::uint32_t> ring_;
  std::uint64_t sent_ = 0;
  std::uint64_t fully_delivered_ = 0;
  std::uint64_t deliveries_ = 0;
  std::uint64_t refusals_ = 0;
  bool record_latency_ = false;
  histogram latencies_;
};

double ms(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }

// The first three fields of /proc/loadavg: on a shared machine the numbers mean little without.
std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  if (!parse_args(argc, argv, o)) {
    usage();
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);

  server_process server;
  server.start(o);
  std::printf("roomwire-server pid %d on port %u, --threads %d; %d receivers + 1 sender\n",
              static_cast<int>(server.pid), static_cast<unsigned>(server.port), o.server_threads,
              o.receivers);
  std::printf("load average before: %s\n", load_average().c_str());
  load_generator gen(o, server.port);
  gen.connect_all();

  const auto cap = gen.capacity(server.pid);
  const double deliveries_per_s = static_cast<double>(cap.deliveries) / cap.seconds;
  const double messages_per_s = deliveries_per_s / o.receivers;
  const double cap_client_core = cap.client_cpu / cap.seconds;
  std::printf(
      "\ncapacity (window %d, %.1f s): %.0f deliveries/s (%.1f messages/s sent, each to %d)\n"
      "  CPU: server %.0f%% of a core, load generator %.0f%%%s\n",
      o.window, cap.seconds, deliveries_per_s, messages_per_s, o.receivers,
      100 * cap.server_cpu / cap.seconds, 100 * cap_client_core,
      cap_client_core >= 0.9 ? "  ** CLIENT-BOUND: the server's capacity is higher **" : "");

  const double rate = messages_per_s * o.load;
  const auto lat = gen.latency(server.pid, rate);
  const histogram& h = gen.latencies();
  const double lat_client_core = lat.client_cpu / lat.seconds;
  std::printf(
      "\nlatency at %.0f%% of capacity: %.1f messages/s scheduled (%.0f deliveries/s), %.1f s,"
      " %" PRIu64 " deliveries (expected %" PRIu64
      ")\n"
      "  from the scheduled send time: p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms\n"
      "  latest send behind schedule: %.3f ms\n"
      "  CPU: server %.0f%% of a core, load generator %.0f%%%s\n",
      100 * o.load, rate, rate * o.receivers, lat.seconds, lat.deliveries,
      lat.scheduled * static_cast<std::uint64_t>(o.receivers), ms(h.quantile(0.50)),
      ms(h.quantile(0.90)), ms(h.quantile(0.99)), ms(h.max()), ms(lat.max_send_lag_ns),
      100 * lat.server_cpu / lat.seconds, 100 * lat_client_core,
      lat_client_core >= 0.9 ? "  ** CLIENT-BOUND **" : "");
  if (gen.refusals() > 0) {
    std::printf("\n** %" PRIu64 " sends were refused (error): the numbers are not valid **\n",
                gen.refusals());
  }
  std::printf("load average after: %s\n", load_average().c_str());
  server.stop();
  return gen.refusals() > 0 ? 1 : 0;
}
