#pragma once

// The websocketpp endpoint, generic over a websocketpp config. Included only by ws_tls.cpp
// (wss://), the only server translation unit that includes websocketpp; ws:// has a transport of
// its own (ws_plain.cpp).
//
// Threading: websocketpp runs each connection's handlers and timers on that connection's strand.
// Everything a ws_link keeps (timers, flags) is touched only there; the core reaches a link
// through request_*(), which post to the strand.

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/bind_executor.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <websocketpp/frame.hpp>
#include <websocketpp/server.hpp>
#include <websocketpp/transport/asio/endpoint.hpp>

#include "transport/cloexec.hpp"
#include "transport/endpoint.hpp"
#include "transport/listen_socket.hpp"
#include "transport/read_credit.hpp"

namespace roomwire::transport {

// websocketpp's per-connection extension point (config::connection_base).
struct connection_data {
  std::optional<core::identity> who;   // set by the validate handler when the token was accepted
  std::shared_ptr<link> session_link;  // set once the session is open
  bool admitted = false;               // passed on_upgrade: counts towards max_connections
};

template <class Base>
struct ws_config : Base {
  using connection_base = connection_data;
  struct transport_config : Base::transport_config {
    // Over TLS, websocketpp 0.8.2's TLS shutdown (after the WebSocket close handshake) only
    // ever ends by this timeout, even when the peer answers close_notify; the close handler,
    // and so hub::closed(), waits for it. Our close_notify is written at once; this bounds
    // how long we wait for the peer's.
    static const long timeout_socket_shutdown = 250;
  };
  using transport_type = websocketpp::transport::asio::endpoint<transport_config>;
};

// True when `text`, otherwise valid UTF-8, stops partway through a multi-byte sequence: its
// last lead byte announces more continuation bytes than follow it.
inline bool ends_inside_utf8_sequence(const std::string& text) {
  std::size_t continuations = 0;
  std::size_t i = text.size();
  while (i > 0 && continuations < 3 && (static_cast<unsigned char>(text[i - 1]) & 0xC0) == 0x80) {
    --i;
    ++continuations;
  }
  if (i == 0) return false;
  const auto lead = static_cast<unsigned char>(text[i - 1]);
  const std::size_t needed = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : 0;
  return continuations < needed;
}

// websocketpp 0.8.2 checks a continuation frame's length as `message so far + length > limit`,
// which wraps around when the 64-bit length has its most significant bit set (RFC 6455 §5.2
// forbids it; websocketpp does not check): the frame is accepted and what follows is appended to
// the message without limit. Its processor cannot be configured, but the member function that
// checks each frame header can be specialised for our configs (ROOMWIRE_GUARD_FRAME_LENGTHS, in
// the translation unit that instantiates the endpoint, before it does): it keeps websocketpp's
// own checks and adds these two, which refuse the frame with `message_too_big` (close 1009).
inline websocketpp::lib::error_code check_frame_length(websocketpp::frame::basic_header h,
                                                       websocketpp::frame::extended_header e,
                                                       std::size_t max_message_size,
                                                       const std::string* message_so_far) {
  namespace frame = websocketpp::frame;
  namespace error = websocketpp::processor::error;
  const std::uint8_t basic_size = frame::get_basic_size(h);
  const std::uint64_t length = frame::get_payload_size(h, e);
  // websocketpp's own checks
  if (basic_size == frame::payload_size_code_16bit && length <= frame::limits::payload_size_basic) {
    return error::make_error_code(error::non_minimal_encoding);
  }
  if (basic_size == frame::payload_size_code_64bit &&
      length <= frame::limits::payload_size_extended) {
    return error::make_error_code(error::non_minimal_encoding);
  }
  if (sizeof(std::size_t) == 4 && (length >> 32) != 0) {
    return error::make_error_code(error::requires_64bit);
  }
  // ours: no length with the top bit set, and no data frame that takes the message past the
  // limit, counted without overflow
  if ((length >> 63) != 0) return error::make_error_code(error::message_too_big);
  if (!frame::opcode::is_control(frame::get_opcode(h)) && message_so_far != nullptr &&
      length > max_message_size - std::min(max_message_size, message_so_far->size())) {
    return error::make_error_code(error::message_too_big);
  }
  return {};
}

}  // namespace roomwire::transport

