#pragma once

// The processes of a scale-out test: a redis-server of the test's own (append-only file in a
// fresh directory, so that a restart keeps the rooms' seqs and history), roomwire-server nodes
// pointed at it, and a round-robin TCP balancer in front of the nodes. Everything binds
// 127.0.0.1, and every destructor stops what its constructor started.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/write.hpp>
#include <catch2/catch.hpp>

#include "chat_process.hpp"

namespace roomwire_test {

using namespace std::chrono_literals;

// A port that was free a moment ago (for a process that needs its port on the command line).
inline std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  std::uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

class redis_process {
 public:
  redis_process() : port_(free_port()) {
    dir_ = std::filesystem::temp_directory_path() /
           ("roomwire-cluster-redis-" + std::to_string(::getpid()) + "-" + std::to_string(port_));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    start();
  }
  ~redis_process() {
    stop(SIGTERM);
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  redis_process(const redis_process&) = delete;
  redis_process& operator=(const redis_process&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

  // Every write is in the append-only file before Redis answers it: a restart loses nothing
  // acknowledged (the setting the README recommends for a cluster).
  void start() {
    INFO("redis-server: " REDIS_SERVER_EXE);
    REQUIRE(std::filesystem::exists(REDIS_SERVER_EXE));
    proc_ = std::make_unique<chat_process>(
        std::vector<std::string>{REDIS_SERVER_EXE, "--port", std::to_string(port_), "--bind",
                                 "127.0.0.1", "--save", "", "--appendonly", "yes",
                                 "--appendfsync", "always", "--dir", dir_.string()},
        "redis-server");
    REQUIRE(proc_->started());
    REQUIRE(proc_->wait_stdout("Ready to accept connections", 20s));
  }
  void stop(int signal_number) {
    if (!proc_) return;
    proc_->signal(signal_number);
    proc_->wait_exit(20s);
    proc_.reset();
  }

 private:
  std::uint16_t port_;
  std::filesystem::path dir_;
  std::unique_ptr<chat_process> proc_;
};

class server_node {
 public:
  // port 0: the server picks one (then the same port on restart()).
  server_node(std::string redis_url, std::string name, std::uint16_t port = 0)
      : redis_url_(std::move(redis_url)), name_(std::move(name)), port_(port) {
    start();
  }
  ~server_node() { stop(SIGTERM); }
  server_node(const server_node&) = delete;
  server_node& operator=(const server_node&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(port_) + "/api/ws"; }

  void start() {
    proc_ = std::make_unique<chat_process>(
        std::vector<std::string>{ROOMWIRE_SERVER_EXE, "--port", std::to_string(port_), "--redis",
                                 redis_url_, "--node", name_, "--log-level", "warning",
                                 // The tests send bursts of up to 360 messages. Under a
                                 // sanitizer a rejoin's replay can wait behind hundreds of
                                 // commits, and 256 (the default) would not reach back to
                                 // since (docs/scale-out.md).
                                 "--room-history", "1024"},
        "roomwire-server " + name_);
    REQUIRE(proc_->started());
    const auto line = proc_->wait_stdout("listening on", 20s);
    REQUIRE(line);
    const auto colon = line->rfind(':');
    port_ = static_cast<std::uint16_t>(std::stoi(line->substr(colon + 1)));
  }
  // SIGTERM: a graceful stop (§8); SIGKILL: a crash.
  void stop(int signal_number) {
    if (!proc_) return;
    proc_->signal(signal_number);
    const auto status = proc_->wait_exit(30s);
    if (!status) proc_->signal(SIGKILL);
    proc_.reset();
  }
  bool running() const { return proc_ != nullptr; }
  // What the running process logged (warnings and errors), one line each, for a failure message.
  std::string log() const {
    std::string out;
    if (!proc_) return out;
    for (const auto& line : proc_->stdout_lines()) out += name_ + ": " + line + "\n";
    for (const auto& line : proc_->stderr_lines()) out += name_ + ": " + line + "\n";
    return out;
  }

 private:
  std::string redis_url_;
  std::string name_;
  std::uint16_t port_;
  std::unique_ptr<chat_process> proc_;
};

// A TCP load balancer: each new connection goes to the next node in turn, and to the one after
// it when that node refuses (it is down), as a TCP balancer with health checks would.
class balancer {
 public:
  explicit balancer(std::vector<std::uint16_t> ports)
      : ports_(std::move(ports)),
        acceptor_(io_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        work_(asio::make_work_guard(io_)) {
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~balancer() {
    asio::post(io_, [this] {
      std::error_code ignored;
      acceptor_.close(ignored);
      for (auto& weak : pipes_) {
        if (auto p = weak.lock()) p->shut();
      }
    });
    work_.reset();
    io_.stop();
    thread_.join();
  }
  balancer(const balancer&) = delete;
  balancer& operator=(const balancer&) = delete;

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(port()) + "/api/ws"; }

 private:
  struct pipe : std::enable_shared_from_this<pipe> {
    explicit pipe(asio::io_context& io) : down(io), up(io) {}
    asio::ip::tcp::socket down;
    asio::ip::tcp::socket up;
    std::array<char, 16384> down_buffer{};
    std::array<char, 16384> up_buffer{};

    void start() {
      relay(down, up, down_buffer);
      relay(up, down, up_buffer);
    }
    void shut() {
      std::error_code ignored;
      down.close(ignored);
      up.close(ignored);
    }
    void relay(asio::ip::tcp::socket& from, asio::ip::tcp::socket& to,
               std::array<char, 16384>& buffer) {
      from.async_read_some(asio::buffer(buffer), [self = shared_from_this(), &from, &to,
                                                  &buffer](std::error_code ec, std::size_t n) {
        if (ec) return self->shut();
        asio::async_write(to, asio::buffer(buffer.data(), n),
                          [self, &from, &to, &buffer](std::error_code wec, std::size_t) {
                            if (wec) return self->shut();
                            self->relay(from, to, buffer);
                          });
      });
    }
  };

  void accept() {
    auto p = std::make_shared<pipe>(io_);
    acceptor_.async_accept(p->down, [this, p](std::error_code ec) {
      if (ec) return;
      connect(p, next_++ % ports_.size(), 0);
      accept();
    });
  }
  void connect(const std::shared_ptr<pipe>& p, std::size_t i, std::size_t tried) {
    if (tried == ports_.size()) return p->shut();
    const asio::ip::tcp::endpoint to(asio::ip::make_address("127.0.0.1"), ports_[i]);
    p->up.async_connect(to, [this, p, i, tried](std::error_code ec) {
      if (ec) {
        std::error_code ignored;
        p->up.close(ignored);
        return connect(p, (i + 1) % ports_.size(), tried + 1);
      }
      pipes_.push_back(p);
      p->start();
    });
  }

  std::vector<std::uint16_t> ports_;
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::size_t next_ = 0;                     // io_ thread only
  std::vector<std::weak_ptr<pipe>> pipes_;  // io_ thread only
  std::thread thread_;
};

}  // namespace roomwire_test
