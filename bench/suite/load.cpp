// The suite's load generator (docs/benchmarks.md, "Suite against peers"): the fan-out load
// generator of bench/fanout generalised to every scenario of the suite and to every peer.
//
//   roomwire_bench_load --scenario fanout|chat|ack|idle [options] [--csv FILE --tag PEER,REP]
//                       -- SERVER-COMMAND [ARGS...]
//
// It starts the server command itself (a process of its own; its first line on standard output
// must be "listening on ws://HOST:PORT/PATH"), drives it from one thread on epoll speaking
// RFC 6455 (masked frames, no websocketpp) and stops it at the end. With --socketio the same
// JSON envelopes travel inside Engine.IO 4 / Socket.IO 5 packets (42["m",<envelope>]).
//
// Latency is always taken from the *scheduled* send time carried in the message (content
// "#<index> <ns>" for deliveries, messageId "@<ns>" for acknowledgements): a send the load
// generator made late still counts against the server (no coordinated omission). CPU time of
// both processes comes from /proc/<pid>/stat; a phase whose load generator used >= 90% of a core
// is flagged client-bound. The ack scenario also prints the interrupts one CPU sent another per
// acknowledgement (system-wide, from /proc/interrupts): on this VM a server whose reply comes late
// pays for waking the load generator's vCPU (docs/benchmarks.md, "The levers, measured").
//
// Several nodes (fanout only): with --nodes K it starts K copies of the server command (each
// argument "{node}" becomes the node's index 0..K-1, e.g. for --node n{node}), connects receiver
// i to node i % K and the sender to node 0, and sums the CPU of the K processes as "server".
// --also-measure-pid PID reports the CPU of one more process (e.g. the Redis server) on its own.
// Without these options the output is that of a single server.

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
#include <cctype>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

extern char** environ;

namespace {

std::int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void kill_servers();

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "roomwire_bench_load: %s\n", what.c_str());
  kill_servers();  // none left behind
  std::exit(1);
}