// Defines the specialisation for one endpoint config (see check_frame_length).
#define ROOMWIRE_GUARD_FRAME_LENGTHS(CONFIG)                                                    \
  template <>                                                                                  \
  inline websocketpp::lib::error_code                                                          \
  websocketpp::processor::hybi13<CONFIG>::validate_incoming_extended_header(                   \
      websocketpp::frame::basic_header h, websocketpp::frame::extended_header e) const {      \
    return roomwire::transport::check_frame_length(                                            \
        h, e, base::m_max_message_size,                                                        \
        m_data_msg.msg_ptr ? &m_data_msg.msg_ptr->get_raw_payload() : nullptr);               \
  }

namespace roomwire::transport {

// One server frame as websocketpp sends it: header + payload, unmasked, so the same message
// object can be written to every recipient.
template <class Message>
std::shared_ptr<Message> make_prepared_text(const std::string& text) {
  namespace frame = websocketpp::frame;
  auto msg = std::make_shared<Message>(typename Message::con_msg_man_ptr(), frame::opcode::text, 0);
  const frame::basic_header header(frame::opcode::text, text.size(), true, false);
  const frame::extended_header extended(text.size());
  msg->set_header(frame::prepare_header(header, extended));
  msg->set_payload(text);
  msg->set_prepared(true);
  return msg;
}

template <class Config>
class ws_link final : public link, public std::enable_shared_from_this<ws_link<Config>> {
 public:
  using server_type = websocketpp::server<Config>;
  using connection_type = typename server_type::connection_type;
  using connection_ptr = typename server_type::connection_ptr;
  using message_type = typename Config::message_type;
  using timer_ptr = typename connection_type::timer_ptr;

  ws_link(const connection_ptr& con, std::weak_ptr<endpoint_host> host,
          std::int64_t ping_interval_ms, std::int64_t pong_timeout_ms, bool pace_readers)
      : con_(con),
        strand_(con->get_strand()),
        host_(std::move(host)),
        ping_interval_ms_(ping_interval_ms),
        pong_timeout_ms_(pong_timeout_ms),
        pace_readers_(pace_readers) {}

  // ---- link -----------------------------------------------------------------------------

  void request_pump() override {
    if (pump_requested_.exchange(true)) return;
    strand_->post([self = this->shared_from_this()] {
      self->pump_requested_ = false;
      self->run_pump();
    });
  }

  void request_close(protocol::close_code code, std::string reason) override {
    strand_->post([self = this->shared_from_this(), code, r = std::move(reason)] {
      self->close_now(static_cast<websocketpp::close::status::value>(code), r);
    });
  }

  void request_terminate() override {
    strand_->post([self = this->shared_from_this()] {
      if (auto con = self->con_.lock()) {
        con->terminate(
            websocketpp::error::make_error_code(websocketpp::error::close_handshake_timeout));
      }
    });
  }

  std::size_t buffered() const override {
    auto con = con_.lock();
    return con ? con->get_buffered_amount() : 0;
  }

  // As the plain transport does (ws_plain.cpp), a connection whose kernel has held
  // unsent_bytes_limit unsent since it last caught up is "pressed": it takes frames a few KiB at a
  // time, and none while the kernel still holds that much, so that its backlog waits in the hub's
  // queue, where a priority-0 frame overtakes it. websocketpp writes from its queue on its own,
  // so the kernel is asked as a pump begins, and only once the previous pump filled the window or
  // the connection is pressed: a connection that keeps up pays no system call for it.
  std::size_t send_window() override {
    window_ = send_high_water;
    if (!filled_ && !pressed_) return paced(window_);
    filled_ = false;
    if (pressed_ && marks_written_.load(std::memory_order_acquire) != marks_sent_) {
      // Nothing more until the last window's frames are written: websocketpp does not count
      // those it is writing in buffered(), and they would come on top.
      window_ = 0;
      return window_;
    }
    auto con = con_.lock();
    if (con && kernel_unsent_at_limit(con->get_raw_socket().native_handle())) {
      pressed_ = true;
      start_pacing(*con);
      wait_writable(*con);
      window_ = 0;
    } else if (pressed_) {
      window_ = pressed_send_high_water;
    }
    return paced(window_);
  }

