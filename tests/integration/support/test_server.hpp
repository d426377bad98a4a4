#pragma once

// A real roomwire::server on 127.0.0.1, port 0, for one test; stopped when it goes out of scope.

#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "roomwire/server.hpp"
#include "suite_log.hpp"
#include "wire_client.hpp"

namespace rwtest {

// Every log line the server wrote, to check what it says and what it must never say.
class log_capture {
 public:
  roomwire::log_sink sink() {
    return [this](roomwire::log_level, std::string_view line) {
      roomwire_test::suite_log("server", line);
      {
        std::lock_guard<std::mutex> lock(mu_);
        lines_.emplace_back(line);
      }
      added_.notify_all();
    };
  }
  // Waits until a line contains `needle`; false if none did within `timeout`.
  bool wait_for(std::string_view needle, std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(mu_);
    return added_.wait_for(lock, timeout, [&] { return contains(needle); });
  }
  bool any_contains(std::string_view needle) const {
    std::lock_guard<std::mutex> lock(mu_);
    return contains(needle);
  }
  std::size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_.size();
  }

 private:
  // With mu_ held.
  bool contains(std::string_view needle) const {
    return std::any_of(lines_.begin(), lines_.end(),
                       [&](const std::string& l) { return l.find(needle) != std::string::npos; });
  }

  mutable std::mutex mu_;
  mutable std::condition_variable added_;
  std::vector<std::string> lines_;
};

inline roomwire::server_options test_options(log_capture* logs = nullptr) {
  roomwire::server_options o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.authenticate = roomwire::demo_authenticate;
  o.min_log_level = roomwire::log_level::debug;
  if (logs != nullptr) {
    o.log = logs->sink();
  } else if (std::getenv("ROOMWIRE_TEST_LOG") != nullptr) {
    // Debugging aid: the server's log on standard error, with a monotonic time stamp.
    o.log = [](roomwire::log_level, std::string_view line) {
      roomwire_test::suite_log("server", line);
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
      std::fprintf(stderr, "[%lld] %.*s\n", static_cast<long long>(ms % 100000),
                   static_cast<int>(line.size()), line.data());
    };
  } else {
    o.log = [](roomwire::log_level, std::string_view line) {
      roomwire_test::suite_log("server", line);
    };
  }
  return o;
}

template <class UserData = std::monostate>
struct basic_running_server {
  explicit basic_running_server(roomwire::server_options o) : server(std::move(o)) {}
  ~basic_running_server() { server.stop(); }
  void start() { server.start(); }
  endpoint_options at() const {
    endpoint_options e;
    e.port = server.port();
    e.tls = server.options().tls.has_value();
    return e;
  }
  roomwire::basic_server<UserData> server;
};
using running_server = basic_running_server<>;

// A directory under the system's temporary directory, removed with everything in it.
class temp_dir {
 public:
  temp_dir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("roomwire-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path write(const std::string& name, const std::string& content) const {
    const auto p = path_ / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

 private:
  std::filesystem::path path_;
};

// Makes `o` a wss:// server, with a self-signed certificate for localhost made in `dir` (openssl
// command line); false when openssl failed.
inline bool serve_tls(roomwire::server_options& o, const temp_dir& dir) {
  const auto cert = dir.path() / "cert.pem";
  const auto key = dir.path() / "key.pem";
  const std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
      "-nodes -days 2 -subj /CN=localhost -keyout '" +
      key.string() + "' -out '" + cert.string() + "' >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) return false;
  o.tls = roomwire::tls_options{cert.string(), key.string()};
  return true;
}

// Connects with `token` in the query.
inline std::unique_ptr<wire_client> connect_as(const endpoint_options& at, std::string_view token,
                                               const std::string& path = "/api/ws") {
  auto c = std::make_unique<wire_client>(at);
  if (c->connect(path + "?token=" + std::string(token)) != 101) return nullptr;
  return c;
}

// Sends joinRoom and waits for its acknowledgement.
inline bool join(wire_client& c, std::string_view room, std::string_view message_id) {
  c.send_text(envelope("joinRoom", "{\"roomId\":\"" + std::string(room) + "\"}", message_id));
  for (;;) {
    auto ack = c.next_of_type("messageReceived");
    if (!ack) return false;
    const auto doc = parse_json(*ack);
    if (std::string_view(doc["payload"]["messageId"].GetString()) == message_id) return true;
  }
}

}  // namespace rwtest
