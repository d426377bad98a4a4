// The plain (ws://) websocketpp client: one of the two client translation units that include
// websocketpp.

#include "client/ws_client.hpp"

#include <websocketpp/config/asio_no_tls_client.hpp>

namespace roomwire::client_net {

std::shared_ptr<ws_connector> make_plain_connector(asio::io_context& io,
                                                   const client_options& options) {
  return std::make_shared<ws_client_connector<websocketpp::config::asio_client>>(io, options);
}

}  // namespace roomwire::client_net
