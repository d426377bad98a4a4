// The TLS (wss://) websocketpp client, on OpenSSL: one of the two client translation units that
// include websocketpp.

#include "client/ws_client.hpp"

#include <asio/ssl/context.hpp>
#include <asio/ssl/host_name_verification.hpp>
#include <websocketpp/config/asio_client.hpp>

namespace roomwire::client_net {

std::shared_ptr<ws_connector> make_tls_connector(asio::io_context& io,
                                                 const client_options& options,
                                                 std::error_code& ec) {
  ec.clear();
  using config = websocketpp::config::asio_tls_client;
  auto connector = std::make_shared<ws_client_connector<config>>(io, options);
  std::weak_ptr<ws_client_connector<config>> weak = connector;
  const client_tls_options tls = options.tls;
  // One context per connection: the host name to verify is the connection's own.
  connector->ws().set_tls_init_handler(
      [weak, tls](websocketpp::connection_hdl) -> std::shared_ptr<asio::ssl::context> {
        using ssl = asio::ssl::context;
        auto context = std::make_shared<ssl>(ssl::tls_client);
        std::error_code error;
        context->set_options(ssl::default_workarounds | ssl::no_sslv2 | ssl::no_sslv3 |
                                 ssl::no_tlsv1 | ssl::no_tlsv1_1,
                             error);
        if (!tls.verify_peer) {
          context->set_verify_mode(asio::ssl::verify_none, error);
          return context;
        }
        context->set_verify_mode(asio::ssl::verify_peer, error);
        if (tls.ca_file.empty()) {
          context->set_default_verify_paths(error);
        } else {
          context->load_verify_file(tls.ca_file, error);
        }
        std::string host = tls.server_name;
        if (host.empty()) {
          if (auto self = weak.lock()) host = self->connecting_host();
        }
        context->set_verify_callback(asio::ssl::host_name_verification(host), error);
        return context;
      });
  return connector;
}

}  // namespace roomwire::client_net
