#pragma once

// The websocketpp client, generic over a websocketpp config (plain or TLS). Included only by
// ws_client_plain.cpp and ws_client_tls.cpp, each of which instantiates it once.
//
// Threading: websocketpp runs each connection's handlers on that connection's strand; they only
// forward to ws_events (the engine, which locks). Our own calls on a connection (send, close)
// are posted to the same strand.

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif

#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include <asio/post.hpp>
#include <websocketpp/client.hpp>

#include "client/ws_connector.hpp"
#include "roomwire/client.hpp"
#include "roomwire/version.hpp"
#include "transport/cloexec.hpp"

namespace roomwire::client_net {

template <class Config>
class ws_client_link final : public ws_connection {
 public:
  using client_type = websocketpp::client<Config>;
  using connection_type = typename client_type::connection_type;

  explicit ws_client_link(const std::shared_ptr<connection_type>& con) : con_(con) {}

  void send(const std::string& text) override {
    auto con = con_.lock();
    if (!con) return;
    // Thread-safe in websocketpp: queued under its write lock, written on its strand.
    const std::error_code ec = con->send(text, websocketpp::frame::opcode::text);
    (void)ec;  // not open (any more): its close handler reports the end
  }

  void close(std::uint16_t code, const std::string& reason) override {
    auto con = con_.lock();
    if (!con) return;
    on_strand(con, [con, code, r = reason.substr(0, 123)] {
      if (con->get_state() == websocketpp::session::state::connecting) {
        // Not open yet: abandon it; websocketpp reports it through the fail handler.
        con->terminate(websocketpp::error::make_error_code(websocketpp::error::operation_canceled));
        return;
      }
      std::error_code ec;
      con->close(static_cast<websocketpp::close::status::value>(code), r, ec);
    });
  }

 private:
  template <class F>
  static void on_strand(const std::shared_ptr<connection_type>& con, F&& f) {
    if (auto strand = con->get_strand()) {
      strand->post(std::forward<F>(f));
    } else {
      std::forward<F>(f)();
    }
  }

  std::weak_ptr<connection_type> con_;
};

template <class Config>
class ws_client_connector final : public ws_connector,
                                  public std::enable_shared_from_this<ws_client_connector<Config>> {
 public:
  using client_type = websocketpp::client<Config>;
  using connection_type = typename client_type::connection_type;
  using message_ptr = typename client_type::message_ptr;

  ws_client_connector(asio::io_context& io, const client_options& options) {
    ws_.init_asio(&io);
    // websocketpp's own logs are off: they would print request URIs (tokens).
    ws_.clear_access_channels(websocketpp::log::alevel::all);
    ws_.clear_error_channels(websocketpp::log::elevel::all);
    ws_.set_user_agent(std::string("roomwire/") + version_string);
    ws_.set_max_message_size(options.max_message_bytes);
    ws_.set_open_handshake_timeout(static_cast<long>(options.open_timeout_ms));
    ws_.set_close_handshake_timeout(static_cast<long>(options.close_timeout_ms));
  }

  client_type& ws() noexcept { return ws_; }
  // The host of the connection being made (for the TLS init handler).
  const std::string& connecting_host() const noexcept { return connecting_host_; }

  std::shared_ptr<ws_connection> open(std::uint64_t connection, const std::string& url,
                                      const std::string& bearer, std::weak_ptr<ws_events> events,
                                      std::error_code& ec) override {
    ec.clear();
    // websocketpp calls the TLS init handler from inside get_connection(), before the
    // connection knows its URI: the handler reads the host from here.
    const websocketpp::uri parsed(url);
    connecting_host_ = parsed.get_valid() ? parsed.get_host() : std::string();
    auto con = ws_.get_connection(url, ec);
    if (ec) return nullptr;
    if (!bearer.empty()) con->append_header("Authorization", "Bearer " + bearer);

    // The handlers keep the connector (and so the websocketpp endpoint) alive as long as the
    // connection; they hold the connection itself only weakly (it owns them).
    auto self = this->shared_from_this();
    std::weak_ptr<connection_type> weak = con;
    // Asio opens the socket inside async_connect, without SOCK_CLOEXEC; the first hook that
    // sees it open runs right after the connect, before the handshake.
    con->set_tcp_pre_init_handler([weak](websocketpp::connection_hdl) {
      if (auto c = weak.lock()) transport::set_cloexec(c->get_raw_socket().native_handle());
    });
    con->set_open_handler([self, events, connection](websocketpp::connection_hdl) {
      if (auto e = events.lock()) e->ws_opened(connection);
    });
    con->set_message_handler(
        [self, events, connection](websocketpp::connection_hdl, message_ptr msg) {
          if (msg->get_opcode() != websocketpp::frame::opcode::text) return;
          if (auto e = events.lock()) e->ws_text(connection, msg->get_payload());
        });
    con->set_close_handler([self, events, connection, weak](websocketpp::connection_hdl) {
      auto e = events.lock();
      auto c = weak.lock();
      if (!e) return;
      // websocketpp reports 1006 (abnormal) when no close frame came.
      const std::uint16_t code = c ? static_cast<std::uint16_t>(c->get_remote_close_code()) : 1006;
      e->ws_closed(connection, code, c ? c->get_remote_close_reason() : std::string());
    });
    con->set_fail_handler([self, events, connection, weak](websocketpp::connection_hdl) {
      auto e = events.lock();
      if (!e) return;
      e->ws_closed(connection, 1006, describe_failure(weak.lock()));
    });
    ws_.connect(con);
    return std::make_shared<ws_client_link<Config>>(con);
  }

 private:
  static std::string describe_failure(const std::shared_ptr<connection_type>& con) {
    if (!con) return "connection failed";
    const auto status = con->get_response_code();
    if (status != websocketpp::http::status_code::uninitialized &&
        status != websocketpp::http::status_code::switching_protocols) {
      return "handshake refused: HTTP " + std::to_string(static_cast<int>(status)) + " " +
             con->get_response_msg();
    }
    const std::error_code ec = con->get_ec();
    return ec ? ec.message() : std::string("connection failed");
  }

  client_type ws_;
  std::string connecting_host_;
};

}  // namespace roomwire::client_net