std::string read_small(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// utime + stime of a process, in seconds.
double cpu_seconds(pid_t pid) {
  const std::string text =
      read_small(pid == 0 ? std::string("/proc/self/stat") : "/proc/" + std::to_string(pid) + "/stat");
  const auto close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream in(text.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int k = 3; k <= 15 && (in >> field); ++k) {
    if (k == 14) utime = std::strtod(field.c_str(), nullptr);
    if (k == 15) stime = std::strtod(field.c_str(), nullptr);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// VmRSS of a process, in KiB.
long rss_kib(pid_t pid) {
  const std::string text = read_small("/proc/" + std::to_string(pid) + "/status");
  const auto at = text.find("VmRSS:");
  return at == std::string::npos ? 0 : std::strtol(text.c_str() + at + 6, nullptr, 10);
}

// Interrupts one CPU sent another, all CPUs summed: function calls (CAL, which include the
// scheduler's remote wake-ups) and rescheduling (RES). On this VM a wake-up of a sleeping vCPU is
// one of these, and each one passes through the hypervisor.
std::uint64_t cross_cpu_interrupts() {
  std::ifstream in("/proc/interrupts");
  std::string line;
  std::uint64_t sum = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string label;
    fields >> label;
    if (label != "CAL:" && label != "RES:") continue;
    std::string count;
    while (fields >> count && !count.empty() && std::isdigit(static_cast<unsigned char>(count[0]))) {
      sum += std::strtoull(count.c_str(), nullptr, 10);
    }
  }
  return sum;
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// Log buckets: values below 32 ns exactly; above, 32 sub-buckets per power of two (<= 3.1%).
class histogram {
 public:
  void clear() { *this = histogram(); }
  void add(std::int64_t v) {
    if (v < 0) v = 0;
    ++buckets_[index(static_cast<std::uint64_t>(v))];
    ++count_;
    max_ = std::max(max_, v);
  }
  std::uint64_t count() const { return count_; }
  std::int64_t max() const { return max_; }
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
    const int e = 63 - __builtin_clzll(v);
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

std::vector<double> parse_list(const char* text) {
  std::vector<double> out;
  std::string s(text);
  std::size_t at = 0;
  while (at <= s.size()) {
    const auto comma = s.find(',', at);
    const std::string item = s.substr(at, comma - at);
    if (!item.empty()) out.push_back(std::atof(item.c_str()));
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return out;
}

struct options {
  std::string scenario = "fanout";
  int connections = 1000;       // fanout: receivers; ack, idle: connections
  int rooms = 100;              // chat
  int members = 10;             // chat
  int window = 64;              // fanout capacity: messages not yet fully delivered
  double warmup_s = 1;
  double capacity_s = 5;
  double step_s = 5;            // each latency step
  std::vector<double> loads{0.5};  // fanout: fractions of the measured capacity
  std::vector<double> rates{2500, 5000, 10000};  // ack: messages/s; chat: the first step
  double rate_factor = 1.5;     // chat: the next step's rate
  int max_steps = 12;           // chat
  int refine = 0;               // chat: bisection steps after the grid
  double p99_limit_ms = 50;     // chat
  double settle_s = 2;          // idle
  int content_bytes = 64;
  double slow_kib_per_s = 2048;  // priority: the slow reader's bandwidth
  double flood_rate = 4000;      // priority: priority-4 messages/s
  int slow_rcvbuf = 64 * 1024;   // priority: the slow reader's SO_RCVBUF
  bool socketio = false;
  int nodes = 0;                // fanout: 0 = one server; K = K copies of the command
  pid_t also_measure_pid = 0;   // its CPU is reported apart (not part of "server")
  std::string csv;
  std::string tag = "peer,0";
  std::vector<std::string> command;
};

void usage() {
  std::fputs(
      "usage: roomwire_bench_load --scenario fanout|chat|ack|idle|priority [--connections N]\n"
      "  [--rooms 100 --members 10] [--window 64] [--warmup-s 1] [--capacity-s 5] [--step-s 5]\n"
      "  [--loads 0.25,0.5] [--rates 2500,5000,10000] [--rate-factor 1.5] [--max-steps 12]\n"
      "  [--refine 0]  (chat: geometric bisection steps between the last pass and first fail)\n"
      "  [--p99-limit-ms 50] [--settle-s 2] [--content-bytes 64] [--socketio]\n"
      "  [--slow-kib-per-s 2048 --flood-rate 4000 --slow-rcvbuf 65536]  (priority)\n"
      "  [--nodes K] [--also-measure-pid PID]  (fanout; \"{node}\" in ARGS: the node index)\n"
      "  [--csv FILE --tag PEER,REP] -- SERVER-COMMAND [ARGS...]\n",
      stderr);
}

bool parse_args(int argc, char** argv, options& o) {
  int i = 1;
  for (; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--") {
      ++i;
      break;
    }
    if (flag == "--socketio") {
      o.socketio = true;
      continue;
    }
    if (i + 1 >= argc) return false;
    const char* v = argv[++i];
    if (flag == "--scenario") o.scenario = v;
    else if (flag == "--connections") o.connections = std::atoi(v);
    else if (flag == "--rooms") o.rooms = std::atoi(v);
    else if (flag == "--members") o.members = std::atoi(v);
    else if (flag == "--window") o.window = std::atoi(v);
    else if (flag == "--warmup-s") o.warmup_s = std::atof(v);
    else if (flag == "--capacity-s") o.capacity_s = std::atof(v);
    else if (flag == "--step-s") o.step_s = std::atof(v);
    else if (flag == "--loads") o.loads = parse_list(v);
    else if (flag == "--rates") o.rates = parse_list(v);
    else if (flag == "--rate-factor") o.rate_factor = std::atof(v);
    else if (flag == "--max-steps") o.max_steps = std::atoi(v);
    else if (flag == "--refine") o.refine = std::atoi(v);
    else if (flag == "--p99-limit-ms") o.p99_limit_ms = std::atof(v);
    else if (flag == "--settle-s") o.settle_s = std::atof(v);
    else if (flag == "--content-bytes") o.content_bytes = std::atoi(v);
    else if (flag == "--slow-kib-per-s") o.slow_kib_per_s = std::atof(v);
    else if (flag == "--flood-rate") o.flood_rate = std::atof(v);
    else if (flag == "--slow-rcvbuf") o.slow_rcvbuf = std::atoi(v);
    else if (flag == "--csv") o.csv = v;
    else if (flag == "--tag") o.tag = v;
    else if (flag == "--nodes") o.nodes = std::atoi(v);
    else if (flag == "--also-measure-pid") o.also_measure_pid = static_cast<pid_t>(std::atoi(v));
    else return false;
  }
  for (; i < argc; ++i) o.command.emplace_back(argv[i]);
  return !o.command.empty() && o.connections > 0 && o.rooms > 0 && o.members > 1 &&
         o.window > 0 && !o.rates.empty() && !o.loads.empty() && o.nodes >= 0 &&
         (o.nodes <= 1 || o.scenario == "fanout") && o.also_measure_pid >= 0;
}

// ---- the server process ---------------------------------------------------------------------

struct server_process {
  pid_t pid = -1;
  std::uint16_t port = 0;
  std::string path;

  void start(const std::vector<std::string>& command) {
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) die("pipe2 failed");
    std::vector<std::string> args = command;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    if (posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) {
      die("cannot start " + command[0]);
    }
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    std::string line;
    const std::int64_t deadline = now_ns() + 20'000'000'000;
    while (line.find('\n') == std::string::npos) {
      pollfd p{out[0], POLLIN, 0};
      const int left = static_cast<int>((deadline - now_ns()) / 1'000'000);
      if (left <= 0 || poll(&p, 1, left) <= 0) die("the server did not say where it listens");
      char buffer[256];
      const ssize_t n = read(out[0], buffer, sizeof buffer);
      if (n <= 0) die("the server exited before listening");
      line.append(buffer, static_cast<std::size_t>(n));
    }
    close(out[0]);  // peers print nothing more on standard output
    line.erase(line.find('\n'));
    constexpr std::string_view prefix = "listening on ws://";
    if (line.rfind(prefix, 0) != 0) die("unexpected first line: " + line);
    const auto slash = line.find('/', prefix.size());
    const auto colon = line.rfind(':', slash);
    if (slash == std::string::npos || colon == std::string::npos) die("bad first line: " + line);
    port = static_cast<std::uint16_t>(std::atoi(line.c_str() + colon + 1));
    path = line.substr(slash);
  }

  void stop() {
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    int status = 0;
    for (int k = 0; k < 200; ++k) {
      if (waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return;
      }
      usleep(50'000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    pid = -1;
  }
};

std::vector<server_process>* g_servers = nullptr;

void kill_servers() {
  if (!g_servers) return;
  for (auto& s : *g_servers) {
    if (s.pid > 0) {
      kill(s.pid, SIGKILL);
      waitpid(s.pid, nullptr, 0);
      s.pid = -1;
    }
  }
}

void on_signal(int) {
  if (g_servers) {
    for (const auto& s : *g_servers) {
      if (s.pid > 0) kill(s.pid, SIGKILL);
    }
  }
  _exit(130);
}

void stop_servers(std::vector<server_process>& servers) {
  if (servers.size() > 1) {
    for (const auto& s : servers) {
      if (s.pid > 0) kill(s.pid, SIGTERM);  // all stop at once; stop() then waits for each
    }
  }
  for (auto& s : servers) s.stop();
}

// Node k's command: every argument "{node}" replaced by k (only with --nodes).
std::vector<std::string> node_command(const options& o, int k) {
  std::vector<std::string> command = o.command;
  if (o.nodes == 0) return command;
  for (auto& a : command) {
    for (auto at = a.find("{node}"); at != std::string::npos; at = a.find("{node}")) {
      a.replace(at, 6, std::to_string(k));
    }
  }
  return command;
}

// ---- frames ---------------------------------------------------------------------------------

void append_masked(std::string& f, int opcode, std::string_view payload) {
  f.push_back(static_cast<char>(0x80 | opcode));
  const std::size_t n = payload.size();
  if (n < 126) {
    f.push_back(static_cast<char>(0x80 | n));
  } else if (n < 65536) {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xff));
  } else {
    f.push_back(static_cast<char>(0x80 | 127));
    for (int k = 7; k >= 0; --k) f.push_back(static_cast<char>((n >> (8 * k)) & 0xff));
  }
  static std::uint32_t seed = 0x9e3779b9;
  seed = seed * 1664525 + 1013904223;  // a fresh mask per frame, as RFC 6455 asks
  unsigned char mask[4];
  std::memcpy(mask, &seed, 4);
  f.append(reinterpret_cast<const char*>(mask), 4);
  const std::size_t at = f.size();
  f.append(payload);
  for (std::size_t i = 0; i < n; ++i) {
    f[at + i] = static_cast<char>(static_cast<unsigned char>(f[at + i]) ^ mask[i % 4]);
  }
}

struct connection {
  int fd = -1;
  int room = 0;
  bool upgraded = false;
  bool slow = false;    // priority scenario: read at a limited bandwidth (see pump_slow)
  bool open = false;    // Socket.IO: namespace connected (plain WebSocket: at upgrade)
  bool joined = false;
  std::size_t node = 0;  // index into the servers (--nodes)
  std::string in;
  std::string out;
};

// ---- the load generator ---------------------------------------------------------------------

class load_generator {
 public:
  load_generator(const options& o, const std::vector<server_process>& servers)
      : o_(o), servers_(servers) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    timer_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = timer_tag;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, timer_, &ev);
    ring_.assign(ring_size, 0);
  }

  std::size_t size() const { return conns_.size(); }

  // Opens connections [from, to), each joining `room_of(i)`; waits until all are joined.
  template <class RoomOf>
  void connect(std::size_t from, std::size_t to, RoomOf room_of) {
    if (conns_.size() < to) conns_.resize(to);
    std::size_t next = from;
    std::size_t joined = 0;
    const std::int64_t deadline = now_ns() + 120'000'000'000;
    while (joined < to - from) {
      while (next < to && next < from + joined + 256) {
        conns_[next].room = room_of(next);
        open(next++);
      }
      wait_events(deadline, [&](std::size_t i) { on_ready(i); });
      // Counted by scanning: the slow reader of the priority scenario joins inside pump_slow.
      joined = static_cast<std::size_t>(
          std::count_if(conns_.begin() + static_cast<std::ptrdiff_t>(from),
                        conns_.begin() + static_cast<std::ptrdiff_t>(next),
                        [](const connection& c) { return c.joined; }));
      if (now_ns() > deadline) die("timed out connecting");
    }
  }

  void set_recipients(std::uint64_t per_message) { recipients_ = per_message; }

  // Connections [0, count) will go to node node_of(i) (default: node 0).
  template <class NodeOf>
  void assign_nodes(std::size_t count, NodeOf node_of) {
    if (conns_.size() < count) conns_.resize(count);
    for (std::size_t i = 0; i < count; ++i) conns_[i].node = node_of(i);
  }

  // CPU seconds of the server processes, summed; of each one; of --also-measure-pid.
  double server_cpu() const {
    double sum = 0;
    for (const auto& s : servers_) sum += cpu_seconds(s.pid);
    return sum;
  }
  std::vector<double> node_cpu() const {
    std::vector<double> out;
    for (const auto& s : servers_) out.push_back(cpu_seconds(s.pid));
    return out;
  }
  double also_cpu() const { return o_.also_measure_pid > 0 ? cpu_seconds(o_.also_measure_pid) : 0; }

  // Closes every connection (the server's graceful stop then has no session left to drain).
  void close_all() {
    for (auto& c : conns_) {
      if (c.fd >= 0) ::close(c.fd);
      c.fd = -1;
    }
  }

  // Services events (pings) for a while.
  void idle_for(double seconds) {
    const std::int64_t end = now_ns() + static_cast<std::int64_t>(seconds * 1e9);
    while (now_ns() < end) wait_events(end, [&](std::size_t i) { on_ready(i); });
  }

  struct phase {
    double seconds = 0;
    double offered = 0;  // messages/s scheduled
    std::uint64_t sent = 0;
    std::uint64_t deliveries = 0;
    std::uint64_t acks = 0;
    double server_cpu = 0;
    double client_cpu = 0;
    std::int64_t max_send_lag_ns = 0;
    bool complete = true;
    std::vector<double> node_cpu;  // per server process (--nodes)
    double also_cpu = 0;           // --also-measure-pid
    std::uint64_t cross_cpu_interrupts = 0;  // open_loop: system-wide, see cross_cpu_interrupts()
  };

  // A closed loop from one sender (the last connection): at most `window` messages not yet
  // delivered to every recipient.
  phase capacity(double warmup_s, double seconds) {
    closed_loop_until(now_ns() + static_cast<std::int64_t>(warmup_s * 1e9));
    phase r;
    const std::uint64_t d0 = deliveries_, s0 = fully_delivered_;
    const double sc0 = server_cpu(), cc0 = cpu_seconds(0), ac0 = also_cpu();
    const auto nc0 = node_cpu();
    const std::int64_t t0 = now_ns();
    closed_loop_until(t0 + static_cast<std::int64_t>(seconds * 1e9));
    r.seconds = static_cast<double>(now_ns() - t0) / 1e9;
    r.deliveries = deliveries_ - d0;
    r.sent = fully_delivered_ - s0;
    r.server_cpu = server_cpu() - sc0;
    r.client_cpu = cpu_seconds(0) - cc0;
    r.also_cpu = also_cpu() - ac0;
    r.node_cpu = node_cpu();
    for (std::size_t j = 0; j < nc0.size(); ++j) r.node_cpu[j] -= nc0[j];
    r.complete = drain();
    return r;
  }

  // Sends on a fixed schedule at `rate` messages/s for `seconds`; message k goes from
  // senders[k % senders.size()]. Latency of deliveries (or of acks) into latencies().
  phase open_loop(double rate, double seconds, const std::vector<std::size_t>& senders) {
    phase r;
    r.offered = rate;
    latencies_.clear();
    const std::uint64_t d0 = deliveries_, a0 = acks_;
    const double sc0 = server_cpu(), cc0 = cpu_seconds(0), ac0 = also_cpu();
    const auto nc0 = node_cpu();
    const std::uint64_t ipi0 = cross_cpu_interrupts();
    const double interval = 1e9 / rate;
    const std::int64_t t0 = now_ns() + 10'000'000;
    const auto total = static_cast<std::uint64_t>(seconds * rate);
    record_latency_ = true;
    std::uint64_t k = 0;
    while (k < total) {
      const std::int64_t due = t0 + static_cast<std::int64_t>(static_cast<double>(k) * interval);
      const std::int64_t now = now_ns();
      if (now >= due) {
        r.max_send_lag_ns = std::max(r.max_send_lag_ns, now - due);
        send_message(senders[k % senders.size()], due);
        ++k;
        continue;
      }
      arm_timer(due);
      wait_events(now + 1'000'000'000, [&](std::size_t i) { on_ready(i); });
    }
    r.complete = drain();
    record_latency_ = false;
    r.seconds = static_cast<double>(now_ns() - t0) / 1e9;
    r.sent = total;
    r.deliveries = deliveries_ - d0;
    r.acks = acks_ - a0;
    r.cross_cpu_interrupts = cross_cpu_interrupts() - ipi0;
    r.server_cpu = server_cpu() - sc0;
    r.client_cpu = cpu_seconds(0) - cc0;
    r.also_cpu = also_cpu() - ac0;
    r.node_cpu = node_cpu();
    for (std::size_t j = 0; j < nc0.size(); ++j) r.node_cpu[j] -= nc0[j];
    return r;
  }

  const histogram& latencies() const { return latencies_; }
  // Those of probe_under_flood's probes scheduled from its second second on.
  const histogram& settled_latencies() const { return settled_latencies_; }
  std::uint64_t refusals() const { return refusals_; }
  // Pings the server sent (and were answered): a roomwire server started with --pace-readers
  // pings connections it paces or probes (docs/protocol.md §4).
  std::uint64_t pings() const { return pings_; }

 private:
  static constexpr std::uint64_t timer_tag = ~std::uint64_t{0};
  static constexpr std::size_t ring_size = 1 << 16;

  std::string wrap(std::string_view json) const {
    if (!o_.socketio) return std::string(json);
    return "42[\"m\"," + std::string(json) + "]";
  }

  void open(std::size_t i) {
    connection& c = conns_[i];
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) die(std::string("socket: ") + std::strerror(errno));
    const int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (c.slow) {
      setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &o_.slow_rcvbuf, sizeof o_.slow_rcvbuf);
    }
    sockaddr_in to{};
    to.sin_family = AF_INET;
    const server_process& server = servers_[c.node];
    to.sin_port = htons(server.port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 && errno != EINPROGRESS) {
      die(std::string("connect: ") + std::strerror(errno));
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
    ev.data.u64 = i;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &ev);
    const char* sep = server.path.find('?') == std::string::npos ? "?" : "&";
    c.out = "GET " + server.path + sep + "token=u" + std::to_string(i) +
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
    if (slow_ != npos) pump_slow();
  }

  // The slow reader reads at most slow_bytes_per_s_ (from its joining on); it is polled after
  // every wait (at least every millisecond while one is set).
  void pump_slow() {
    connection& c = conns_[slow_];
    const std::int64_t now = now_ns();
    if (slow_last_ns_ == 0) slow_last_ns_ = now;
    slow_budget_ += static_cast<double>(now - slow_last_ns_) * slow_bytes_per_s_ / 1e9;
    slow_budget_ = std::min(slow_budget_, 65536.0);
    slow_last_ns_ = now;
    static char buffer[1 << 16];
    while (slow_budget_ >= 1024) {
      const ssize_t n = ::recv(c.fd, buffer, static_cast<std::size_t>(slow_budget_), 0);
      if (n <= 0) break;
      slow_budget_ -= static_cast<double>(n);
      if (c.in.empty() && c.upgraded) {
        const std::size_t used = parse_frames(slow_, std::string_view(buffer, n));
        c.in.assign(buffer + used, static_cast<std::size_t>(n) - used);
      } else {
        c.in.append(buffer, static_cast<std::size_t>(n));
        consume(slow_);
      }
    }
  }

  void arm_timer(std::int64_t at_ns) {
    itimerspec spec{};
    spec.it_value.tv_sec = at_ns / 1'000'000'000;
    spec.it_value.tv_nsec = at_ns % 1'000'000'000;
    timerfd_settime(timer_, TFD_TIMER_ABSTIME, &spec, nullptr);
  }

  void flush(connection& c) {
    std::size_t done = 0;
    while (done < c.out.size()) {
      const ssize_t n = ::send(c.fd, c.out.data() + done, c.out.size() - done, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOTCONN) break;
        die(std::string("send: ") + std::strerror(errno));
      }
      done += static_cast<std::size_t>(n);
    }
    c.out.erase(0, done);
  }

  void send_text(connection& c, std::string_view json) {
    append_masked(c.out, 0x1, wrap(json));
    flush(c);
  }

  void on_ready(std::size_t i) {
    connection& c = conns_[i];
    flush(c);
    if (c.slow && c.joined) return;  // pump_slow reads it
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

  void join(connection& c) {
    send_text(c, R"({"type":"joinRoom","payload":{"roomId":"r)" + std::to_string(c.room) +
                     R"("},"messageId":"j"})");
  }

  void consume(std::size_t i) {
    connection& c = conns_[i];
    if (!c.upgraded) {
      const auto end = c.in.find("\r\n\r\n");
      if (end == std::string::npos) return;
      if (c.in.rfind("HTTP/1.1 101", 0) != 0) die("upgrade refused: " + c.in.substr(0, end));
      c.in.erase(0, end + 4);
      c.upgraded = true;
      if (!o_.socketio) {
        c.open = true;
        join(c);
      }
    }
    const std::size_t used = parse_frames(i, c.in);
    c.in.erase(0, used);
  }

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
      ++pings_;
      append_masked(c.out, 0xA, payload);
      flush(c);
      return;
    }
    if (opcode == 0x8) die("the server closed connection " + std::to_string(i));
    if (opcode != 0x1) return;
    if (o_.socketio) {
      // Engine.IO: 0 open, 2 ping (answer 3); Socket.IO: 40 namespace connected, 42 event.
      if (payload.empty()) return;
      if (payload[0] == '0') {
        append_masked(c.out, 0x1, "40");
        flush(c);
        return;
      }
      if (payload[0] == '2') {
        append_masked(c.out, 0x1, "3");
        flush(c);
        return;
      }
      if (payload.substr(0, 2) == "40" && !c.open) {
        c.open = true;
        join(c);
        return;
      }
      if (payload.substr(0, 2) != "42") return;
    }
    if (!c.joined) {
      if (payload.find(R"("type":"messageReceived")") != std::string_view::npos) {
        c.joined = true;
      } else if (payload.find(R"("type":"error")") != std::string_view::npos) {
        die("joinRoom refused: " + std::string(payload));
      }
      return;
    }
    // A delivered message: "content":"#<index> <scheduled ns> ..."
    if (const auto at = payload.find(R"("content":"#)"); at != std::string_view::npos) {
      const char* s = payload.data() + at + 12;
      char* end = nullptr;
      const std::uint64_t index = std::strtoull(s, &end, 10);
      const std::int64_t scheduled = std::strtoll(end + 1, &end, 10);
      ++deliveries_;
      if (record_latency_ && !ack_latency_ && (slow_ == npos || (i == slow_ && end[0] == ' ' && end[1] == '!'))) {
        latencies_.add(now_ns() - scheduled);
        if (scheduled >= settled_from_ns_) settled_latencies_.add(now_ns() - scheduled);
      }
      std::uint32_t& count = ring_[index % ring_size];
      if (++count == recipients_) {
        count = 0;
        ++fully_delivered_;
      }
      return;
    }
    if (payload.find(R"("type":"error")") != std::string_view::npos) {
      ++refusals_;
      ++acks_;
      return;
    }
    if (const auto at = payload.find(R"("messageId":"@)"); at != std::string_view::npos) {
      ++acks_;
      if (record_latency_ && ack_latency_) {
        latencies_.add(now_ns() - std::strtoll(payload.data() + at + 14, nullptr, 10));
      }
    }
  }

 public:
  bool ack_latency_ = false;  // ack scenario: latency of acks, not of deliveries

  void send_message(std::size_t from, std::int64_t scheduled_ns, int priority = -1,
                    bool probe = false) {
    connection& s = conns_[from];
    std::string content = "#" + std::to_string(sent_) + " " + std::to_string(scheduled_ns) +
                          (probe ? " !" : " ");
    if (static_cast<int>(content.size()) < o_.content_bytes) {
      content.append(static_cast<std::size_t>(o_.content_bytes) - content.size(), 'x');
    }
    send_text(s, R"({"type":"message","payload":{"roomId":"r)" + std::to_string(s.room) +
                     R"(","content":")" + content + R"("},"messageId":"@)" +
                     std::to_string(scheduled_ns) + "_" + std::to_string(sent_) + "\"" +
                     (priority >= 0 ? ",\"priority\":" + std::to_string(priority) : "") + "}");
    ++sent_;
    expected_deliveries_ += recipients_;
  }

 private:
  void closed_loop_until(std::int64_t end) {
    while (now_ns() < end) {
      while (sent_ - fully_delivered_ < static_cast<std::uint64_t>(o_.window)) {
        send_message(conns_.size() - 1, now_ns());
      }
      wait_events(end, [&](std::size_t i) { on_ready(i); });
    }
  }

  // Until every message sent was delivered to every recipient and acknowledged; false when
  // that did not happen within 30 s.
  bool drain() {
    const std::int64_t deadline = now_ns() + (slow_ != npos ? 120'000'000'000 : 30'000'000'000);
    while (deliveries_ < expected_deliveries_ || acks_ < sent_) {
      if (now_ns() > deadline) {
        std::fprintf(stderr, "  ** not drained: %" PRIu64 " of %" PRIu64 " deliveries, %" PRIu64
                     " of %" PRIu64 " acks **\n", deliveries_, expected_deliveries_, acks_, sent_);
        deliveries_ = expected_deliveries_;
        acks_ = sent_;
        fully_delivered_ = sent_;
        std::fill(ring_.begin(), ring_.end(), 0);
        return false;
      }
      if (slow_ != npos) arm_timer(now_ns() + 1'000'000);
      wait_events(deadline, [&](std::size_t i) { on_ready(i); });
    }
    return true;
  }

  const options& o_;
  const std::vector<server_process>& servers_;
  int epoll_ = -1;
  int timer_ = -1;
  std::vector<connection> conns_;
  std::vector<std::uint32_t> ring_;
  std::uint64_t recipients_ = 1;
  std::uint64_t sent_ = 0;
  std::uint64_t fully_delivered_ = 0;
  std::uint64_t deliveries_ = 0;
  std::uint64_t expected_deliveries_ = 0;
  std::uint64_t acks_ = 0;
  std::uint64_t refusals_ = 0;
  std::uint64_t pings_ = 0;
  bool record_latency_ = false;
  histogram latencies_;
  histogram settled_latencies_;
  std::int64_t settled_from_ns_ = std::numeric_limits<std::int64_t>::max();

 public:
  static constexpr std::size_t npos = ~std::size_t{0};
  std::size_t slow_ = npos;
  double slow_bytes_per_s_ = 0;
  double slow_budget_ = 0;
  std::int64_t slow_last_ns_ = 0;

  void mark_slow(std::size_t i, double bytes_per_s) {
    if (conns_.size() <= i) conns_.resize(i + 1);
    conns_[i].slow = true;
    slow_ = i;
    slow_bytes_per_s_ = bytes_per_s;
  }

  // Probes (priority 0, from `probe_from`) at probe_rate, and a flood (priority 4, from
  // `flood_from`) at flood_rate (0: none), for `seconds`; latency of probes at the slow reader.
  phase probe_under_flood(std::size_t probe_from, double probe_rate, std::size_t flood_from,
                          double flood_rate, double seconds) {
    phase r;
    r.offered = probe_rate;
    latencies_.clear();
    const double sc0 = server_cpu(), cc0 = cpu_seconds(0);
    const std::int64_t t0 = now_ns() + 10'000'000;
    const std::int64_t end = t0 + static_cast<std::int64_t>(seconds * 1e9);
    settled_latencies_.clear();
    settled_from_ns_ = t0 + 1'000'000'000;
    std::uint64_t kp = 0, kf = 0;
    record_latency_ = true;
    for (;;) {
      const std::int64_t due_p = t0 + static_cast<std::int64_t>(static_cast<double>(kp) * 1e9 / probe_rate);
      const std::int64_t due_f = flood_rate > 0
          ? t0 + static_cast<std::int64_t>(static_cast<double>(kf) * 1e9 / flood_rate)
          : end;
      const std::int64_t due = std::min(due_p, due_f);
      if (due >= end) break;
      const std::int64_t now = now_ns();
      if (now >= due) {
        r.max_send_lag_ns = std::max(r.max_send_lag_ns, now - due);
        if (due == due_p) {
          send_message(probe_from, due, 0, true);
          ++kp;
        } else {
          send_message(flood_from, due, 4, false);
          ++kf;
        }
        continue;
      }
      arm_timer(std::min(due, now + 1'000'000));
      wait_events(now + 1'000'000'000, [&](std::size_t i) { on_ready(i); });
    }
    r.complete = drain();
    record_latency_ = false;
    r.seconds = static_cast<double>(now_ns() - t0) / 1e9;
    r.sent = kp + kf;
    r.server_cpu = server_cpu() - sc0;
    r.client_cpu = cpu_seconds(0) - cc0;
    return r;
  }
};

