// How fast a burst of server pushes reaches readers that keep up, over ws:// and over wss://
// (docs/benchmarks.md, "A burst over wss://"). The server queues COUNT room messages (chat
// deliveries, as a replay of history sends them) with BYTES bytes of content for a room of
// READERS at once (send_to_room); each reader, a roomwire::client on its own thread,
// counts the frames as they arrive. Time runs from the first send_to_room to the last frame at
// the last reader. The two transports alternate, REPS times each, each repetition with a new
// server and new clients on 127.0.0.1.
//   roomwire_bench_burst [--count 4000] [--bytes 1024] [--readers 1] [--reps 5] [--pace-readers]
// (--pace-readers: server_options::pace_readers, what it costs a burst.)
// Needs the openssl command (a self-signed certificate is made in a temporary directory). Wall
// time, so run it on an otherwise idle machine.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <unistd.h>

#include "roomwire/client.hpp"
#include "roomwire/server.hpp"

namespace {

long parse(const char* flag, const char* value) {
  char* end = nullptr;
  const long v = std::strtol(value, &end, 10);
  if (end == value || *end != '\0' || v < 1) {
    std::fprintf(stderr, "roomwire_bench_burst: %s wants a whole number >= 1, not %s\n", flag,
                 value);
    std::exit(2);
  }
  return v;
}

// Milliseconds from the first push to the last frame at the last reader, or a negative number
// when something failed (said on standard error).
double one_burst(const std::filesystem::path& certs, bool tls, long count, long bytes, long readers,
                 bool pace_readers) {
  roomwire::server_options o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.authenticate = roomwire::demo_authenticate;
  o.min_log_level = roomwire::log_level::warning;
  o.hub.queue_soft_bytes = 1u << 30;  // the whole burst waits in the hub's queue: nothing shed
  o.hub.queue_hard_bytes = 1u << 30;
  o.pace_readers = pace_readers;
  if (tls) {
    o.tls = roomwire::tls_options{(certs / "cert.pem").string(), (certs / "key.pem").string()};
  }
  roomwire::server server(o);
  server.start();

  roomwire::client_options co;
  co.url =
      std::string(tls ? "wss" : "ws") + "://127.0.0.1:" + std::to_string(server.port()) + "/api/ws";
  co.tls.verify_peer = false;
  co.max_message_bytes = static_cast<std::size_t>(bytes) + 4096;
  const long expected = count * readers;
  std::mutex mu;
  std::condition_variable arrived;
  long frames = 0;
  std::vector<std::unique_ptr<roomwire::client>> clients;
  for (long r = 0; r < readers; ++r) {
    co.token = "reader-" + std::to_string(r);
    auto& reader = *clients.emplace_back(std::make_unique<roomwire::client>(co));
    reader.on_frame([&](std::string_view json) {
      if (json.find("\"type\":\"message\"") == std::string_view::npos) return;
      std::lock_guard<std::mutex> lock(mu);
      if (++frames == expected) arrived.notify_one();
    });
    reader.connect();
    const auto joined = reader.join("burst").wait_for(std::chrono::seconds(10));
    if (!joined || !joined->ok()) {
      std::fprintf(stderr, "roomwire_bench_burst: a reader could not join over %s\n",
                   tls ? "wss" : "ws");
      server.stop();
      return -1;
    }
  }

  roomwire::protocol::envelope<roomwire::protocol::chat_delivery> env;
  env.payload.room_id = "burst";
  env.payload.sender_id = "host";
  env.payload.content.assign(static_cast<std::size_t>(bytes), 'b');
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < count; ++i) {
    env.payload.seq = i + 1;
    server.send_to_room("burst", env);
  }
  bool all = false;
  {
    std::unique_lock<std::mutex> lock(mu);
    all = arrived.wait_for(lock, std::chrono::seconds(120), [&] { return frames == expected; });
  }
  const auto end = std::chrono::steady_clock::now();
  for (auto& c : clients) c->close();
  server.stop();
  if (!all) {
    std::fprintf(stderr, "roomwire_bench_burst: %ld of %ld frames arrived over %s in 120 s\n",
                 frames, expected, tls ? "wss" : "ws");
    return -1;
  }
  return std::chrono::duration<double, std::milli>(end - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  long count = 4000, bytes = 1024, readers = 1, reps = 5;
  bool pace_readers = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--pace-readers") == 0) {
      pace_readers = true;
    } else if (i + 1 < argc && std::strcmp(argv[i], "--count") == 0) {
      count = parse(argv[i], argv[i + 1]);
      ++i;
    } else if (i + 1 < argc && std::strcmp(argv[i], "--bytes") == 0) {
      bytes = parse(argv[i], argv[i + 1]);
      if (bytes > static_cast<long>(roomwire::protocol::max_content_bytes)) {
        std::fprintf(stderr, "roomwire_bench_burst: --bytes is at most %zu (§3's content limit)\n",
                     roomwire::protocol::max_content_bytes);
        return 2;
      }
      ++i;
    } else if (i + 1 < argc && std::strcmp(argv[i], "--readers") == 0) {
      readers = parse(argv[i], argv[i + 1]);
      ++i;
    } else if (i + 1 < argc && std::strcmp(argv[i], "--reps") == 0) {
      reps = parse(argv[i], argv[i + 1]);
      ++i;
    } else {
      std::fprintf(stderr,
                   "usage: roomwire_bench_burst [--count N] [--bytes N] [--readers N] [--reps N] "
                   "[--pace-readers]\n");
      return 2;
    }
  }

  const auto certs = std::filesystem::temp_directory_path() /
                     ("roomwire-bench-burst-" + std::to_string(::getpid()));
  std::filesystem::create_directories(certs);
  const std::string make_cert =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
      "-subj /CN=localhost -keyout '" +
      (certs / "key.pem").string() + "' -out '" + (certs / "cert.pem").string() +
      "' >/dev/null 2>&1";
  if (std::system(make_cert.c_str()) != 0) {
    std::fprintf(stderr, "roomwire_bench_burst: openssl could not make a certificate\n");
    std::filesystem::remove_all(certs);
    return 1;
  }

  std::vector<double> ms[2];
  for (long r = 0; r < reps; ++r) {
    for (int k = 0; k < 2; ++k) {
      const bool tls = ((r + k) % 2) == 1;  // ws, wss; then wss, ws; ...
      const double t = one_burst(certs, tls, count, bytes, readers, pace_readers);
      if (t < 0) {
        std::filesystem::remove_all(certs);
        return 1;
      }
      ms[tls ? 1 : 0].push_back(t);
    }
  }
  std::filesystem::remove_all(certs);

  const double megabytes =
      static_cast<double>(count) * static_cast<double>(bytes) * static_cast<double>(readers) / 1e6;
  std::printf("# %ld messages of %ld bytes to %ld reader(s), %ld repetitions each, alternating%s\n",
              count, bytes, readers, reps, pace_readers ? ", readers paced" : "");
  for (int k = 0; k < 2; ++k) {
    std::vector<double>& v = ms[k];
    std::sort(v.begin(), v.end());
    std::printf("%-4s %8.1f ms median (%.1f-%.1f)   %7.1f MB/s\n", k == 0 ? "ws" : "wss",
                v[v.size() / 2], v.front(), v.back(), megabytes * 1000.0 / v[v.size() / 2]);
  }
  return 0;
}
