// Instantiates what roomwire's transport uses from websocketpp 0.8.2 — server and client
// endpoints over standalone Asio, and both loggers — which GCC rejects as C++20 without
// ports/websocketpp/cxx20-template-id-constructors.patch.

#include <websocketpp/client.hpp>
#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/config/asio_no_tls_client.hpp>
#include <websocketpp/logger/syslog.hpp>
#include <websocketpp/server.hpp>

#include <utility>

int main() {
  websocketpp::server<websocketpp::config::asio> server;
  server.init_asio();
  websocketpp::server<websocketpp::config::asio> moved(std::move(server));
  websocketpp::client<websocketpp::config::asio_client> client;
  client.init_asio();
  websocketpp::log::syslog<websocketpp::concurrency::basic, websocketpp::log::alevel> syslog(
      websocketpp::log::alevel::none, websocketpp::log::channel_type_hint::access);
  (void)syslog;
  return 0;
}