  // The window, cut to what pacing allows (read_credit.hpp); what websocketpp holds is part of
  // what the reader has not read.
  std::size_t paced(std::size_t window) {
    if (credit_ && window > 0) {
      window_ = std::min(window, buffered() + credit_->allowance(window, steady_ns()));
    }
    return window_;
  }

  // While pacing, a priority-0 frame goes past the window and the rate (read_credit.hpp).
  std::size_t critical_window() override {
    if (!credit_ || !credit_->active()) return 0;
    return pressed_ ? pressed_send_high_water : send_high_water;
  }

  // websocketpp says nothing when it has written what it holds, and the pump stops taking frames
  // once a window's worth waits behind its write. So the frame that fills the window is handed
  // over under a reference of its own, which websocketpp drops once that frame is written (or the
  // connection is gone): then the window is free and the link asks for a pump. Without it, only
  // the repump timer refilled the window, and a burst to a reader that keeps up went out at
  // 16 KiB per 5 ms (docs/benchmarks.md, "A burst over wss://").
  void send(const core::frame& f) override {
    auto con = con_.lock();
    if (!con) return;
    auto prepared = f.prepared<message_type>(
        [](const std::string& text) { return make_prepared_text<message_type>(text); });
    std::shared_ptr<message_type> msg = std::const_pointer_cast<message_type>(prepared);
    if (pace_readers_) {
      const std::size_t bytes = msg->get_header().size() + msg->get_payload().size();
      if (watch_.handed(bytes, static_cast<unsigned>(f.priority), steady_ms) && !closing_ &&
          !ended_) {
        credit(*con).probe();
      }
      if (credit_) {
        credit_->handed(bytes);
        credit_->wrote(bytes);
      }
    }
    if (con->get_buffered_amount() + msg->get_payload().size() >= window_) {
      filled_ = true;
      ++marks_sent_;  // first: should the next line throw, it runs the notice, which counts it
      msg = std::shared_ptr<message_type>(msg.get(), written_notice{msg, this->weak_from_this()});
    }
    std::error_code ec = con->send(std::move(msg));
    (void)ec;  // not open any more: the close handler reports the end
  }

  // ---- on the strand --------------------------------------------------------------------

  // A close of our own (hub, heartbeat, binary frame): a close frame behind what is queued;
  // websocketpp drops the TCP connection if the handshake has not finished 5 s later.
  void close_now(websocketpp::close::status::value code, const std::string& reason) {
    if (closing_ || ended_) return;
    closing_ = true;
    cancel_timers();
    auto con = con_.lock();
    if (!con) return;
    std::error_code ec;
    con->close(code, reason.substr(0, 123), ec);
    if (!ec) requested_code_ = static_cast<int>(code);
  }

  void start_heartbeat() { arm_ping(); }

  void on_pong(const std::string& payload) {
    if (credit_ && credit_->on_pong(payload, steady_ns())) {
      if (credit_->caught_up() && buffered() == 0 && !more_) credit_->stop();
      request_pump();  // the window moved
    }
    awaiting_pong_ = false;
    ++ping_generation_;
    if (pong_deadline_) pong_deadline_->cancel();
    pong_deadline_.reset();
  }

  // The connection ended: stop every timer; no more pumps.
  void ended() {
    ended_ = true;
    closing_ = true;
    cancel_timers();
  }

  bool closing() const noexcept { return closing_; }
  std::optional<int> requested_code() const noexcept { return requested_code_; }

 private:
  // The deleter of a window-filling frame's own reference (see send()): keeps the shared frame
  // alive and asks for a pump. It may run on any thread, in websocketpp's write handler or when
  // a connection is destroyed; request_pump() is thread-safe and does nothing once the link is
  // gone.
  struct written_notice {
    std::shared_ptr<message_type> frame;
    std::weak_ptr<ws_link> link;
    void operator()(message_type*) noexcept {
      frame.reset();
      if (auto l = link.lock()) {
        l->marks_written_.fetch_add(1, std::memory_order_release);
        try {
          l->request_pump();
        } catch (...) {  // out of memory: the repump timer still refills the window
        }
      }
    }
  };

