// The engine behind roomwire::client: the sans-IO client core under a mutex, driven by a
// websocketpp connection (through client_net::ws_connector) and an Asio timer. No websocketpp
// here.
//
// Threading: the core is touched only with `mutex` held. The core's requests to the transport
// (open, send, close) and the timer are carried out on `strand`, in the order the core made
// them; the callbacks it makes due are run on `strand` too, in order, with no lock held.
// websocketpp reports connection events on its own strands; they take the mutex.

#include "roomwire/detail/client_engine.hpp"

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <exception>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include <asio/bind_executor.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

#include "client/ws_connector.hpp"
#include "roomwire/client.hpp"

namespace roomwire::detail {

namespace {

bool has_scheme(const std::string& url, std::string_view scheme) {
  if (url.size() < scheme.size()) return false;
  return std::equal(scheme.begin(), scheme.end(), url.begin(), [](char a, char b) {
    return a == std::tolower(static_cast<unsigned char>(b));
  });
}

}  // namespace

struct client_engine::impl final : client_transport,
                                   client_net::ws_events,
                                   std::enable_shared_from_this<client_engine::impl> {
  impl(asio::io_context* host_io, client_options o)
      : own_io(host_io != nullptr ? nullptr : std::make_unique<asio::io_context>(1)),
        io(host_io != nullptr ? *host_io : *own_io),
        strand(asio::make_strand(io)),
        timer(strand),
        options(std::move(o)),
        core(*this, clock, options) {}

  // ---- client_transport: called by the core, with the mutex held ------------------------

  void open(std::uint64_t connection, const std::string& url, const std::string& token) override {
    std::string target = url;
    std::string bearer;
    if (options.token_in_header) {
      bearer = token;
    } else if (!token.empty()) {
      target = with_token_query(url, token);
    }
    asio::post(strand, [weak = weak_from_this(), connection, target = std::move(target),
                        bearer = std::move(bearer)] {
      if (auto self = weak.lock()) self->do_open(connection, target, bearer);
    });
  }

  void send(std::uint64_t connection, const std::string& text) override {
    asio::post(strand, [weak = weak_from_this(), connection, text] {
      auto self = weak.lock();
      if (self && self->current && self->current_id == connection) self->current->send(text);
    });
  }

  void close(std::uint64_t connection, std::uint16_t code, std::string_view reason) override {
    asio::post(strand, [weak = weak_from_this(), connection, code, r = std::string(reason)] {
      if (auto self = weak.lock()) self->do_close(connection, code, r);
    });
  }

  // ---- client_net::ws_events: websocketpp's threads --------------------------------------

  void ws_opened(std::uint64_t connection) override {
    std::lock_guard<std::mutex> lock(mutex);
    core.opened(connection);
    flush_locked();
  }
  void ws_text(std::uint64_t connection, const std::string& text) override {
    std::lock_guard<std::mutex> lock(mutex);
    core.received(connection, text);
    flush_locked();
  }
  void ws_closed(std::uint64_t connection, std::uint16_t code, const std::string& reason) override {
    std::lock_guard<std::mutex> lock(mutex);
    core.closed(connection, code, reason);
    flush_locked();
  }

  // ---- with the mutex held ----------------------------------------------------------------

  // Hands what the core made due to the strand: its callbacks, and the timer for its next
  // deadline.
  void flush_locked() {
    auto calls = core.take_callbacks();
    if (!calls.empty()) {
      ++batches;
      // Weak: a batch left in a stopped io_context must not keep the engine alive. Dropped
      // unrun, its completions still make their futures ready.
      asio::post(strand, [weak = weak_from_this(), calls = std::move(calls)]() mutable {
        if (auto self = weak.lock()) self->run(calls);
      });
    }
    const auto next = core.next_deadline();
    if (next != armed) {
      armed = next;
      asio::post(strand, [weak = weak_from_this(), next] {
        if (auto self = weak.lock()) self->arm(next);
      });
    }
    changed.notify_all();
  }

  // ---- on the strand ----------------------------------------------------------------------

  void run(std::vector<std::function<void()>>& calls) {
    bool skip = false;
    {
      std::lock_guard<std::mutex> lock(mutex);
      skip = stopping;
    }
    for (auto& call : calls) {
      if (skip) break;  // dropped: their futures are completed all the same
      try {
        call();
      } catch (const std::exception& e) {
        report(std::string("a handler threw: ") + e.what());
      } catch (...) {
        report("a handler threw an exception that is not a std::exception");
      }
    }
    calls.clear();
    std::lock_guard<std::mutex> lock(mutex);
    --batches;
    changed.notify_all();
  }

  void report(const std::string& what) noexcept {
    std::function<void(std::string_view)> handler;
    {
      std::lock_guard<std::mutex> lock(mutex);
      handler = error_handler;
    }
    try {
      if (handler) {
        handler(what);
      } else {
        std::cerr << "roomwire client: " << what << '\n';
      }
    } catch (...) {
    }
  }

  void arm(std::optional<std::int64_t> next) {
    timer.cancel();
    if (!next) return;
    timer.expires_at(std::chrono::steady_clock::time_point(std::chrono::milliseconds(*next)));
    timer.async_wait([weak = weak_from_this()](const std::error_code& ec) {
      if (ec) return;
      auto self = weak.lock();
      if (!self) return;
      std::lock_guard<std::mutex> lock(self->mutex);
      self->armed.reset();  // whatever is due next is armed afresh
      self->core.tick();
      self->flush_locked();
    });
  }

  client_net::ws_connector* connector_for(const std::string& url, std::error_code& ec) {
    if (has_scheme(url, "ws://")) {
      if (!plain) plain = client_net::make_plain_connector(io, options);
      return plain.get();
    }
    if (has_scheme(url, "wss://")) {
      if (!tls) tls = client_net::make_tls_connector(io, options, ec);
      return tls.get();
    }
    ec = std::make_error_code(std::errc::invalid_argument);
    return nullptr;
  }

  void do_open(std::uint64_t connection, const std::string& url, const std::string& bearer) {
    current.reset();
    current_id = connection;
    std::error_code ec;
    client_net::ws_connector* connector = connector_for(url, ec);
    if (connector != nullptr && !ec) {
      try {
        current = connector->open(connection, url, bearer, weak_from_this(), ec);
      } catch (const std::exception& e) {
        ec = std::make_error_code(std::errc::invalid_argument);
        report(std::string("cannot connect: ") + e.what());
      }
    }
    if (ec || !current) {
      const bool bad_scheme = connector == nullptr;
      ws_closed(connection, 1006,
                bad_scheme ? "not a ws:// or wss:// URL"
                           : "cannot connect: " + (ec ? ec.message() : std::string("failed")));
    }
  }

  void do_close(std::uint64_t connection, std::uint16_t code, const std::string& reason) {
    if (!current || current_id != connection) return;
    current->close(code, reason);
    // websocketpp drops the TCP connection when the close handshake times out and reports
    // it; should anything keep it from reporting, the core hears of the end all the same.
    auto fallback = std::make_shared<asio::steady_timer>(
        strand, std::chrono::milliseconds(options.close_timeout_ms + 1000));
    fallback->async_wait(
        [weak = weak_from_this(), fallback, connection](const std::error_code& ec) {
          if (ec) return;
          if (auto self = weak.lock())
            self->ws_closed(connection, 1006, "close handshake timed out");
        });
  }

  // Declaration order is destruction order in reverse: the io_context outlives everything
  // that posts to it.
  std::unique_ptr<asio::io_context> own_io;
  asio::io_context& io;
  asio::strand<asio::io_context::executor_type> strand;
  asio::steady_timer timer;
  client_options options;
  core::system_clock clock;

  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  client_core core;                   // mutex
  std::optional<std::int64_t> armed;  // mutex: the deadline last handed to arm()
  std::size_t batches = 0;            // mutex: callback batches posted and not yet run
  bool stopping = false;              // mutex: the client is being destroyed
  std::function<void(std::string_view)> error_handler;  // mutex

  // strand only
  std::shared_ptr<client_net::ws_connector> plain;
  std::shared_ptr<client_net::ws_connector> tls;
  std::uint64_t current_id = 0;
  std::shared_ptr<client_net::ws_connection> current;

  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread thread;
};

client_engine::client_engine(client_options options)
    : impl_(std::make_shared<impl>(nullptr, std::move(options))) {
  impl_->work.emplace(asio::make_work_guard(*impl_->own_io));
  // The thread keeps the impl alive until run() returns.
  impl_->thread = std::thread([self = impl_] {
    for (;;) {
      try {
        self->own_io->run();
        return;
      } catch (const std::exception& e) {
        self->report(std::string("an I/O handler threw: ") + e.what());
      } catch (...) {
        self->report("an I/O handler threw");
      }
    }
  });
}

client_engine::client_engine(asio::io_context& io, client_options options)
    : impl_(std::make_shared<impl>(&io, std::move(options))) {}

client_engine::~client_engine() {
  impl& i = *impl_;
  const bool on_client_thread =
      i.strand.running_in_this_thread() ||
      (i.thread.joinable() && std::this_thread::get_id() == i.thread.get_id());
  {
    std::lock_guard<std::mutex> lock(i.mutex);
    // No handler runs from here on: what they capture may already be gone.
    i.stopping = true;
    const auto s = i.core.state();
    if (s != connection_state::idle && s != connection_state::closed) i.core.close(1000, {});
    i.flush_locked();
  }
  if (!on_client_thread) {
    wait_closed(std::chrono::milliseconds(std::max<std::int64_t>(i.options.close_timeout_ms, 0)));
  }
  {
    std::lock_guard<std::mutex> lock(i.mutex);
    i.core.abandon();
    i.changed.notify_all();
  }
  if (!i.own_io) {
    // The host's io_context may still run: let go of the connection on the strand.
    asio::post(i.strand, [self = impl_] {
      self->timer.cancel();
      self->current.reset();
    });
    return;
  }
  i.work.reset();
  i.own_io->stop();
  if (on_client_thread) {
    i.thread.detach();  // destroyed from one of its own handlers: the thread ends by itself
    return;
  }
  if (i.thread.joinable()) i.thread.join();
  i.timer.cancel();
  i.current.reset();
}

void client_engine::with_core(const std::function<void(client_core&)>& fn) const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  struct flush_on_exit {
    impl& i;
    ~flush_on_exit() { i.flush_locked(); }
  } guard{*impl_};
  fn(impl_->core);
}

bool client_engine::wait_for_acks(std::chrono::milliseconds timeout) const {
  impl& i = *impl_;
  if (i.strand.running_in_this_thread()) return false;
  std::unique_lock<std::mutex> lock(i.mutex);
  return i.changed.wait_for(lock, timeout,
                            [&i] { return i.core.pending() == 0 && i.batches == 0; });
}

bool client_engine::wait_closed(std::chrono::milliseconds timeout) const {
  impl& i = *impl_;
  if (i.strand.running_in_this_thread()) return false;
  std::unique_lock<std::mutex> lock(i.mutex);
  return i.changed.wait_for(lock, timeout, [&i] {
    const auto s = i.core.state();
    return (s == connection_state::closed || s == connection_state::idle) && i.batches == 0;
  });
}

void client_engine::on_error(std::function<void(std::string_view)> handler) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->error_handler = std::move(handler);
}

const client_options& client_engine::options() const noexcept { return impl_->options; }

}  // namespace roomwire::detail
