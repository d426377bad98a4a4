// wss:// with a self-signed certificate made at test time (openssl command line).

#include <catch2/catch.hpp>

#include "test_server.hpp"

using namespace rwtest;

TEST_CASE("TLS: wss:// with a self-signed certificate") {
  temp_dir dir;
  auto o = test_options();
  REQUIRE(serve_tls(o, dir));
  running_server s(o);
  s.start();
  const auto at = s.at();
  REQUIRE(at.tls);

  auto alice = connect_as(at, "alice");
  auto bob = connect_as(at, "bob");
  REQUIRE(alice);
  REQUIRE(bob);
  REQUIRE(join(*alice, "secure", "a-j"));
  REQUIRE(join(*bob, "secure", "b-j"));
  alice->send_text(envelope("message", R"({"roomId":"secure","content":"over TLS"})", "m-1"));
  auto m = bob->next_of_type("message");
  REQUIRE(m);
  CHECK(std::string(parse_json(*m)["payload"]["content"].GetString()) == "over TLS");

  // Limits hold over TLS too.
  bob->send_binary("x");
  auto closed = bob->wait_close();
  REQUIRE(closed);
  CHECK(closed->code == 1003);

  // HTTPS for the HTTP routes.
  CHECK(http_request(at, "GET", "/healthz").body == "ok\n");

  // A plain-text client gets nowhere (and the server counts a failed handshake).
  endpoint_options plain = at;
  plain.tls = false;
  wire_client c(plain);
  CHECK(c.connect("/api/ws?token=eve", {}, 3000ms) != 101);
}

TEST_CASE("TLS: an unusable certificate makes start() fail") {
  temp_dir dir;
  dir.write("cert.pem", "not a certificate");
  dir.write("key.pem", "not a key");
  auto o = test_options();
  o.tls =
      roomwire::tls_options{(dir.path() / "cert.pem").string(), (dir.path() / "key.pem").string()};
  roomwire::server s(o);
  std::error_code ec;
  s.start(ec);
  CHECK(ec);
  CHECK_THROWS_AS(s.start(), std::system_error);
}