  void run_pump() {
    if (closing_ || ended_) return;
    auto host = host_.lock();
    if (!host) return;
    const bool again = host->pump(*this);
    more_ = again;
    auto con = con_.lock();
    if (!con) return;
    if (credit_) pace(*con, again);
    if (again && credit_ && credit_->hold_ns(steady_ns()) > 0) await_rate();
    if (!again) {
      // Caught up, unless the kernel still holds what send_window() waits for.
      if (pressed_ && !kernel_unsent_at_limit(con->get_raw_socket().native_handle())) {
        pressed_ = false;
      }
      return;
    }
    if (repump_timer_) return;
    repump_timer_ = con->set_timer(repump_interval_ms,
                                   [weak = this->weak_from_this()](const std::error_code& ec) {
                                     auto self = weak.lock();
                                     if (!self) return;
                                     self->repump_timer_.reset();
                                     if (!ec) self->run_pump();
                                   });
  }

  // ---- pacing a reader that is behind (read_credit.hpp, as ws_plain.cpp does) --------------
  //
  // Positions count the bytes handed to websocketpp (headers included), in the order it writes
  // them: a ping it is handed after them is written after them. What websocketpp still holds is
  // unread too.

  // Allocated once the link is first behind or handed frames fast (a probe, in send()).
  read_credit& credit(connection_type& con) {
    if (!credit_) {
      credit_ = std::make_unique<read_credit>();
      credit_->seed_round_trip(kernel_round_trip_ns(con.get_raw_socket().native_handle()));
    }
    return *credit_;
  }

  void start_pacing(connection_type& con) {
    if (!pace_readers_ || closing_ || ended_ || !watch_.mixed()) return;
    credit(con).start(steady_ns());
  }

  void ping_for_credit(connection_type& con) {
    std::error_code ec;
    con.ping(credit_->ping_payload(0, steady_ns()), ec);
    if (!ec) credit_->wrote(read_credit::ping_frame_bytes);
  }

  // After a pump: a ping behind what it handed over, when one is due (always once the window is
  // used up: no pong would come otherwise), or a probe. The repump timer keeps running while the
  // pump has more, so a reader that stopped answering is written to unpaced after
  // read_credit::patience_ns.
  void pace(connection_type& con, bool again) {
    if (closing_ || ended_) return;
    if (credit_->ping_due(0)) ping_for_credit(con);
    if (again && credit_->exhausted() && credit_->lost_patience(steady_ns())) {
      if (auto host = host_.lock()) {
        host->log(log_level::debug, "session " + std::to_string(session) +
                                        ": no pong to a pacing ping in time; writing unpaced");
      }
    }
  }

  // Held back by the reader's rate: pump again once it lets frames go (the repump timer's 5 ms
  // would leave the reader idle).
  void await_rate() {
    if (rate_armed_) return;
    if (!rate_timer_) rate_timer_ = std::make_unique<asio::steady_timer>(strand_->context());
    rate_armed_ = true;
    rate_timer_->expires_after(std::chrono::nanoseconds(credit_->hold_ns(steady_ns())));
    rate_timer_->async_wait(
        asio::bind_executor(*strand_, [weak = this->weak_from_this()](const std::error_code& ec) {
          auto self = weak.lock();
          if (!self) return;
          self->rate_armed_ = false;
          if (!ec) self->run_pump();
        }));
  }

  // Pumps once the kernel takes more (its unsent bytes fell under TCP_NOTSENT_LOWAT's
  // unsent_bytes_limit). websocketpp's own write, if any, waits on the same socket; Asio runs the
  // two in turn, on this strand.
  void wait_writable(connection_type& con) {
    if (waiting_writable_) return;
    waiting_writable_ = true;
    con.get_raw_socket().async_wait(
        asio::socket_base::wait_write,
        asio::bind_executor(*strand_, [weak = this->weak_from_this()](const std::error_code& ec) {
          auto self = weak.lock();
          if (!self) return;
          self->waiting_writable_ = false;
          if (!ec) self->run_pump();
        }));
  }

  void arm_ping() {
    if (ping_interval_ms_ <= 0 || closing_) return;
    auto con = con_.lock();
    if (!con) return;
    ping_timer_ = con->set_timer(static_cast<long>(ping_interval_ms_),
                                 [weak = this->weak_from_this()](const std::error_code& ec) {
                                   auto self = weak.lock();
                                   if (self && !ec) self->ping_due();
                                 });
  }

