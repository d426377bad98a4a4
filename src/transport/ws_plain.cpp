// The plain (ws://) websocketpp endpoint: one of the two translation units that include
// websocketpp.

#include "transport/ws_endpoint.hpp"

#include <websocketpp/config/asio_no_tls.hpp>

ROOMWIRE_GUARD_FRAME_LENGTHS(roomwire::transport::ws_config<websocketpp::config::asio>)

namespace roomwire::transport {

std::shared_ptr<endpoint> make_plain_endpoint(asio::io_context& io, const server_options& options,
                                              std::weak_ptr<endpoint_host> host) {
  return std::make_shared<ws_endpoint<ws_config<websocketpp::config::asio>>>(io, options,
                                                                             std::move(host));
}

}  // namespace roomwire::transport
