// The TLS (wss://) websocketpp endpoint, on OpenSSL: one of the two translation units that
// include websocketpp.

#include "transport/ws_endpoint.hpp"

#include <asio/ssl/context.hpp>
#include <websocketpp/config/asio.hpp>

ROOMWIRE_GUARD_FRAME_LENGTHS(roomwire::transport::ws_config<websocketpp::config::asio_tls>)

namespace roomwire::transport {

std::shared_ptr<endpoint> make_tls_endpoint(asio::io_context& io, const server_options& options,
                                            std::weak_ptr<endpoint_host> host,
                                            std::error_code& ec) {
  ec.clear();
  if (!options.tls) {
    ec = std::make_error_code(std::errc::invalid_argument);
    return nullptr;
  }
  using ssl = asio::ssl::context;
  auto context = std::make_shared<ssl>(ssl::tls_server);
  context->set_options(ssl::default_workarounds | ssl::no_sslv2 | ssl::no_sslv3 | ssl::no_tlsv1 |
                           ssl::no_tlsv1_1 | ssl::single_dh_use,
                       ec);
  if (!ec) context->use_certificate_chain_file(options.tls->certificate_chain_file, ec);
  if (!ec) context->use_private_key_file(options.tls->private_key_file, ssl::pem, ec);
  if (ec) return nullptr;

  auto ep = std::make_shared<ws_endpoint<ws_config<websocketpp::config::asio_tls>>>(
      io, options, std::move(host));
  ep->ws().set_tls_init_handler([context](websocketpp::connection_hdl) { return context; });
  return ep;
}

}  // namespace roomwire::transport