  void ping_due() {
    if (closing_ || ended_) return;
    auto con = con_.lock();
    if (!con) return;
    // The deadline runs from the oldest ping not yet answered (§1).
    if (!awaiting_pong_ && pong_timeout_ms_ > 0) {
      awaiting_pong_ = true;
      pong_deadline_ = con->set_timer(
          static_cast<long>(pong_timeout_ms_),
          [weak = this->weak_from_this(),
           generation = ping_generation_](const std::error_code& ec) {
            auto self = weak.lock();
            if (!self || ec || !self->awaiting_pong_ || self->ping_generation_ != generation) {
              return;
            }
            if (auto host = self->host_.lock()) {
              host->log(log_level::debug, "session " + std::to_string(self->session) +
                                              ": no pong in time, closing with 1001");
            }
            self->close_now(websocketpp::close::status::going_away, "pong timeout");
          });
    }
    // A reader being paced or probed may answer only the latest ping (RFC 6455 §5.5.3): this one
    // then carries the pacing payload too.
    if (credit_) {
      ping_for_credit(*con);
    } else {
      std::error_code ec;
      con->ping(std::string(), ec);
    }
    arm_ping();
  }

  void cancel_timers() {
    for (timer_ptr* t : {&ping_timer_, &pong_deadline_, &repump_timer_}) {
      if (*t) (*t)->cancel();
      t->reset();
    }
    if (rate_timer_) rate_timer_->cancel();
  }

