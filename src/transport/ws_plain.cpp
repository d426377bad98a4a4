// The plain (ws://) endpoint: RFC 6455 written straight on Asio's TCP socket, reactor style.
// websocketpp is not used here (it still carries wss://, ws_tls.cpp): a connection of its own
// costs far less memory, and the hot path is ours:
// - reads go into a per-thread buffer and are parsed there (ws_wire.hpp): an idle connection
//   holds no read buffer, and a message that arrives whole is handed to the hub without a copy;
// - every frame the hub pops is framed once (header and payload in one shared string, shared by
//   every recipient) and a connection's queued frames leave in one non-blocking write;
// - whatever a read causes for its own connection (an acknowledgement) is written in the same
//   turn, before the thread goes back to epoll.
//
// Threading: each connection runs its handlers on its executor: a strand of its own. Its state is
// touched only there; the core reaches it through request_*(), which post to the executor. On a
// server with one I/O thread of its own (settings::one_io_thread) nothing else can run at the
// same time, so the executor is the io_context itself (a strand would cost a lock and a second
// pass through the scheduler per completion), and the connections woken on that thread are
// pumped from one posted task (see join_batch()).

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <asio/bind_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

#include "transport/endpoint.hpp"
#include "transport/http.hpp"
#include "transport/listen_socket.hpp"
#include "transport/read_credit.hpp"
#include "transport/ws_wire.hpp"

