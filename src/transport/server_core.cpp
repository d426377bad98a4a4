// The server core: owns the hub and serialises every call into it, moves frames from the hub's
// queues to the connections, drives the hub's clock, routes HTTP and carries out the graceful
// stop. It knows connections only through rt::link (websocketpp stays in ws_*.cpp).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <asio/bind_executor.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

#include "roomwire/server.hpp"
#include "transport/endpoint.hpp"
#include "transport/http.hpp"

namespace roomwire {

namespace rt = roomwire::transport;

std::optional<core::identity> demo_authenticate(std::string_view token) {
  if (token.empty() || token.size() > 64) return std::nullopt;
  for (const char c : token) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) return std::nullopt;
  }
  core::identity who;
  who.user_id = std::string(token);
  return who;
}

namespace detail {

namespace {

const char* level_name(log_level level) {
  switch (level) {
    case log_level::debug:
      return "debug";
    case log_level::info:
      return "info";
    case log_level::warning:
      return "warning";
    case log_level::error:
      return "error";
  }
  return "info";
}

// Time the stop may take beyond the hub's drain deadline: the close handshake (5 s), then a
// margin before connections are dropped and, last, forgotten.
constexpr std::int64_t close_handshake_ms = 5000;
constexpr std::int64_t terminate_margin_ms = 1000;
constexpr std::int64_t forget_margin_ms = 3000;

}  // namespace

struct server_core::impl final : core::transport,
                                 rt::endpoint_host,
                                 std::enable_shared_from_this<impl> {
  enum class phase { idle, running, draining, stopped };

  impl(asio::io_context* host_io, server_options o)
      : options(std::move(o)),
        // One thread of its own: the hint lets Asio queue what that thread posts without a lock.
        own_io(host_io ? nullptr
                       : std::make_unique<asio::io_context>(
                             options.threads == 1 ? 1 : ASIO_CONCURRENCY_HINT_DEFAULT)),
        io(host_io ? *host_io : *own_io),
        strand(asio::make_strand(io)),
        tick_timer(strand),
        hub(options.hub, options.policies, *this, clock, make_broker()) {}

  // Made before the hub (which attaches to it at once); its callbacks take the hub lock.
  std::shared_ptr<core::broker> make_broker() {
    if (!options.broker) return nullptr;
    broker_context context{
        io, [this](const std::function<void()>& fn) {
          std::lock_guard<std::recursive_mutex> lock(mu);
          fn();
        },
        [this](log_level level, std::string_view line) { log(level, line); }};
    return options.broker(context);
  }

  // ---- core::transport (called inside hub calls, the lock held) ------------------------

  void wake(core::session_id session) override {
    if (auto it = links.find(session); it != links.end()) it->second->request_pump();
    // Unknown yet (inside hub.open): on_open pumps once it has registered the link.
  }

  void close(core::session_id session, protocol::close_code code,
             std::string_view reason) override {
    if (auto it = links.find(session); it != links.end()) {
      it->second->request_close(code, std::string(reason));
    } else if (opening) {  // inside hub.open(): on_open carries it out
      early_closes[session] = {code, std::string(reason)};
    }
  }

  // ---- endpoint_host ---------------------------------------------------------------------

  rt::http_reply on_http(const rt::request_info& request) override {
    const auto path = rt::split(request.target).path;
    const auto reply = [](int status, std::string body) {
      rt::http_reply r;
      r.status = status;
      r.body = std::move(body);
      return r;
    };
    if (options.serve_metrics && (path == "/metrics" || path == "/healthz")) {
      if (request.method != "GET") {
        auto r = reply(405, "method not allowed\n");
        r.headers.emplace_back("Allow", "GET");
        return r;
      }
      core::hub_metrics m;
      bool draining = false;
      {
        std::lock_guard<std::recursive_mutex> lock(mu);
        m = hub.metrics();
        draining = phase_ != phase::running || hub.draining();
      }
      rt::http_reply r;
      r.headers.emplace_back("Cache-Control", "no-store");
      if (path == "/metrics") {
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        r.body = rt::prometheus_text(m);
      } else if (draining || m.status == protocol::health_status::draining) {
        r.status = 503;
        r.body = "draining\n";
      } else {
        r.body = m.status == protocol::health_status::degraded ? "degraded\n" : "ok\n";
      }
      return r;
    }
    if (path == options.path) return reply(426, "upgrade required\n");
    if (!static_root.empty()) return rt::serve_static(static_root, request.method, path);
    return reply(404, "not found\n");
  }

  rt::upgrade_decision on_upgrade(const rt::request_info& request) override {
    rt::upgrade_decision d;
    if (rt::split(request.target).path != options.path) {
      d.refuse_status = 404;
      d.body = "not found\n";
      return d;
    }
    if (!options.allowed_origins.empty() && request.origin &&
        std::find(options.allowed_origins.begin(), options.allowed_origins.end(),
                  *request.origin) == options.allowed_origins.end()) {
      d.refuse_status = 403;
      d.body = "origin not allowed\n";
      return d;
    }
    if (phase_.load() != phase::running) {
      d.refuse_status = 503;
      d.body = "shutting down\n";
      return d;
    }
    std::size_t now = admitted.load();
    do {
      if (options.max_connections != 0 && now >= options.max_connections) {
        d.refuse_status = 503;
        d.body = "too many connections\n";
        return d;
      }
    } while (!admitted.compare_exchange_weak(now, now + 1));

    if (const auto token = rt::request_token(request); token && options.authenticate) {
      try {
        d.who = options.authenticate(*token);
      } catch (const std::exception& e) {
        log(log_level::error, std::string("authenticator threw: ") + e.what());
        d.who.reset();
      } catch (...) {
        log(log_level::error, "authenticator threw");
        d.who.reset();
      }
      if (d.who && d.who->user_id.empty()) d.who.reset();
    }
    return d;
  }

  void on_rejected(const std::string& remote) override {
    {
      std::lock_guard<std::recursive_mutex> lock(mu);
      hub.count_handshake_failure();
    }
    log(log_level::info,
        "rejected a connection from " + remote + ": missing or invalid token (closed with 4000)");
  }

  core::session_id on_open(const std::shared_ptr<rt::link>& l, core::identity who) override {
    std::lock_guard<std::recursive_mutex> lock(mu);
    if (phase_.load() != phase::running) return 0;
    const std::string user = who.user_id;
    core::session_id id = 0;
    opening = true;
    try {
      id = hub.open(std::move(who));
    } catch (const std::exception& e) {
      opening = false;
      early_closes.clear();
      log(log_level::error, std::string("hub.open failed: ") + e.what());
      return 0;
    }
    opening = false;
    l->session = id;
    links[id] = l;
    if (auto it = early_closes.find(id); it != early_closes.end()) {
      l->request_close(it->second.first, std::move(it->second.second));
    }
    early_closes.clear();
    l->request_pump();
    log(log_level::debug, "session " + std::to_string(id) + " open for user " + user);
    return id;
  }

  void on_text(core::session_id session, std::string_view text) override {
    std::lock_guard<std::recursive_mutex> lock(mu);
    if (links.find(session) == links.end()) return;
    try {
      hub.receive(session, text);
    } catch (const std::exception& e) {
      log(log_level::error, std::string("hub.receive failed: ") + e.what());
    } catch (...) {
      log(log_level::error, "hub.receive failed");
    }
  }

  void on_closed(core::session_id session, int code) override {
    {
      std::lock_guard<std::recursive_mutex> lock(mu);
      if (links.erase(session) == 0) return;
      try {
        hub.closed(session, static_cast<protocol::close_code>(code));
      } catch (const std::exception& e) {
        log(log_level::error, std::string("hub.closed failed: ") + e.what());
      }
      log(log_level::debug,
          "session " + std::to_string(session) + " closed with " + std::to_string(code));
      check_stop_progress();
    }
    run_finished();
  }

  void on_admitted_end() override { admitted.fetch_sub(1); }

  void on_handshake_failed(std::string_view why, const std::string& remote) override {
    {
      std::lock_guard<std::recursive_mutex> lock(mu);
      hub.count_handshake_failure();
    }
    log(log_level::debug, "handshake from " + remote + " failed: " + std::string(why));
  }

  bool pump(rt::link& l) override {
    std::lock_guard<std::recursive_mutex> lock(mu);
    if (links.find(l.session) == links.end()) return false;
    bool hub_empty = false;
    try {
      const std::size_t window = l.send_window();  // fixed for the pump: only a write changes it
      while (l.buffered() < window) {
        core::frame_ptr f = hub.pop(l.session);
        if (!f) {
          hub_empty = true;
          break;
        }
        l.send(*f);
      }
      if (!hub_empty) {
        const std::size_t critical = l.critical_window();
        while (l.buffered() < critical) {
          core::frame_ptr f = hub.pop(l.session, protocol::priority::critical);
          if (!f) break;
          l.send(*f);
        }
      }
      const std::size_t backlog = l.buffered();
      hub.set_backlog(l.session, backlog);
      return !hub_empty || backlog > 0;
    } catch (const std::exception& e) {
      log(log_level::error, std::string("pump failed: ") + e.what());
      return false;
    }
  }

  void log(log_level level, std::string_view line) override {
    if (level < options.min_log_level) return;
    if (options.log) {
      try {
        options.log(level, line);
      } catch (...) {
        // A failing log sink must not take the server down.
      }
      return;
    }
    std::fprintf(stderr, "roomwire %s: %.*s\n", level_name(level), static_cast<int>(line.size()),
                 line.data());
  }

  // ---- lifecycle -------------------------------------------------------------------------

  void start(std::error_code& ec) {
    ec.clear();
    std::lock_guard<std::recursive_mutex> lock(mu);
    if (phase_.load() != phase::idle) {
      ec = std::make_error_code(std::errc::operation_not_permitted);
      return;
    }
    if (options.path.empty() || options.path.front() != '/' ||
        options.path.find('?') != std::string::npos || options.max_message_bytes == 0 ||
        options.threads < 1 || options.ping_interval_ms < 0 || options.pong_timeout_ms < 0 ||
        options.handshake_timeout_ms <= 0 ||
        (options.tls &&
         (options.tls->certificate_chain_file.empty() || options.tls->private_key_file.empty()))) {
      ec = std::make_error_code(std::errc::invalid_argument);
      return;
    }
    if (!options.static_dir.empty()) {
      static_root = std::filesystem::canonical(options.static_dir, ec);
      if (!ec && !std::filesystem::is_directory(static_root, ec)) {
        ec = std::make_error_code(std::errc::not_a_directory);
      }
      if (ec) return;
    }
    asio::ip::tcp::endpoint at;
    {
      const auto address = asio::ip::make_address(options.host, ec);
      if (!ec) {
        at = asio::ip::tcp::endpoint(address, options.port);
      } else {
        asio::ip::tcp::resolver resolver(io);
        const auto results = resolver.resolve(options.host, std::to_string(options.port),
                                              asio::ip::tcp::resolver::passive, ec);
        if (ec) return;
        if (results.empty()) {
          ec = std::make_error_code(std::errc::address_not_available);
          return;
        }
        at = results.begin()->endpoint();
      }
    }
    std::weak_ptr<endpoint_host> self = shared_from_this();
    if (options.tls) {
      endpoint = rt::make_tls_endpoint(io, options, self, ec);
      if (ec) return;
    } else {
      endpoint = rt::make_plain_endpoint(io, options, self, own_io && options.threads == 1);
    }
    endpoint->listen(at, ec);
    if (ec) {
      endpoint.reset();
      return;
    }
    bound_port = endpoint->port();
    phase_ = phase::running;
    if (!options.authenticate) {
      log(log_level::warning, "no authenticator is set: every connection will be closed with 4000");
    }
    asio::post(strand, [weak = weak_from_this()] {
      if (auto s = weak.lock()) s->arm_tick();
    });
    if (own_io) {
      work.emplace(own_io->get_executor());
      for (int i = 0; i < options.threads; ++i) {
        threads.emplace_back([this] { run_io(); });
      }
    }
    log(log_level::info, std::string("listening on ") + (options.tls ? "wss://" : "ws://") +
                             options.host + ":" + std::to_string(bound_port.load()) + options.path);
  }

  void run_io() {
    for (;;) {
      try {
        own_io->run();
        return;
      } catch (const std::exception& e) {
        log(log_level::error, std::string("exception in the I/O loop: ") + e.what());
      } catch (...) {
        log(log_level::error, "exception in the I/O loop");
      }
    }
  }

  void arm_tick() {  // on strand
    std::int64_t wait_ms = 100;
    {
      std::lock_guard<std::recursive_mutex> lock(mu);
      const phase p = phase_.load();
      if (p != phase::running && p != phase::draining) return;
      wait_ms = std::clamp<std::int64_t>(hub.next_deadline_ms() - clock.steady_ms(), 1, 100);
    }
    tick_timer.expires_after(std::chrono::milliseconds(wait_ms));
    tick_timer.async_wait([weak = weak_from_this()](const std::error_code& ec) {
      if (ec) return;
      if (auto s = weak.lock()) s->on_tick();
    });
  }

  void on_tick() {  // on strand
    {
      std::lock_guard<std::recursive_mutex> lock(mu);
      try {
        hub.tick();
      } catch (const std::exception& e) {
        log(log_level::error, std::string("hub.tick failed: ") + e.what());
      }
      check_stop_progress();
    }
    run_finished();
    arm_tick();
  }

  void begin_stop(std::function<void()> done) {
    {
      std::lock_guard<std::recursive_mutex> lock(mu);
      const phase p = phase_.load();
      if (p == phase::idle) {
        phase_ = phase::stopped;
        listener_closing = listener_closed = true;  // never listened
      }
      if (phase_.load() == phase::stopped) {
        if (done) (listener_closed ? finished : waiters).push_back(std::move(done));
      } else {
        if (done) waiters.push_back(std::move(done));
        if (p == phase::running) {
          phase_ = phase::draining;
          drain_started_ms = clock.steady_ms();
          log(log_level::info, "stopping: draining " + std::to_string(links.size()) + " sessions");
          try {
            hub.drain();
          } catch (const std::exception& e) {
            log(log_level::error, std::string("hub.drain failed: ") + e.what());
          }
          // The listener stays open while draining: upgrades get 503 (no new sessions) and
          // /healthz says 503, so that a load balancer sees the drain.
          check_stop_progress();
        }
      }
    }
    stopped_cv.notify_all();
    run_finished();
  }

  // With the lock held. Moves to `stopped` once every session has ended; past the deadline,
  // drops what is left.
  void check_stop_progress() {
    if (phase_.load() != phase::draining) return;
    bool done = links.empty() && hub.drained();
    if (!done) {
      const std::int64_t overrun =
          clock.steady_ms() - drain_started_ms - options.hub.drain_timeout_ms - close_handshake_ms;
      if (overrun >= terminate_margin_ms && !terminated) {
        terminated = true;
        log(log_level::warning,
            "stop overran its deadline: dropping " + std::to_string(links.size()) + " connections");
        for (auto& [id, l] : links) l->request_terminate();
      }
      if (overrun >= forget_margin_ms) {
        for (auto& [id, l] : links) {
          try {
            hub.closed(id, static_cast<protocol::close_code>(1006));
          } catch (...) {
          }
        }
        links.clear();
        done = true;
      }
    }
    if (!done) return;
    phase_ = phase::stopped;
    log(log_level::info, "stopped");
    close_listener();  // then the async_stop callbacks run
    asio::post(strand, [weak = weak_from_this()] {
      if (auto s = weak.lock()) s->tick_timer.cancel();
    });
    stopped_cv.notify_all();
  }

  // With the lock held: closes the listening socket (on its strand); listener_closed says when.
  // Then hands the async_stop callbacks to run_finished().
  void close_listener() {
    if (listener_closing) return;
    listener_closing = true;
    if (!endpoint) {
      listener_closed = true;
      for (auto& w : waiters) finished.push_back(std::move(w));
      waiters.clear();
      return;
    }
    endpoint->stop_listening([weak = weak_from_this()] {
      auto self = weak.lock();
      if (!self) return;
      {
        std::lock_guard<std::recursive_mutex> lock(self->mu);
        self->listener_closed = true;
        for (auto& w : self->waiters) self->finished.push_back(std::move(w));
        self->waiters.clear();
      }
      self->stopped_cv.notify_all();
      self->run_finished();
    });
  }

  // Runs the completion callbacks of a finished stop, outside the lock.
  void run_finished() {
    std::vector<std::function<void()>> run;
    {
      std::lock_guard<std::recursive_mutex> lock(mu);
      run.swap(finished);
    }
    for (auto& f : run) {
      try {
        f();
      } catch (...) {
        log(log_level::error, "a stop callback threw");
      }
    }
  }

  void stop() {
    // Waiting needs some other thread to run the io_context: not from one of its handlers, and
    // not when the host has stopped it.
    const bool cannot_wait =
        io.get_executor().running_in_this_thread() || (!own_io && io.stopped());
    begin_stop({});
    if (cannot_wait) return;
    {
      std::unique_lock<std::recursive_mutex> lock(mu);
      const auto bound = std::chrono::milliseconds(options.hub.drain_timeout_ms +
                                                   close_handshake_ms + forget_margin_ms + 2000);
      const auto is_stopped = [&] {
        return phase_.load() == phase::stopped && (!endpoint || listener_closed);
      };
      if (!stopped_cv.wait_for(lock, bound, is_stopped)) {
        log(log_level::error, "stop did not finish in time; giving up on the remaining sessions");
        links.clear();
        phase_ = phase::stopped;
        close_listener();
        for (auto& w : waiters) finished.push_back(std::move(w));
        waiters.clear();
        listener_closed = true;
      }
    }
    run_finished();
    join_threads();
  }

  void join_threads() {
    if (!own_io) return;
    work.reset();
    own_io->stop();
    for (auto& t : threads) {
      if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
    }
    threads.clear();
  }

  // Destruction: stop if still running, then make sure no thread is left.
  void shutdown() {
    const phase p = phase_.load();
    if (p == phase::running || p == phase::draining) {
      if (!own_io && (io.get_executor().running_in_this_thread() || io.stopped())) {
        begin_stop({});
        std::lock_guard<std::recursive_mutex> lock(mu);
        for (auto& [id, l] : links) l->request_terminate();
      } else {
        stop();
      }
    }
    join_threads();
  }

  // ---- state -----------------------------------------------------------------------------

  server_options options;
  std::unique_ptr<asio::io_context> own_io;  // first member of the I/O: destroyed last
  asio::io_context& io;
  asio::strand<asio::io_context::executor_type> strand;
  asio::steady_timer tick_timer;  // on strand
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  core::system_clock clock;

  // Guards the hub and everything below. Recursive: a handler (running inside a hub call) may
  // push through the server again.
  mutable std::recursive_mutex mu;
  std::condition_variable_any stopped_cv;
  core::hub hub;
  std::unordered_map<core::session_id, std::shared_ptr<rt::link>> links;
  std::unordered_map<core::session_id, std::pair<protocol::close_code, std::string>> early_closes;
  std::shared_ptr<rt::endpoint> endpoint;
  std::vector<std::function<void()>> waiters;   // async_stop callbacks until stopped
  std::vector<std::function<void()>> finished;  // callbacks to run outside the lock
  std::int64_t drain_started_ms = 0;
  bool terminated = false;
  bool opening = false;  // inside hub.open()
  bool listener_closing = false;
  bool listener_closed = false;

  std::atomic<phase> phase_{phase::idle};
  std::atomic<std::size_t> admitted{0};
  std::atomic<std::uint16_t> bound_port{0};
  std::filesystem::path static_root;
};

// ---- server_core ---------------------------------------------------------------------------

server_core::server_core(server_options options)
    : impl_(std::make_shared<impl>(nullptr, std::move(options))) {}

server_core::server_core(asio::io_context& io, server_options options)
    : impl_(std::make_shared<impl>(&io, std::move(options))) {}

server_core::~server_core() {
  try {
    impl_->shutdown();
  } catch (...) {
    // A destructor must not throw.
  }
}

void server_core::start(std::error_code& ec) noexcept {
  try {
    impl_->start(ec);
  } catch (const std::system_error& e) {
    ec = e.code();
  } catch (...) {
    ec = std::make_error_code(std::errc::not_enough_memory);
  }
}

std::uint16_t server_core::port() const noexcept { return impl_->bound_port.load(); }

void server_core::stop() { impl_->stop(); }

void server_core::async_stop(std::function<void()> done) { impl_->begin_stop(std::move(done)); }

void server_core::with_hub(const std::function<void(core::hub&)>& fn) const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  fn(impl_->hub);
}

void server_core::log_handler_failure(std::string_view what) noexcept {
  try {
    impl_->log(log_level::error, std::string("a handler threw: ") + std::string(what));
  } catch (...) {
  }
}

const server_options& server_core::options() const noexcept { return impl_->options; }

}  // namespace detail
}  // namespace roomwire
