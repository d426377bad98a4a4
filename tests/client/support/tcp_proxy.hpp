#pragma once

// A TCP proxy on 127.0.0.1 (port 0) in front of a server, for losing what the server sends
// (blackhole), dropping connections on demand, and holding new connections back: the way to make
// a request whose answer never arrives, as a lost connection would, or to let another client
// reach the server first.

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <asio/connect.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

namespace roomwire_test {

class tcp_proxy {
 public:
  explicit tcp_proxy(std::uint16_t upstream_port)
      : upstream_(asio::ip::make_address("127.0.0.1"), upstream_port),
        acceptor_(io_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        work_(asio::make_work_guard(io_)) {
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~tcp_proxy() {
    drop_all();
    asio::post(io_, [this] {
      std::error_code ignored;
      acceptor_.close(ignored);
    });
    work_.reset();
    io_.stop();
    thread_.join();
  }
  tcp_proxy(const tcp_proxy&) = delete;
  tcp_proxy& operator=(const tcp_proxy&) = delete;

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  // While on, bytes from the server are read and thrown away.
  void set_blackhole(bool on) { blackhole_ = on; }
  // Closes every connection made so far (both sides), and returns when that is done.
  void drop_all() {
    std::promise<void> done;
    asio::post(io_, [this, &done] {
      for (auto& weak : pipes_) {
        if (auto p = weak.lock()) p->shut();
      }
      pipes_.clear();
      done.set_value();
    });
    done.get_future().wait();
  }
  // From now on nothing more passes in either direction and no connection is closed: to both
  // ends the peer has gone silent, as a host whose packets are dropped (no FIN, no RST).
  void freeze() { frozen_ = true; }
  // While on, new connections are accepted but not passed on to the server; turning it off
  // passes on those that wait, in the order they came.
  void set_held(bool on) {
    std::promise<void> done;
    asio::post(io_, [this, on, &done] {
      held_ = on;
      if (!on) {
        for (auto& p : waiting_) connect_upstream(p);
        waiting_.clear();
      }
      done.set_value();
    });
    done.get_future().wait();
  }
  std::size_t accepted() const { return accepted_; }
  // Waits until the blackhole has swallowed at least `bytes` bytes.
  bool wait_discarded(std::size_t bytes, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(stats_->mutex);
    return stats_->changed.wait_for(lock, timeout, [&] { return stats_->discarded >= bytes; });
  }

 private:
  struct stats {
    std::mutex mutex;
    std::condition_variable changed;
    std::size_t discarded = 0;
  };

  struct pipe : std::enable_shared_from_this<pipe> {
    pipe(asio::io_context& io, const std::atomic<bool>& blackhole, const std::atomic<bool>& frozen,
         std::vector<std::shared_ptr<pipe>>& silenced, std::shared_ptr<stats> s)
        : down(io),
          up(io),
          blackhole_(blackhole),
          frozen_(frozen),
          silenced_(silenced),
          stats_(std::move(s)) {}
    void start() {
      relay(down, up, down_buffer, false);
      relay(up, down, up_buffer, true);
    }
    void shut() {
      std::error_code ignored;
      down.close(ignored);
      up.close(ignored);
    }
    void relay(asio::ip::tcp::socket& from, asio::ip::tcp::socket& to,
               std::array<char, 16384>& buffer, bool from_server) {
      from.async_read_some(asio::buffer(buffer), [self = shared_from_this(), &from, &to, &buffer,
                                                  from_server](std::error_code ec, std::size_t n) {
        if (ec) {
          self->shut();
          return;
        }
        if (self->frozen_) {
          self->silenced_.push_back(self);  // kept open, never read or written again
          return;
        }
        if (from_server && self->blackhole_) {
          {
            std::lock_guard<std::mutex> lock(self->stats_->mutex);
            self->stats_->discarded += n;
          }
          self->stats_->changed.notify_all();
          self->relay(from, to, buffer, from_server);
          return;
        }
        asio::async_write(
            to, asio::buffer(buffer.data(), n),
            [self, &from, &to, &buffer, from_server](std::error_code wec, std::size_t) {
              if (wec) {
                self->shut();
                return;
              }
              self->relay(from, to, buffer, from_server);
            });
      });
    }
    asio::ip::tcp::socket down;  // the client's side
    asio::ip::tcp::socket up;    // the server's side
    std::array<char, 16384> down_buffer{};
    std::array<char, 16384> up_buffer{};
    const std::atomic<bool>& blackhole_;
    const std::atomic<bool>& frozen_;
    std::vector<std::shared_ptr<pipe>>& silenced_;  // io_ thread only
    std::shared_ptr<stats> stats_;
  };

  void accept() {
    auto p = std::make_shared<pipe>(io_, blackhole_, frozen_, silenced_, stats_);
    acceptor_.async_accept(p->down, [this, p](std::error_code ec) {
      if (ec) return;
      ++accepted_;
      if (held_) {
        waiting_.push_back(p);
      } else {
        connect_upstream(p);
      }
      accept();
    });
  }

  void connect_upstream(const std::shared_ptr<pipe>& p) {
    p->up.async_connect(upstream_, [this, p](std::error_code cec) {
      if (cec) {
        p->shut();
        return;
      }
      pipes_.push_back(p);
      p->start();
    });
  }

  asio::io_context io_;
  asio::ip::tcp::endpoint upstream_;
  asio::ip::tcp::acceptor acceptor_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::atomic<bool> blackhole_{false};
  std::atomic<bool> frozen_{false};
  std::vector<std::shared_ptr<pipe>> silenced_;  // io_ thread only
  std::atomic<std::size_t> accepted_{0};
  std::shared_ptr<stats> stats_ = std::make_shared<stats>();
  std::vector<std::weak_ptr<pipe>> pipes_;  // io_ thread only
  bool held_ = false;                        // io_ thread only
  std::vector<std::shared_ptr<pipe>> waiting_;  // io_ thread only
  std::thread thread_;
};

}  // namespace roomwire_test
