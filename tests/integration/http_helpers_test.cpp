// The transport's HTTP helpers (src/transport/http.hpp) on their own: request targets, token
// extraction, content types, the Prometheus text.

#include <catch2/catch.hpp>

#include "transport/http.hpp"

namespace rt = roomwire::transport;

TEST_CASE("targets split into path and query") {
  CHECK(rt::split("/api/ws?token=x&y=1").path == "/api/ws");
  CHECK(rt::split("/api/ws?token=x&y=1").query == "token=x&y=1");
  CHECK(rt::split("/api/ws").query.empty());
  CHECK(rt::split("/a?").query.empty());
}

TEST_CASE("percent decoding") {
  CHECK(rt::percent_decode("a%20b", false) == "a b");
  CHECK(rt::percent_decode("a+b", false) == "a+b");
  CHECK(rt::percent_decode("a+b", true) == "a b");
  CHECK(rt::percent_decode("%2e%2E", false) == "..");
  CHECK_FALSE(rt::percent_decode("%", false));
  CHECK_FALSE(rt::percent_decode("%4", false));
  CHECK_FALSE(rt::percent_decode("%zz", false));
  CHECK_FALSE(rt::percent_decode("a%00b", false));
}

TEST_CASE("query parameters and tokens") {
  CHECK(rt::query_param("token=abc", "token") == "abc");
  CHECK(rt::query_param("x=1&token=a%2Bb&token=second", "token") == "a+b");
  CHECK(rt::query_param("tokens=1&xtoken=2", "token") == std::nullopt);
  CHECK(rt::query_param("token", "token") == "");

  CHECK(rt::bearer_token("Bearer abc") == "abc");
  CHECK(rt::bearer_token("  bearer   abc  ") == "abc");
  CHECK(rt::bearer_token("BEARER\tabc") == "abc");
  CHECK_FALSE(rt::bearer_token("Bearer"));
  CHECK_FALSE(rt::bearer_token("Bearer   "));
  CHECK_FALSE(rt::bearer_token("Bearerabc"));
  CHECK_FALSE(rt::bearer_token("Basic abc"));

  rt::request_info r;
  r.target = "/api/ws?token=q";
  r.authorization = "Bearer h";
  CHECK(rt::request_token(r) == "q");  // the query wins
  r.target = "/api/ws?token=";
  CHECK(rt::request_token(r) == "h");  // an empty query token is no token
  r.target = "/api/ws";
  CHECK(rt::request_token(r) == "h");
  r.authorization.reset();
  CHECK_FALSE(rt::request_token(r));
}

TEST_CASE("content types by extension") {
  CHECK(rt::content_type_for("a/index.HTML") == "text/html; charset=utf-8");
  CHECK(rt::content_type_for("x.js") == "text/javascript; charset=utf-8");
  CHECK(rt::content_type_for("x.css") == "text/css; charset=utf-8");
  CHECK(rt::content_type_for("x.json") == "application/json");
  CHECK(rt::content_type_for("x.png") == "image/png");
  CHECK(rt::content_type_for("x.svg") == "image/svg+xml");
  CHECK(rt::content_type_for("x.txt") == "text/plain; charset=utf-8");
  CHECK(rt::content_type_for("x") == "application/octet-stream");
}

TEST_CASE("the Prometheus text escapes label values and skips zero series") {
  roomwire::core::hub_metrics m;
  m.connections = 3;
  m.in_by_type["we\"ird\\type\n"][2] = 5;
  m.in_by_type["quiet"][0] = 0;
  m.closes_by_code[1008] = 2;
  const std::string text = rt::prometheus_text(m);
  CHECK(text.find("\nroomwire_connections 3\n") != std::string::npos);
  CHECK(text.find(R"(roomwire_messages_in_total{type="we\"ird\\type\n",priority="2"} 5)") !=
        std::string::npos);
  CHECK(text.find("quiet") == std::string::npos);
  CHECK(text.find("roomwire_closes_total{code=\"1008\"} 2") != std::string::npos);
  // Every line is a comment or "name[{labels}] value".
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    REQUIRE(end != std::string::npos);
    const std::string line = text.substr(start, end - start);
    if (line[0] != '#') CHECK(line.find(' ') != std::string::npos);
    start = end + 1;
  }
}