  std::weak_ptr<connection_type> con_;
  typename connection_type::strand_ptr strand_;
  std::weak_ptr<endpoint_host> host_;
  const std::int64_t ping_interval_ms_;
  const std::int64_t pong_timeout_ms_;
  const bool pace_readers_;
  std::atomic<bool> pump_requested_{false};
  std::atomic<std::uint64_t> marks_written_{0};  // window-filling frames written (send())
  // Strand-only state.
  bool closing_ = false;
  bool ended_ = false;
  bool awaiting_pong_ = false;
  std::uint64_t ping_generation_ = 0;
  std::optional<int> requested_code_;
  std::size_t window_ = send_high_water;  // send_window()'s answer for the pump under way
  bool filled_ = false;                   // the last pump filled its window
  std::uint64_t marks_sent_ = 0;          // window-filling frames handed to websocketpp
  bool pressed_ = false;                  // the kernel has been full since the link caught up
  bool waiting_writable_ = false;
  timer_ptr ping_timer_;
  timer_ptr pong_deadline_;
  timer_ptr repump_timer_;
  stream_watch watch_;                   // with pacing on: what the link is handed
  std::unique_ptr<read_credit> credit_;  // once the link has been behind or fast
  std::unique_ptr<asio::steady_timer> rate_timer_;  // once the reader's rate held frames back
  bool rate_armed_ = false;
  bool more_ = false;                    // the last pump left frames in the hub
};

template <class Config>
class ws_endpoint final : public endpoint,
                          public std::enable_shared_from_this<ws_endpoint<Config>> {
 public:
  using server_type = websocketpp::server<Config>;
  using connection_ptr = typename server_type::connection_ptr;
  using link_type = ws_link<Config>;

  ws_endpoint(asio::io_context& io, const server_options& options,
              std::weak_ptr<endpoint_host> host)
      : io_(io),
        strand_(asio::make_strand(io)),
        acceptor_(strand_),
        retry_timer_(strand_),
        host_(std::move(host)),
        ping_interval_ms_(options.ping_interval_ms),
        pong_timeout_ms_(options.pong_timeout_ms),
        pace_readers_(options.pace_readers) {
    ws_.init_asio(&io_);
    // websocketpp's own logs are off: its access log would print request URIs (tokens).
    ws_.clear_access_channels(websocketpp::log::alevel::all);
    ws_.clear_error_channels(websocketpp::log::elevel::all);
    ws_.set_user_agent("roomwire");
    ws_.set_max_message_size(options.max_message_bytes);
    ws_.set_max_http_body_size(16 * 1024);
    ws_.set_open_handshake_timeout(static_cast<long>(options.handshake_timeout_ms));
    ws_.set_close_handshake_timeout(5000);
  }

  server_type& ws() noexcept { return ws_; }

  // Every handler is set before the first accept.
  void install_handlers() {
    using websocketpp::connection_hdl;
    std::weak_ptr<ws_endpoint> weak = this->shared_from_this();
    ws_.set_validate_handler([weak](connection_hdl h) {
      auto self = weak.lock();
      return self && self->on_validate(h);
    });
    ws_.set_open_handler([weak](connection_hdl h) {
      if (auto self = weak.lock()) self->on_open(h);
    });
    ws_.set_message_handler([weak](connection_hdl h, typename server_type::message_ptr msg) {
      if (auto self = weak.lock()) self->on_message(h, msg);
    });
    ws_.set_close_handler([weak](connection_hdl h) {
      if (auto self = weak.lock()) self->on_close(h);
    });
    ws_.set_fail_handler([weak](connection_hdl h) {
      if (auto self = weak.lock()) self->on_fail(h);
    });
    ws_.set_http_handler([weak](connection_hdl h) {
      if (auto self = weak.lock()) self->on_http(h);
    });
    ws_.set_pong_handler([weak](connection_hdl h, std::string payload) {
      if (auto self = weak.lock()) self->on_pong(h, payload);
    });
  }

  void listen(const asio::ip::tcp::endpoint& at, std::error_code& ec) override {
    install_handlers();
    port_ = open_listening(acceptor_, at, 0, ec);
    if (ec) return;
    asio::post(strand_, [self = this->shared_from_this()] { self->accept_next(); });
  }

  std::uint16_t port() const noexcept override { return port_; }

  void stop_listening(std::function<void()> done) override {
    asio::post(strand_, [self = this->shared_from_this(), done = std::move(done)] {
      std::error_code ignored;
      self->acceptor_.close(ignored);
      self->retry_timer_.cancel();
      if (done) done();
    });
  }

 private:
  // ---- accepting (on strand_) ------------------------------------------------------------

  void accept_next() {
    if (!acceptor_.is_open()) return;
    connection_ptr con = ws_.get_connection();
    if (!con) {
      retry_accept_later();
      return;
    }
    acceptor_.async_accept(
        con->get_raw_socket(), [self = this->shared_from_this(), con](const std::error_code& ec) {
          if (!self->acceptor_.is_open()) return;
          if (ec) {
            // Out of descriptors and the like: do not spin.
            if (auto host = self->host_.lock()) {
              host->log(log_level::warning, "accept failed: " + ec.message());
            }
            self->retry_accept_later();
            return;
          }
          // Asio accepts without SOCK_CLOEXEC: mark it at once. (A fork+exec on another thread
          // between the accept and this line could still inherit it; Asio offers no accept4.)
          set_cloexec(con->get_raw_socket().native_handle());
          set_accepted_options(con->get_raw_socket().native_handle());
          con->get_strand()->post([con] { con->start(); });
          self->accept_next();
        });
  }

  void retry_accept_later() {
    retry_timer_.expires_after(std::chrono::milliseconds(100));
    retry_timer_.async_wait([self = this->shared_from_this()](const std::error_code& ec) {
      if (!ec) self->accept_next();
    });
  }

  // ---- websocketpp handlers (on the connection's strand) ----------------------------------

  static request_info read_request(const connection_ptr& con) {
    request_info r;
    r.method = con->get_request().get_method();
    r.target = con->get_resource();
    const std::string& origin = con->get_request_header("Origin");
    if (!origin.empty()) r.origin = origin;
    const std::string& authorization = con->get_request_header("Authorization");
    if (!authorization.empty()) r.authorization = authorization;
    r.remote = con->get_remote_endpoint();
    return r;
  }

  bool on_validate(websocketpp::connection_hdl h) {
    auto host = host_.lock();
    connection_ptr con = ws_.get_con_from_hdl(h);
    if (!host || !con) return false;
    upgrade_decision d = host->on_upgrade(read_request(con));
    if (d.refuse_status != 0) {
      con->set_status(static_cast<websocketpp::http::status_code::value>(d.refuse_status));
      con->replace_header("Content-Type", "text/plain; charset=utf-8");
      con->set_body(d.body);
      return false;
    }
    con->who = std::move(d.who);
    con->admitted = true;
    return true;
  }

  void on_open(websocketpp::connection_hdl h) {
    auto host = host_.lock();
    connection_ptr con = ws_.get_con_from_hdl(h);
    if (!con) return;
    std::error_code ec;
    if (!host) {
      con->close(websocketpp::close::status::going_away, "server is shutting down", ec);
      return;
    }
    if (!con->who) {
      // §1: the upgrade completes, then a 4000 close and nothing else.
      host->on_rejected(con->get_remote_endpoint());
      con->close(static_cast<websocketpp::close::status::value>(4000), "invalid authentication",
                 ec);
      return;
    }
    auto l = std::make_shared<link_type>(con, host_, ping_interval_ms_, pong_timeout_ms_,
                                         pace_readers_);
    con->session_link = l;
    core::identity who = std::move(*con->who);
    con->who.reset();
    if (host->on_open(l, std::move(who)) == 0) {
      l->close_now(websocketpp::close::status::going_away, "server is shutting down");
      return;
    }
    l->start_heartbeat();
  }

  void on_message(websocketpp::connection_hdl h, const typename server_type::message_ptr& msg) {
    connection_ptr con = ws_.get_con_from_hdl(h);
    if (!con || !con->session_link) return;
    auto* l = static_cast<link_type*>(con->session_link.get());
    if (l->closing()) return;
    if (msg->get_opcode() != websocketpp::frame::opcode::text) {
      l->close_now(websocketpp::close::status::unsupported_data, "binary frames are not supported");
      return;
    }
    // websocketpp 0.8.2 validates every byte of a text message as it arrives, across fragments,
    // but checks that the message ends on a complete UTF-8 sequence only when it came in one
    // frame (hybi13::finalize_message tests the opcode of the last frame, a continuation). So
    // only the end is left to check, not the whole message again. §5: 1007.
    if (ends_inside_utf8_sequence(msg->get_payload())) {
      l->close_now(websocketpp::close::status::invalid_payload, "invalid UTF-8");
      return;
    }
    if (auto host = host_.lock()) host->on_text(l->session, msg->get_payload());
  }

  void on_pong(websocketpp::connection_hdl h, const std::string& payload) {
    connection_ptr con = ws_.get_con_from_hdl(h);
    if (!con || !con->session_link) return;
    static_cast<link_type*>(con->session_link.get())->on_pong(payload);
  }

  static int close_code_of(const connection_ptr& con, const link_type* l) {
    namespace status = websocketpp::close::status;
    if (l && l->requested_code()) return *l->requested_code();
    const auto real = [](status::value v) {
      return v != status::blank && v != status::no_status && v != status::abnormal_close;
    };
    if (real(con->get_local_close_code())) return con->get_local_close_code();
    if (real(con->get_remote_close_code())) return con->get_remote_close_code();
    return status::abnormal_close;
  }

  void on_close(websocketpp::connection_hdl h) {
    connection_ptr con = ws_.get_con_from_hdl(h);
    if (!con) return;
    auto host = host_.lock();
    std::shared_ptr<link> base = std::move(con->session_link);
    con->session_link.reset();
    if (base) {
      auto* l = static_cast<link_type*>(base.get());
      l->ended();
      if (host && l->session != 0) host->on_closed(l->session, close_code_of(con, l));
    }
    if (host && con->admitted) host->on_admitted_end();
    con->admitted = false;
  }

  void on_fail(websocketpp::connection_hdl h) {
    connection_ptr con = ws_.get_con_from_hdl(h);
    auto host = host_.lock();
    if (!con || !host) return;
    if (con->admitted) host->on_admitted_end();
    con->admitted = false;
    std::string why = con->get_ec().message();
    if (const int status = static_cast<int>(con->get_response_code()); status != 0) {
      why += " (HTTP " + std::to_string(status) + ")";
    }
    host->on_handshake_failed(why, con->get_remote_endpoint());
  }

  void on_http(websocketpp::connection_hdl h) {
    auto host = host_.lock();
    connection_ptr con = ws_.get_con_from_hdl(h);
    if (!con) return;
    if (!host) {
      con->set_status(websocketpp::http::status_code::service_unavailable);
      return;
    }
    http_reply reply = host->on_http(read_request(con));
    con->set_status(static_cast<websocketpp::http::status_code::value>(reply.status));
    con->replace_header("Content-Type", reply.content_type);
    for (const auto& [name, value] : reply.headers) con->replace_header(name, value);
    con->set_body(std::move(reply.body));
  }

  asio::io_context& io_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer retry_timer_;
  std::weak_ptr<endpoint_host> host_;
  const std::int64_t ping_interval_ms_;
  const std::int64_t pong_timeout_ms_;
  const bool pace_readers_;
  std::atomic<std::uint16_t> port_{0};
  server_type ws_;
};

}  // namespace roomwire::transport