double ms(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }

// CSV: peer,rep,scenario,phase,offered_per_s,delivered_per_s,p50_ms,p90_ms,p99_ms,max_ms,
//      server_core,client_core,server_us_per_msg,rss_kib_per_conn,ok
// (server_core: all --nodes summed); with --also-measure-pid one more column, also_core.
struct csv_writer {
  const options& o;
  void row(const std::string& phase, double offered, double delivered, const histogram* h,
           double server_core, double client_core, double us_per_msg, double kib_per_conn,
           bool ok, double also_core = 0) const {
    char line[512];
    std::snprintf(line, sizeof line, "%s,%s,%s,%.1f,%.1f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%d",
                  o.tag.c_str(), o.scenario.c_str(), phase.c_str(), offered, delivered,
                  h ? ms(h->quantile(0.5)) : 0.0, h ? ms(h->quantile(0.9)) : 0.0,
                  h ? ms(h->quantile(0.99)) : 0.0, h ? ms(h->max()) : 0.0, server_core,
                  client_core, us_per_msg, kib_per_conn, ok ? 1 : 0);
    const std::size_t used = std::strlen(line);
    if (o.also_measure_pid > 0) {
      std::snprintf(line + used, sizeof line - used, ",%.3f\n", also_core);
    } else {
      std::snprintf(line + used, sizeof line - used, "\n");
    }
    std::fputs(line, stdout);
    if (!o.csv.empty()) {
      FILE* f = std::fopen(o.csv.c_str(), "a");
      if (f) {
        std::fputs(line, f);
        std::fclose(f);
      }
    }
  }
};