namespace roomwire::transport {

namespace {

using tcp = asio::ip::tcp;
using io_executor = asio::io_context::executor_type;
using strand_type = asio::strand<io_executor>;
using shared_bytes = std::shared_ptr<const std::string>;

constexpr std::int64_t close_handshake_ms = 5000;
constexpr std::size_t read_chunk = 64 * 1024;
constexpr int reads_per_turn = 4;  // then other connections get their turn
constexpr int pump_rounds_per_turn = 16;
constexpr int accepts_per_turn = 64;
// While reads keep coming, a posted pump lets the reads queued behind it run first, up to this
// many times, so that what they bring this session leaves in the same write (see post_pump).
constexpr int max_pump_deferrals = 3;

// Reads (turns of on_readable) and pumps posted on this thread: how post_pump and on_readable
// tell a busy event loop from an idle one.
thread_local std::uint64_t reads_on_thread = 0;
thread_local std::uint64_t pumps_posted_on_thread = 0;

// The read buffer of the thread: connections parse in it and keep only what is unfinished.
char* thread_read_buffer() {
  thread_local std::unique_ptr<char[]> buffer(new char[read_chunk]);
  return buffer.get();
}

// Frames that fit together in this many bytes are written from one copy (see write_next()).
constexpr std::size_t flatten_limit = 16 * 1024;
constexpr std::size_t max_gather = 64;  // frames per gathered write otherwise

char* thread_write_buffer() {
  thread_local std::unique_ptr<char[]> buffer(new char[flatten_limit]);
  return buffer.get();
}

std::string remote_of(const tcp::socket& socket) {
  std::error_code ec;
  const auto at = socket.remote_endpoint(ec);
  if (ec) return "unknown";
  const auto address = at.address();
  return (address.is_v6() ? "[" + address.to_string() + "]" : address.to_string()) + ":" +
         std::to_string(at.port());
}

struct settings {
  std::size_t max_message_bytes;
  std::int64_t handshake_timeout_ms;
  std::int64_t ping_interval_ms;
  std::int64_t pong_timeout_ms;
  // Every handler of the io_context runs on one thread, the server's own (server_options::threads
  // is 1 and the host did not pass an io_context).
  bool one_io_thread;
  bool pace_readers;  // server_options::pace_readers
};

class connection final : public link,
                         public ws::frame_sink,
                         public std::enable_shared_from_this<connection> {
 public:
  // socket: on io. The handlers run on a strand of their own, except on a server whose only I/O
  // thread is its own (settings::one_io_thread).
  connection(tcp::socket socket, io_executor io, std::weak_ptr<endpoint_host> host,
             const settings& s)
      : socket_(std::move(socket)),
        io_(io),
        strand_(s.one_io_thread ? std::nullopt : std::optional(asio::make_strand(io))),
        deadline_(socket_.get_executor()),
        ping_timer_(socket_.get_executor()),
        host_(std::move(host)),
        settings_(s),
        reader_(s.max_message_bytes) {}

  // On the executor, once.
  void start() {
    set_accepted_options(socket_.native_handle());
    std::error_code ec;
    socket_.non_blocking(true, ec);
    arm_deadline(settings_.handshake_timeout_ms, [](connection& c) {
      if (c.state_ != state::request && c.state_ != state::answering) return;
      if (c.state_ == state::request) c.handshake_failed("handshake timed out");
      c.end(ws::close_abnormal);
    });
    wait_readable();
  }

  // Runs f on this connection's executor. Thread-safe.
  template <class F>
  void post(F f) {
    if (strand_) {
      asio::post(*strand_, std::move(f));
    } else {
      asio::post(io_, std::move(f));
    }
  }

  // ---- link (thread-safe) -----------------------------------------------------------------

  void request_pump() override {
    if (pump_requested_.exchange(true)) return;  // a turn or a posted pump will take it
    if (on_own_turn()) return;                   // this turn ends with a pump
    post_pump();
  }

  void request_close(protocol::close_code code, std::string reason) override {
    post([self = shared_from_this(), code, r = std::move(reason)] {
      self->close_now(static_cast<int>(code), r);
      self->end_turn();
    });
  }

  void request_terminate() override {
    post([self = shared_from_this()] { self->end(self->end_code()); });
  }

  // ---- link (inside endpoint_host::pump, on the executor) -----------------------------------

  std::size_t buffered() const override { return unsent_; }
  std::size_t send_window() override {
    return pacing_ ? pacing_->credit.allowance(high_water(), steady_ns()) : high_water();
  }
  // While pacing, a priority-0 frame goes past the window and the rate (read_credit.hpp).
  std::size_t critical_window() override {
    return pacing_ && pacing_->credit.active() ? high_water() : 0;
  }

  void send(const core::frame& f) override {
    shared_bytes bytes = f.prepared<std::string>([](const std::string& text) {
      return std::make_shared<const std::string>(ws::encode_frame(ws::text, text));
    });
    if (settings_.pace_readers) watch(bytes->size(), f.priority);
    queue(std::move(bytes));
  }

  // ---- ws::frame_sink (on the executor, inside a read) --------------------------------------

  void on_message(std::string_view text) override {
    if (state_ != state::open) return;
    if (auto host = host_.lock()) host->on_text(session, text);
  }

  void on_ping(std::string_view payload) override {
    if (state_ == state::open) queue_control(ws::pong, payload);
  }

  void on_pong(std::string_view payload) override {
    if (pacing_ && pacing_->credit.on_pong(payload, steady_ns())) {
      read_credit& credit = pacing_->credit;
      if (credit.caught_up() && unsent_ == 0 && !pump_again_) credit.stop();
      pump_requested_ = true;  // the window moved: this turn ends with a pump
    }
    if (!awaiting_pong_) return;
    awaiting_pong_ = false;
    if (state_ == state::open) cancel_deadline();
  }

  void on_close(int code, std::string_view reason) override {
    peer_closed_ = true;
    peer_code_ = code;
    if (state_ == state::open) {
      // The peer began the close: answer with its code (a close without one with 1000).
      state_ = state::closing;
      stop_heartbeat();
      const int answer = code == ws::close_no_status ? ws::close_normal : code;
      queue_control(ws::close, ws::close_payload(answer, reason));
      arm_close_deadline();
    }
    // Ours was sent first: the handshake is done once it has left (see flushed()).
  }

  void on_violation(int code, const char* why) override {
    if (state_ == state::open) {
      close_now(code, why);
      half_close_after_flush_ = true;  // its reader will not send a close frame we could read
    }
  }

 private:
  enum class state : std::uint8_t {
    request,    // reading the HTTP request
    answering,  // writing an HTTP answer, then closing
    open,       // upgraded
    closing,    // a close frame sent or being answered
    ended,
  };

  // ---- turns --------------------------------------------------------------------------------

  void wait_readable() { wait_until<tcp::socket::wait_read>(); }
  // The socket was full (flush()): the turn goes on when it takes more.
  void wait_writable() { wait_until<tcp::socket::wait_write>(); }

  // One wait of each kind at a time (reading_, writing_); the socket ready, the connection reads
  // (on_readable) or goes on writing (end_turn).
  template <tcp::socket::wait_type Ready>
  void wait_until() {
    if (waiting<Ready>() || state_ == state::ended) return;
    waiting<Ready>() = true;
    start_async([this](auto handler) { socket_.async_wait(Ready, std::move(handler)); },
                [self = shared_from_this()](const std::error_code& ec) {
                  connection& c = *self;
                  c.waiting<Ready>() = false;
                  if (c.state_ == state::ended || ec == asio::error::operation_aborted) return;
                  if (ec) {
                    c.lost(ec);
                    return;
                  }
                  if constexpr (Ready == tcp::socket::wait_read) {
                    c.on_readable();
                  } else {
                    c.end_turn();
                  }
                });
  }

  template <tcp::socket::wait_type Ready>
  bool& waiting() {
    return Ready == tcp::socket::wait_read ? reading_ : writing_;
  }

  void on_readable() {
    ++reads_on_thread;
    const std::uint64_t posted_before = pumps_posted_on_thread;
    in_turn_ = true;
    char* buffer = thread_read_buffer();
    for (int i = 0; i < reads_per_turn && state_ != state::ended; ++i) {
      std::error_code read_ec;
      const std::size_t n = socket_.read_some(asio::buffer(buffer, read_chunk), read_ec);
      if (read_ec == asio::error::would_block || read_ec == asio::error::try_again) break;
      if (read_ec) {
        in_turn_ = false;
        lost(read_ec);
        return;
      }
      received(buffer, n);
      if (n < read_chunk) break;
    }
    if (pumps_posted_on_thread != posted_before && state_ != state::ended) {
      // What was read went to other sessions too, whose writes come after the reads queued now:
      // this session's own frames (its acknowledgement) wait with them and leave together with
      // what those reads bring it. Alone (an acknowledgement only) they leave now: posting would
      // cost an extra epoll_wait.
      in_turn_ = false;
      pump_requested_ = true;
      post_pump();
    } else {
      end_turn();
    }
    wait_readable();
  }

  // Running on this connection's executor.
  bool on_executor() const {
    return strand_ ? strand_->running_in_this_thread() : io_.running_in_this_thread();
  }

  // On the server's only I/O thread (no strand: settings::one_io_thread): pumps may join the
  // batch.
  bool on_only_io_thread() const { return !strand_ && on_executor(); }

  // True inside this connection's own turn (on_readable, end_turn), on the thread running it.
  // The thread is checked first: another thread must not read in_turn_.
  bool on_own_turn() const { return on_executor() && in_turn_; }

  // Starts an asynchronous operation (start takes the completion handler) whose handler runs on
  // this connection's executor.
  template <class Start, class Handler>
  void start_async(Start start_with, Handler handler) {
    if (strand_) {
      start_with(asio::bind_executor(*strand_, std::move(handler)));
    } else {
      start_with(std::move(handler));  // runs on io_, the socket's and the timers' executor
    }
  }

  // A pump after the handlers queued now. While reads keep coming (the thread read since this
  // was posted) it steps back behind them, at most max_pump_deferrals times: under load a
  // session's frames of several event-loop batches leave in one write instead of one write per
  // batch, as the raw peer does with its 512-event turns (docs/benchmarks.md, chat). An idle loop
  // reads nothing meanwhile, so the pump runs at once.
  void post_pump(int deferrals = 0) {
    ++pumps_posted_on_thread;
    if (deferrals == 0 && on_only_io_thread()) {
      join_batch();
      return;
    }
    post([self = shared_from_this(), deferrals, reads = reads_on_thread] {
      if (deferrals < max_pump_deferrals && reads_on_thread != reads) {
        self->post_pump(deferrals + 1);
        return;
      }
      self->end_turn();
    });
  }

  // ---- one I/O thread: pumps in batches ------------------------------------------------------
  //
  // A room message wakes every member: a post to each one costs an allocation and the
  // scheduler's lock. On the only I/O thread the connections woken there wait in one list
  // instead, pumped by one posted task (which steps back behind reads as post_pump does). Weak
  // references: a connection that ended meanwhile is skipped.

  struct pump_batch {
    std::vector<std::weak_ptr<connection>> waiting;
    bool posted = false;
  };

  static pump_batch& thread_batch() {
    thread_local pump_batch batch;
    return batch;
  }

  void join_batch() {
    pump_batch& batch = thread_batch();
    batch.waiting.push_back(weak_from_this());
    if (batch.posted) return;
    batch.posted = true;
    post_batch(io_, 0);
  }

  static void post_batch(io_executor io, int deferrals) {
    asio::post(io, [io, deferrals, reads = reads_on_thread] {
      if (deferrals < max_pump_deferrals && reads_on_thread != reads) {
        post_batch(io, deferrals + 1);
        return;
      }
      pump_batch& batch = thread_batch();
      std::vector<std::weak_ptr<connection>> now;
      now.swap(batch.waiting);  // those woken while these are pumped form the next batch
      batch.posted = false;
      std::size_t done = 0;
      try {
        for (; done < now.size(); ++done) {
          if (auto c = now[done].lock()) c->end_turn();
        }
      } catch (...) {
        // Out of memory, say: the I/O loop logs it and goes on; the rest still get their pump.
        batch.waiting.insert(batch.waiting.end(),
                             now.begin() + static_cast<std::ptrdiff_t>(done + 1), now.end());
        if (!batch.waiting.empty() && !batch.posted) {
          batch.posted = true;
          post_batch(io, 0);
        }
        throw;
      }
      now.clear();
      if (batch.waiting.empty()) batch.waiting.swap(now);  // keep the capacity
    });
  }

  // Pumps the hub's frames for this session (when asked, or when it has more) and writes them,
  // as long as the socket takes them.
  void end_turn() {
    if (state_ == state::ended) return;
    // Pumps asked for meanwhile (an acknowledgement the hub queued for this session) are taken
    // by this loop rather than posted.
    in_turn_ = true;
    bool more = false;
    for (int round = 0; round < pump_rounds_per_turn; ++round) {
      if (pump_requested_.exchange(false) || pump_again_) {
        run_pump();
        ping_behind_pump();
      }
      if (!flush()) break;  // the socket is full: wait_writable() calls back here
      if (pump_again_ && paced_out()) {
        // The reader has a window's worth unread: the pong to the ping behind it (queued by
        // ping_behind_pump(), since the window is used up) pumps again (on_pong).
        await_pong();
        break;
      }
      if (pump_again_ && held()) {
        // The reader is sent at most a share of its rate: a timer pumps again.
        await_rate();
        break;
      }
      more = pump_again_ || pump_requested_.load();
      if (!more) {
        // Caught up, unless the kernel still holds what holds_back() waits for.
        if (pressed_ && !kernel_unsent_at_limit()) pressed_ = false;
        break;
      }
    }
    in_turn_ = false;
    if (more && state_ != state::ended && !writing_) {
      // Still more after every round: let other connections have a turn first.
      pump_requested_ = true;
      post_pump();
    }
  }

  void run_pump() {
    pump_again_ = false;
    if (state_ != state::open) return;
    if (auto host = host_.lock()) pump_again_ = host->pump(*this);
  }

  // ---- pacing a reader that is behind (read_credit.hpp) --------------------------------------

  struct pacing {
    explicit pacing(const tcp::socket::executor_type& ex) : patience(ex), rate(ex) {}
    read_credit credit;
    asio::steady_timer patience;
    asio::steady_timer rate;
    bool patience_armed = false;
    bool rate_armed = false;
  };

  // Allocated once a connection is first behind or handed frames fast: one that never is pays
  // nothing for it but watch_.
  pacing& pacing_state() {
    if (!pacing_) {
      pacing_ = std::make_unique<pacing>(socket_.get_executor());
      pacing_->credit.seed_round_trip(kernel_round_trip_ns(socket_.native_handle()));
    }
    return *pacing_;
  }

  // The socket refused bytes: from now on the reader's pongs say how much it may have unread (if
  // the connection carries more than one priority: read_credit.hpp).
  void start_pacing() {
    if (!settings_.pace_readers || state_ != state::open || !watch_.mixed()) return;
    pacing_state().credit.start(steady_ns());
    ping_behind_pump();  // the first pong says when the reader has read what it holds now
  }

  // A frame of `bytes` handed over, with pacing on: a connection handed small frames of several
  // priorities fast probes its reader, which may be behind long before its socket refuses bytes
  // (ping_behind_pump() queues the probe).
  void watch(std::size_t bytes, protocol::priority priority) {
    if (pacing_) pacing_->credit.handed(bytes);
    const bool fast = watch_.handed(bytes, static_cast<unsigned>(priority), steady_ms);
    if (fast && state_ == state::open) pacing_state().credit.probe();
  }

  bool paced_out() const { return pacing_ && pacing_->credit.exhausted(); }
  // How much the connection may hold: less once the kernel has held its limit (pressed_).
  std::size_t high_water() const { return pressed_ ? pressed_send_high_water : send_high_water; }
  bool held() const { return pacing_ && pacing_->credit.hold_ns(steady_ns()) > 0; }

  // Held back by the reader's rate: pump again once it lets frames go.
  void await_rate() {
    if (pacing_->rate_armed) return;
    pacing_->rate_armed = true;
    pacing_->rate.expires_after(std::chrono::nanoseconds(pacing_->credit.hold_ns(steady_ns())));
    start_async([this](auto handler) { pacing_->rate.async_wait(std::move(handler)); },
                [self = shared_from_this()](const std::error_code& ec) {
                  connection& c = *self;
                  if (ec || c.state_ == state::ended || !c.pacing_) return;
                  c.pacing_->rate_armed = false;
                  c.end_turn();
                });
  }

  // A ping behind the frames queued, when read_credit wants one (always once the window is used
  // up: no pong would come otherwise), or a probe.
  void ping_behind_pump() {
    if (!pacing_ || state_ != state::open || !pacing_->credit.ping_due(unsent_)) return;
    queue_credit_ping();
  }

  void queue_credit_ping() {
    queue_control(ws::ping, pacing_->credit.ping_payload(unsent_, steady_ns()));
  }

  // Paced out: a reader that stopped answering pings must not stall its connection. After
  // read_credit::patience_ns without a pong, it is written to as if it were not paced.
  void await_pong() {
    if (pacing_->patience_armed) return;
    pacing_->patience_armed = true;
    const std::int64_t since = steady_ns() - pacing_->credit.last_progress_ns();
    const std::int64_t left = std::max<std::int64_t>(read_credit::patience_ns - since, 1'000'000);
    pacing_->patience.expires_after(std::chrono::nanoseconds(left));
    start_async([this](auto handler) { pacing_->patience.async_wait(std::move(handler)); },
                [self = shared_from_this()](const std::error_code& ec) {
                  connection& c = *self;
                  if (ec || c.state_ == state::ended || !c.pacing_) return;
                  c.pacing_->patience_armed = false;
                  if (!c.paced_out()) return;
                  if (c.pacing_->credit.lost_patience(steady_ns())) {
                    if (auto host = c.host_.lock()) {
                      host->log(log_level::debug, "session " + std::to_string(c.session) +
                                                      ": no pong to a pacing ping in time; "
                                                      "writing unpaced");
                    }
                    c.end_turn();
                  } else {
                    c.await_pong();
                  }
                });
  }

  // ---- writing ------------------------------------------------------------------------------

  void queue(shared_bytes bytes) {
    if (state_ == state::ended || bytes->empty()) return;
    unsent_ += bytes->size();
    out_.push_back(std::move(bytes));
  }

  void queue_control(ws::opcode op, std::string_view payload) {
    queue(std::make_shared<const std::string>(ws::encode_frame(op, payload)));
  }

  // Writes what is queued without blocking. True when nothing is left.
  bool flush() {
    if (state_ == state::ended) return false;
    if (writing_) return false;
    while (head_ < out_.size()) {
      if (pressed_ && holds_back(out_[head_]->size() - offset_)) {
        wait_writable();
        return false;
      }
      std::error_code ec;
      std::size_t n = write_next(ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        pressed_ = true;
        start_pacing();
        wait_writable();
        return false;
      }
      if (ec) {
        lost(ec);
        return false;
      }
      unsent_ -= n;
      if (pacing_) pacing_->credit.wrote(n);
      while (n > 0) {
        const std::size_t left = out_[head_]->size() - offset_;
        if (n < left) {
          offset_ += n;
          break;
        }
        n -= left;
        out_[head_++].reset();
        offset_ = 0;
      }
    }
    out_.clear();
    if (out_.capacity() > 256) out_.shrink_to_fit();
    head_ = 0;
    offset_ = 0;
    flushed();
    return state_ != state::ended;
  }

  // Whether a connection whose socket was full waits for it before writing the next `next_bytes`
  // of its queue: when those are under unsent_bytes_limit and the kernel already holds as many
  // unsent (listen_socket.hpp). A larger frame is written as before: a critical frame cannot
  // overtake it anyway, and holding it back cost a fifth of the capacity for 64 KiB messages.
  bool holds_back(std::size_t next_bytes) {
    return next_bytes < unsent_bytes_limit && kernel_unsent_at_limit();
  }
  bool kernel_unsent_at_limit() {
    return transport::kernel_unsent_at_limit(socket_.native_handle());
  }

  // One write of what is queued from head_ on; how many bytes the socket took.
  //
  // Two or more frames that fit in flatten_limit bytes are copied into one buffer of the thread
  // and written as one segment: the kernel's copy costs it per segment, more than the copy here
  // (room fan-out of small messages; docs/benchmarks.md, "Gathered writes copied").
  // Otherwise (one frame, or large ones) up to 64 frames are gathered as they are.
  std::size_t write_next(std::error_code& ec) {
    const auto segment = [this](std::size_t i) {
      const std::string& bytes = *out_[i];
      const std::size_t skip = i == head_ ? offset_ : 0;
      return asio::const_buffer(bytes.data() + skip, bytes.size() - skip);
    };
    std::size_t fit = 0;
    std::size_t total = 0;
    for (std::size_t i = head_; i < out_.size(); ++i) {
      const std::size_t size = segment(i).size();
      if (total + size > flatten_limit) break;
      total += size;
      ++fit;
    }
    if (fit >= 2) {
      char* flat = thread_write_buffer();
      std::size_t at = 0;
      for (std::size_t i = head_; i < head_ + fit; ++i) {
        const asio::const_buffer b = segment(i);
        std::memcpy(flat + at, b.data(), b.size());
        at += b.size();
      }
      return socket_.write_some(asio::buffer(flat, total), ec);
    }
    thread_local std::vector<asio::const_buffer> gather;
    gather.clear();
    for (std::size_t i = head_; i < out_.size() && gather.size() < max_gather; ++i) {
      gather.push_back(segment(i));
    }
    return socket_.write_some(gather, ec);
  }

  // Everything queued has left.
  void flushed() {
    if (state_ == state::answering) {
      shut_down();
      end_quietly();
    } else if (state_ == state::closing && close_sent_ && peer_closed_) {
      // The close handshake is complete: the server closes the TCP connection (RFC 6455 §7.1.1).
      shut_down();
      end(end_code());
    } else if (state_ == state::closing && half_close_after_flush_) {
      half_close_after_flush_ = false;
      std::error_code ignored;
      socket_.shutdown(tcp::socket::shutdown_send, ignored);
    }
  }

  // ---- the HTTP request ---------------------------------------------------------------------

  void received(char* data, std::size_t n) {
    switch (state_) {
      case state::request:
        request_.append(data, n);
        read_request();
        return;
      case state::open:
      case state::closing:
        if (!reader_.stopped()) reader_.consume(data, n, *this);
        return;
      default:
        return;  // an HTTP answer is on its way, or the connection is over
    }
  }

  void read_request() {
    const auto head_end = request_.find("\r\n\r\n");
    if (head_end == std::string::npos) {
      if (request_.size() > max_request_head_bytes) {
        answer(431, "request header fields too large\n", "request head too large");
      }
      return;
    }
    const std::size_t body_at = head_end + 4;
    if (body_at > max_request_head_bytes) {
      answer(431, "request header fields too large\n", "request head too large");
      return;
    }
    auto head = parse_request_head(std::string_view(request_).substr(0, body_at));
    if (!head) {
      answer(400, "bad request\n", "malformed request");
      return;
    }
    request_info info;
    info.method = head->method;
    info.target = head->target;
    info.origin = head->field("Origin");
    info.authorization = head->field("Authorization");
    info.remote = remote_of(socket_);

    if (!head->field_has_token("Upgrade", "websocket")) {
      // A plain HTTP request: its body (if any) is read and ignored before the answer.
      if (head->field("Transfer-Encoding")) {
        answer(501, "chunked request bodies are not supported\n", "chunked request body");
        return;
      }
      std::size_t length = 0;
      if (const auto value = head->field("Content-Length")) {
        char* end = nullptr;
        errno = 0;
        const unsigned long long parsed = std::strtoull(value->c_str(), &end, 10);
        if (value->empty() || *end != '\0' || errno != 0 || (*value)[0] == '-') {
          answer(400, "bad request\n", "malformed Content-Length");
          return;
        }
        if (parsed > max_request_body_bytes) {
          answer(413, "request body too large\n", "request body too large");
          return;
        }
        length = static_cast<std::size_t>(parsed);
      }
      if (request_.size() < body_at + length) return;  // more body to come
      auto host = host_.lock();
      if (!host) {
        answer(503, "shutting down\n", "");  // a plain HTTP request: no handshake failed
        return;
      }
      http_reply reply = host->on_http(info);
      send_answer(reply);
      return;
    }
    upgrade(*head, info, body_at);
  }

  void upgrade(const request_head& head, const request_info& info, std::size_t frames_at) {
    const auto key = head.field("Sec-WebSocket-Key");
    if (head.method != "GET" || head.minor_version < 1 || !head.field("Host") ||
        !head.field_has_token("Connection", "upgrade") || !key || key->empty()) {
      answer(400, "bad request\n", "invalid WebSocket handshake");
      return;
    }
    if (head.field("Sec-WebSocket-Version") != std::optional<std::string>("13")) {
      answer(400, "unsupported WebSocket version\n", "unsupported WebSocket version",
             {{"Sec-WebSocket-Version", "13"}});
      return;
    }
    auto host = host_.lock();
    if (!host) {
      answer(503, "shutting down\n", "server is shutting down");
      return;
    }
    upgrade_decision decision = host->on_upgrade(info);
    if (decision.refuse_status != 0) {
      answer(decision.refuse_status, std::move(decision.body),
             "connection rejected (HTTP " + std::to_string(decision.refuse_status) + ")");
      return;
    }
    admitted_ = true;
    queue(std::make_shared<const std::string>(
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        "Sec-WebSocket-Accept: " +
        ws::accept_key(*key) + "\r\nServer: roomwire\r\n\r\n"));
    // Frames the client sent right behind its request.
    std::string early = request_.substr(frames_at);
    std::string().swap(request_);
    state_ = state::open;
    cancel_deadline();

    if (!decision.who) {
      // §1: the upgrade completes, then a 4000 close and nothing else.
      host->on_rejected(info.remote);
      close_now(ws::as_int(protocol::close_code::invalid_authentication), "invalid authentication");
      return;
    }
    session = host->on_open(shared_from_this(), std::move(*decision.who));
    if (session == 0) {
      close_now(ws::close_going_away, "server is shutting down");
      return;
    }
    start_heartbeat();
    if (!early.empty()) reader_.consume(early.data(), early.size(), *this);
  }

  // An HTTP answer to a request that does not become a session; a failed handshake (reported to
  // the host) unless `failure` is empty.
  void answer(int status, std::string body, const std::string& failure,
              std::vector<std::pair<std::string, std::string>> headers = {}) {
    http_reply reply;
    reply.status = status;
    reply.body = std::move(body);
    reply.headers = std::move(headers);
    send_answer(reply);
    if (!failure.empty()) handshake_failed(failure);
  }

  void send_answer(const http_reply& reply) {
    std::string().swap(request_);
    state_ = state::answering;
    queue(std::make_shared<const std::string>(format_response(reply, true)));
  }

  void handshake_failed(const std::string& why) {
    if (auto host = host_.lock()) host->on_handshake_failed(why, remote_of(socket_));
  }

  // ---- closing ------------------------------------------------------------------------------

  // A close of our own (hub, heartbeat, a broken rule): a close frame behind what is queued; the
  // TCP connection is dropped if the handshake has not finished 5 s later.
  void close_now(int code, std::string_view reason) {
    if (state_ != state::open) return;
    state_ = state::closing;
    requested_code_ = code;
    stop_heartbeat();
    queue_control(ws::close, ws::close_payload(code, reason));
    arm_close_deadline();
  }

  // Our close frame is queued: the peer has close_handshake_ms to answer it.
  void arm_close_deadline() {
    close_sent_ = true;
    arm_deadline(close_handshake_ms, [](connection& c) {
      if (c.state_ != state::ended) c.end(c.end_code());
    });
  }

  // The close code the core is told.
  int end_code() const noexcept {
    if (requested_code_ != 0) return requested_code_;
    if (peer_closed_) return peer_code_ == ws::close_no_status ? ws::close_normal : peer_code_;
    return ws::close_abnormal;
  }

  // The TCP connection failed or the peer closed it.
  void lost(const std::error_code&) {
    if (state_ == state::request) {
      handshake_failed("connection closed during the handshake");
      end_quietly();
      return;
    }
    end(end_code());
  }

  void shut_down() {
    std::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
  }

  // A connection that never became a session.
  void end_quietly() { end(0); }

  // Exactly once: stops everything and tells the core.
  void end(int code) {
    if (state_ == state::ended) return;
    state_ = state::ended;
    in_turn_ = false;
    stop_heartbeat();
    cancel_deadline();
    if (pacing_) {
      pacing_->patience.cancel();
      pacing_->rate.cancel();
    }
    std::error_code ignored;
    socket_.close(ignored);
    out_.clear();
    out_.shrink_to_fit();
    unsent_ = 0;
    std::string().swap(request_);
    auto host = host_.lock();
    if (host && session != 0) host->on_closed(session, code);
    if (host && admitted_) host->on_admitted_end();
    admitted_ = false;
  }

  // ---- timers -------------------------------------------------------------------------------

  // One timer for the deadline of the moment: the handshake, a pong, the close handshake.
  template <class OnExpiry>
  void arm_deadline(std::int64_t ms, OnExpiry on_expiry) {
    const std::uint32_t generation = ++deadline_generation_;
    if (ms <= 0) {
      deadline_.cancel();
      return;
    }
    deadline_.expires_after(std::chrono::milliseconds(ms));
    start_async(
        [this](auto handler) { deadline_.async_wait(std::move(handler)); },
        [self = shared_from_this(), generation, on_expiry](const std::error_code& ec) {
          if (ec || self->deadline_generation_ != generation || self->state_ == state::ended) {
            return;
          }
          on_expiry(*self);
          self->end_turn();
        });
  }

  void cancel_deadline() {
    ++deadline_generation_;
    deadline_.cancel();
  }

  void start_heartbeat() {
    if (settings_.ping_interval_ms <= 0) return;
    ping_timer_.expires_after(std::chrono::milliseconds(settings_.ping_interval_ms));
    start_async([this](auto handler) { ping_timer_.async_wait(std::move(handler)); },
                [self = shared_from_this()](const std::error_code& ec) {
                  if (!ec) self->ping_due();
                });
  }

  void stop_heartbeat() {
    ping_timer_.cancel();
    awaiting_pong_ = false;
  }

  void ping_due() {
    if (state_ != state::open) return;
    // The deadline runs from the oldest ping not yet answered (§1).
    if (!awaiting_pong_ && settings_.pong_timeout_ms > 0) {
      awaiting_pong_ = true;
      arm_deadline(settings_.pong_timeout_ms, [](connection& c) {
        if (c.state_ != state::open || !c.awaiting_pong_) return;
        if (auto host = c.host_.lock()) {
          host->log(log_level::debug, "session " + std::to_string(c.session) +
                                          ": no pong in time, closing with 1001");
        }
        c.close_now(ws::close_going_away, "pong timeout");
      });
    }
    // A reader being paced or probed may answer only the latest ping (RFC 6455 §5.5.3): this one
    // then carries the pacing payload too.
    if (pacing_) {
      queue_credit_ping();
    } else {
      queue_control(ws::ping, {});
    }
    start_heartbeat();
    end_turn();
  }

  tcp::socket socket_;
  const io_executor io_;
  // Where the handlers run: this strand, or, without one (settings::one_io_thread), straight on
  // io_: nothing else can run meanwhile. A strand would cost a lock, a second pass through the
  // scheduler per completion and memory per connection.
  const std::optional<strand_type> strand_;
  asio::steady_timer deadline_;
  asio::steady_timer ping_timer_;
  std::weak_ptr<endpoint_host> host_;
  const settings settings_;
  std::atomic<bool> pump_requested_{false};

  // Touched only on the executor.
  std::string request_;  // the HTTP request, until it has been answered
  ws::frame_reader reader_;
  std::vector<shared_bytes> out_;  // frames not yet written, from head_, the first at offset_
  std::size_t head_ = 0;
  std::size_t offset_ = 0;
  std::size_t unsent_ = 0;
  std::uint32_t deadline_generation_ = 0;
  int requested_code_ = 0;
  int peer_code_ = 0;
  state state_ = state::request;
  bool in_turn_ = false;
  bool pump_again_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool pressed_ = false;  // the socket was full since the connection last caught up
  bool admitted_ = false;
  bool close_sent_ = false;
  bool peer_closed_ = false;
  bool half_close_after_flush_ = false;
  bool awaiting_pong_ = false;
  stream_watch watch_;              // with pacing on: what the connection is handed
  std::unique_ptr<pacing> pacing_;  // once the connection has been behind or fast
};

class plain_endpoint final : public endpoint, public std::enable_shared_from_this<plain_endpoint> {
 public:
  plain_endpoint(asio::io_context& io, const server_options& options,
                 std::weak_ptr<endpoint_host> host, bool one_io_thread)
      : io_(io),
        strand_(asio::make_strand(io)),
        acceptor_(io),
        retry_timer_(strand_),
        host_(std::move(host)),
        settings_{options.max_message_bytes, options.handshake_timeout_ms, options.ping_interval_ms,
                  options.pong_timeout_ms, one_io_thread, options.pace_readers} {}

  void listen(const tcp::endpoint& at, std::error_code& ec) override {
    // Non-blocking: connections are taken with accept4 until none is left.
    port_ = open_listening(acceptor_, at, SOCK_NONBLOCK, ec);
    if (ec) return;
    protocol_ = at.protocol();
    asio::post(strand_, [self = shared_from_this()] { self->wait_acceptable(); });
  }

  std::uint16_t port() const noexcept override { return port_; }

  void stop_listening(std::function<void()> done) override {
    asio::post(strand_, [self = shared_from_this(), done = std::move(done)] {
      std::error_code ignored;
      self->acceptor_.close(ignored);
      self->retry_timer_.cancel();
      if (done) done();
    });
  }

 private:
  void wait_acceptable() {
    if (!acceptor_.is_open()) return;
    acceptor_.async_wait(
        tcp::acceptor::wait_read,
        asio::bind_executor(strand_, [self = shared_from_this()](const std::error_code& ec) {
          if (!self->acceptor_.is_open()) return;
          if (ec) {
            self->log_warning("accept failed: " + ec.message());
            self->retry_later();
            return;
          }
          self->accept_ready();
        }));
  }

  void accept_ready() {
    for (int i = 0; i < accepts_per_turn; ++i) {
      const int fd =
          ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) {
        const int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK) break;
        if (e == EINTR || e == ECONNABORTED || e == EPROTO) continue;
        // Out of descriptors and the like: do not spin.
        log_warning("accept failed: " + std::error_code(e, std::system_category()).message());
        retry_later();
        return;
      }
      tcp::socket socket(io_);
      std::error_code ec;
      socket.assign(protocol_, fd, ec);
      if (ec) {
        ::close(fd);
        continue;
      }
      auto c =
          std::make_shared<connection>(std::move(socket), io_.get_executor(), host_, settings_);
      c->post([c] { c->start(); });
    }
    wait_acceptable();
  }

  void retry_later() {
    retry_timer_.expires_after(std::chrono::milliseconds(100));
    retry_timer_.async_wait([self = shared_from_this()](const std::error_code& ec) {
      if (!ec) self->wait_acceptable();
    });
  }

  void log_warning(const std::string& line) {
    if (auto host = host_.lock()) host->log(log_level::warning, line);
  }

  asio::io_context& io_;
  strand_type strand_;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_timer_;
  std::weak_ptr<endpoint_host> host_;
  const settings settings_;
  tcp protocol_ = tcp::v4();
  std::atomic<std::uint16_t> port_{0};
};

}  // namespace

std::shared_ptr<endpoint> make_plain_endpoint(asio::io_context& io, const server_options& options,
                                              std::weak_ptr<endpoint_host> host,
                                              bool one_io_thread) {
  return std::make_shared<plain_endpoint>(io, options, std::move(host), one_io_thread);
}

}  // namespace roomwire::transport