const char* bound_flag(double client_core) {
  return client_core >= 0.9 ? "  ** CLIENT-BOUND **" : "";
}

// With --nodes or --also-measure-pid: " (nodes 40% 35% 35%; pid 123 20%)" after "CPU server".
std::string cpu_detail(const options& o, const load_generator::phase& p) {
  std::string out;
  char item[64];
  if (o.nodes > 0) {
    out += " (nodes";
    for (const double c : p.node_cpu) {
      std::snprintf(item, sizeof item, " %.0f%%", 100 * c / p.seconds);
      out += item;
    }
  }
  if (o.also_measure_pid > 0) {
    std::snprintf(item, sizeof item, "%spid %d %.0f%%", out.empty() ? " (" : "; ",
                  static_cast<int>(o.also_measure_pid), 100 * p.also_cpu / p.seconds);
    out += item;
  }
  return out.empty() ? out : out + ")";
}

void print_latency(const char* what, const load_generator::phase& p, const histogram& h,
                   const std::string& detail = "") {
  std::printf("%s: %.1f msg/s offered, %.1f s: p50 %.3f ms p90 %.3f ms p99 %.3f ms max %.3f ms;"
              " send lag max %.3f ms; CPU server %.0f%%%s load gen %.0f%%%s%s\n",
              what, p.offered, p.seconds, ms(h.quantile(0.5)), ms(h.quantile(0.9)),
              ms(h.quantile(0.99)), ms(h.max()), ms(p.max_send_lag_ns),
              100 * p.server_cpu / p.seconds, detail.c_str(), 100 * p.client_cpu / p.seconds,
              bound_flag(p.client_cpu / p.seconds), p.complete ? "" : "  ** INCOMPLETE **");
  std::fflush(stdout);
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
  limit.rlim_cur = limit.rlim_max;  // the server inherits it
  setrlimit(RLIMIT_NOFILE, &limit);

  std::vector<server_process> servers(static_cast<std::size_t>(std::max(1, o.nodes)));
  g_servers = &servers;
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  for (std::size_t k = 0; k < servers.size(); ++k) {
    servers[k].start(node_command(o, static_cast<int>(k)));
  }
  const server_process& server = servers.front();
  if (o.nodes == 0) {
    std::printf("[%s] %s: server pid %d on port %u%s", o.tag.c_str(), o.scenario.c_str(),
                static_cast<int>(server.pid), static_cast<unsigned>(server.port),
                o.socketio ? " (Socket.IO framing)" : "");
  } else {
    std::printf("[%s] %s: %zu nodes, pids", o.tag.c_str(), o.scenario.c_str(), servers.size());
    for (const auto& s : servers) std::printf(" %d", static_cast<int>(s.pid));
    std::printf(" on ports");
    for (const auto& s : servers) std::printf(" %u", static_cast<unsigned>(s.port));
    std::printf("%s", o.socketio ? " (Socket.IO framing)" : "");
  }
  if (o.also_measure_pid > 0) {
    std::printf("; also measuring pid %d", static_cast<int>(o.also_measure_pid));
  }
  std::printf("; load average %s\n", load_average().c_str());
  std::fflush(stdout);
  load_generator gen(o, servers);
  const csv_writer csv{o};
  bool ok = true;

  if (o.scenario == "fanout") {
    // Receivers 0..N-1 and the sender N, all in room r0; with --nodes K receiver i on node
    // i % K, the sender on node 0.
    const auto n = static_cast<std::size_t>(o.connections);
    const std::size_t k = servers.size();
    gen.assign_nodes(n + 1, [&](std::size_t i) { return i < n ? i % k : 0; });
    gen.connect(0, n + 1, [](std::size_t) { return 0; });
    gen.set_recipients(n);
    const auto cap = gen.capacity(o.warmup_s, o.capacity_s);
    const double per_s = static_cast<double>(cap.deliveries) / cap.seconds;
    std::printf("capacity (window %d): %.0f deliveries/s (%.1f msg/s); CPU server %.0f%%%s load gen"
                " %.0f%%%s\n",
                o.window, per_s, per_s / n, 100 * cap.server_cpu / cap.seconds,
                cpu_detail(o, cap).c_str(), 100 * cap.client_cpu / cap.seconds,
                bound_flag(cap.client_cpu / cap.seconds));
    ok = ok && cap.complete;
    csv.row("capacity", 0, per_s, nullptr, cap.server_cpu / cap.seconds,
            cap.client_cpu / cap.seconds, 1e6 * cap.server_cpu / std::max<double>(1, cap.deliveries),
            0, cap.complete, cap.also_cpu / cap.seconds);
    for (const double load : o.loads) {
      const auto p = gen.open_loop(per_s / n * load, o.step_s, {n});
      print_latency(("latency at " + std::to_string(static_cast<int>(load * 100)) + "%").c_str(),
                    p, gen.latencies(), cpu_detail(o, p));
      ok = ok && p.complete;
      csv.row("latency", p.offered * n, static_cast<double>(p.deliveries) / p.seconds,
              &gen.latencies(), p.server_cpu / p.seconds, p.client_cpu / p.seconds,
              1e6 * p.server_cpu / std::max<double>(1, p.deliveries), 0, p.complete,
              p.also_cpu / p.seconds);
    }
  } else if (o.scenario == "chat") {
    const auto n = static_cast<std::size_t>(o.rooms) * o.members;
    gen.connect(0, n, [&](std::size_t i) { return static_cast<int>(i / o.members); });
    gen.set_recipients(static_cast<std::uint64_t>(o.members - 1));
    // Sender order: one member of each room in turn, so that every room is busy.
    std::vector<std::size_t> senders;
    for (int m = 0; m < o.members; ++m) {
      for (int r = 0; r < o.rooms; ++r) senders.push_back(static_cast<std::size_t>(r) * o.members + m);
    }
    double rate = o.rates.front();
    double best = 0;
    double lowest_failed = 0;
    int failed_in_a_row = 0;
    // One step at `offered` messages/s: its row, and whether p99 stayed under the limit.
    const auto run_step = [&](const char* phase, double offered) {
      const auto p = gen.open_loop(offered, o.step_s, senders);
      const histogram& h = gen.latencies();
      print_latency(std::strcmp(phase, "step") == 0 ? "chat step" : "chat refine", p, h);
      const bool pass = p.complete && ms(h.quantile(0.99)) < o.p99_limit_ms;
      csv.row(phase, offered * (o.members - 1), static_cast<double>(p.deliveries) / p.seconds, &h,
              p.server_cpu / p.seconds, p.client_cpu / p.seconds,
              1e6 * p.server_cpu / std::max<double>(1, p.sent), 0, pass);
      return pass;
    };
    for (int step = 0; step < o.max_steps; ++step, rate *= o.rate_factor) {
      const bool pass = run_step("step", rate);
      // One failed step may be a scheduling hiccup of this shared machine: stop after two in
      // a row; the capacity is the highest step that passed.
      if (pass) {
        best = rate;
        failed_in_a_row = 0;
      } else {
        if (failed_in_a_row == 0 && rate > best) lowest_failed = rate;
        if (++failed_in_a_row == 2) break;
      }
    }
    // A 1.5x grid cannot tell 1.6x from 2.2x: narrow the capacity between the last step that
    // passed and the step above it that failed, at their geometric midpoint, --refine times.
    for (int k = 0; k < o.refine && best > 0 && lowest_failed > best; ++k) {
      const double mid = std::sqrt(best * lowest_failed);
      (run_step("refine", mid) ? best : lowest_failed) = mid;
    }
    std::printf("chat capacity at p99 < %.0f ms: %.0f msg/s (%.0f deliveries/s)\n",
                o.p99_limit_ms, best, best * (o.members - 1));
    csv.row("capacity", best * (o.members - 1), best, nullptr, 0, 0, 0, 0, best > 0);
  } else if (o.scenario == "ack") {
    // Every connection alone in its own room: each message is acknowledged, delivered to none.
    const auto n = static_cast<std::size_t>(o.connections);
    gen.connect(0, n, [](std::size_t i) { return static_cast<int>(i); });
    gen.set_recipients(0);
    gen.ack_latency_ = true;
    std::vector<std::size_t> senders(n);
    for (std::size_t i = 0; i < n; ++i) senders[i] = i;
    for (const double rate : o.rates) {
      const auto p = gen.open_loop(rate, o.step_s, senders);
      print_latency("ack", p, gen.latencies());
      std::printf("ack: %.2f cross-CPU interrupts per acknowledgement (system-wide)\n",
                  static_cast<double>(p.cross_cpu_interrupts) / std::max<double>(1, p.acks));
      ok = ok && p.complete;
      csv.row("ack", rate, static_cast<double>(p.acks) / p.seconds, &gen.latencies(),
              p.server_cpu / p.seconds, p.client_cpu / p.seconds,
              1e6 * p.server_cpu / std::max<double>(1, p.acks), 0, p.complete);
    }
  } else if (o.scenario == "priority") {
    // Room r0: a slow reader (0, reads --slow-kib-per-s), a probe sender (1, priority 0 at
    // --rates[0]/s) and a flood sender (2, priority 4, --flood-rate/s of --content-bytes).
    // Each message reaches the two other members; latency of probes at the slow reader,
    // unloaded (no flood) and then under the flood.
    gen.mark_slow(0, o.slow_kib_per_s * 1024);
    gen.connect(0, 3, [](std::size_t) { return 0; });
    gen.set_recipients(2);
    const auto idle = gen.probe_under_flood(1, o.rates.front(), 2, 0, o.step_s);
    print_latency("priority 0, unloaded", idle, gen.latencies());
    csv.row("unloaded", idle.offered, 0, &gen.latencies(), idle.server_cpu / idle.seconds,
            idle.client_cpu / idle.seconds, 0, 0, idle.complete);
    const double p99_idle = ms(gen.latencies().quantile(0.99));
    const auto flood = gen.probe_under_flood(1, o.rates.front(), 2, o.flood_rate, o.step_s);
    print_latency("priority 0 under a priority-4 flood", flood, gen.latencies());
    csv.row("flooded", flood.offered, o.flood_rate, &gen.latencies(),
            flood.server_cpu / flood.seconds, flood.client_cpu / flood.seconds, 0, 0,
            flood.complete);
    std::printf("p99 flooded / unloaded: %.1fx\n",
                ms(gen.latencies().quantile(0.99)) / std::max(p99_idle, 0.001));
    // The flood's first second holds what a slow reader's buffer took before the server could
    // know it was slow (docs/benchmarks.md, priority): the rest shows the flood's steady state.
    const histogram& settled = gen.settled_latencies();
    std::printf("priority 0 under the flood, from its second second on: p50 %.3f ms p90 %.3f ms "
                "p99 %.3f ms max %.3f ms; p99 / unloaded: %.1fx\n",
                ms(settled.quantile(0.5)), ms(settled.quantile(0.9)), ms(settled.quantile(0.99)),
                ms(settled.max()), ms(settled.quantile(0.99)) / std::max(p99_idle, 0.001));
    ok = ok && idle.complete && flood.complete;
  } else if (o.scenario == "idle") {
    // A warm-up connection, then N idle ones (each joined to one of N/100 rooms).
    gen.connect(0, 1, [](std::size_t) { return 0; });
    gen.idle_for(o.settle_s);
    const long base = rss_kib(server.pid);
    const auto n = static_cast<std::size_t>(o.connections);
    gen.connect(1, n + 1, [](std::size_t i) { return static_cast<int>(i / 100); });
    gen.idle_for(o.settle_s);
    const long full = rss_kib(server.pid);
    const double per = static_cast<double>(full - base) / static_cast<double>(n);
    std::printf("idle: server RSS %ld KiB with 1 connection, %ld KiB with %zu more: %.2f KiB per"
                " connection\n", base, full, n, per);
    csv.row("idle", static_cast<double>(n), static_cast<double>(full), nullptr, 0, 0, 0, per,
            true);
  } else {
    usage();
    stop_servers(servers);
    return 2;
  }
  std::printf("pings from the server, answered: %" PRIu64 "\n", gen.pings());
  if (gen.refusals() > 0) {
    std::printf("** %" PRIu64 " sends were refused (error): the numbers are not valid **\n",
                gen.refusals());
    ok = false;
  }
  gen.close_all();
  usleep(200'000);
  stop_servers(servers);
  return ok ? 0 : 1;
}
