// Graceful stop (§8), GET /metrics and /healthz, static files, and a server on the host's own
// io_context.

#include <catch2/catch.hpp>

#include <future>
#include <thread>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include "test_server.hpp"

using namespace rwtest;

TEST_CASE("graceful stop: draining to every session, then 1001; then no more connections") {
  running_server s(test_options());
  s.start();
  auto a = connect_as(s.at(), "alice");
  auto b = connect_as(s.at(), "bob");
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(join(*a, "lobby", "a-j"));
  REQUIRE(join(*b, "lobby", "b-j"));
  const auto at = s.at();

  auto stopped = std::async(std::launch::async, [&] { s.server.stop(); });
  for (auto* c : {a.get(), b.get()}) {
    auto health = c->next_of_type("healthUpdate");
    REQUIRE(health);
    const auto doc = parse_json(*health);
    CHECK(std::string(doc["payload"]["status"].GetString()) == "draining");
    CHECK(doc["priority"].GetInt() == 0);
  }
  // While draining: no new sessions, and /healthz says so.
  wire_client late(at);
  CHECK(late.connect("/api/ws?token=late") == 503);
  CHECK(http_request(at, "GET", "/healthz").status == 503);

  for (auto* c : {a.get(), b.get()}) {
    auto closed = c->wait_close();
    REQUIRE(closed);
    CHECK(closed->code == 1001);
  }
  REQUIRE(stopped.wait_for(std::chrono::seconds(15)) == std::future_status::ready);
  wire_client after(at);
  CHECK(after.connect("/api/ws?token=after") == 0);
}

TEST_CASE("graceful stop flushes what was queued before closing") {
  running_server s(test_options());
  s.start();
  auto reader = connect_as(s.at(), "reader");
  REQUIRE(reader);
  REQUIRE(join(*reader, "feed", "r-j"));
  for (int i = 0; i < 200; ++i) {
    roomwire::protocol::envelope<roomwire::protocol::chat_delivery> m;
    m.payload.room_id = "feed";
    m.payload.content = "item " + std::to_string(i);
    m.payload.sender_id = "host";
    m.payload.seq = i + 1;
    m.priority = roomwire::protocol::priority::normal;
    s.server.send_to_room("feed", m);
  }
  auto stopped = std::async(std::launch::async, [&] { s.server.stop(); });
  auto closed = reader->wait_close(10000ms);
  REQUIRE(closed);
  CHECK(closed->code == 1001);
  int items = 0;
  for (const auto& text : reader->skipped()) {
    if (parse_json(text)["type"] == "message") ++items;
  }
  CHECK(items == 200);
  REQUIRE(stopped.wait_for(std::chrono::seconds(15)) == std::future_status::ready);
}

TEST_CASE("GET /metrics and GET /healthz") {
  running_server s(test_options());
  std::promise<void> gone;
  auto alice_gone = gone.get_future();
  s.server.on_disconnect([&](roomwire::session<>& session, roomwire::protocol::close_code) {
    if (session.user_id() == "alice") gone.set_value();
  });
  s.start();
  CHECK(http_request(s.at(), "GET", "/healthz").body == "ok\n");
  auto a = connect_as(s.at(), "alice");
  auto b = connect_as(s.at(), "bob");
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(join(*a, "lobby", "a-j"));
  REQUIRE(join(*b, "lobby", "b-j"));
  a->send_text(envelope("message", R"({"roomId":"lobby","content":"hi"})", "m-1"));
  REQUIRE(b->next_of_type("message"));
  wire_client lost(s.at());
  REQUIRE(lost.connect("/nope?token=x") == 404);
  wire_client bad(s.at());
  REQUIRE(bad.connect("/api/ws?token=no!") == 101);
  REQUIRE(bad.wait_close());

  const auto metrics = http_request(s.at(), "GET", "/metrics");
  REQUIRE(metrics.status == 200);
  CHECK(metrics.headers.at("content-type").find("text/plain; version=0.0.4") == 0);
  const std::string& text = metrics.body;
  CHECK(text.find("# TYPE roomwire_connections gauge") != std::string::npos);
  CHECK(text.find("\nroomwire_connections 2\n") != std::string::npos);
  CHECK(text.find("\nroomwire_rooms 1\n") != std::string::npos);
  CHECK(text.find("roomwire_messages_in_total{type=\"joinRoom\",priority=\"2\"} 2") !=
        std::string::npos);
  CHECK(text.find("roomwire_messages_in_total{type=\"message\",priority=\"2\"} 1") !=
        std::string::npos);
  CHECK(text.find("roomwire_messages_out_total{type=\"message\",priority=\"2\"} 1") !=
        std::string::npos);
  CHECK(text.find("roomwire_handshake_failures_total 2") != std::string::npos);
  CHECK(text.find("roomwire_queue_bytes") != std::string::npos);
  CHECK(text.find("roomwire_messages_dropped_total") != std::string::npos);

  a->send_close();
  REQUIRE(a->wait_close());
  REQUIRE(alice_gone.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  CHECK(s.server.metrics().closes_by_code.count(1000) == 1);
  CHECK(
      http_request(s.at(), "GET", "/metrics").body.find("roomwire_closes_total{code=\"1000\"} 1") !=
      std::string::npos);

  s.server.set_health(roomwire::protocol::health_status::degraded);
  const auto health = http_request(s.at(), "GET", "/healthz");
  CHECK(health.status == 200);
  CHECK(health.body == "degraded\n");
  CHECK(http_request(s.at(), "POST", "/metrics").status == 405);
}

TEST_CASE("metrics and health can be turned off") {
  auto o = test_options();
  o.serve_metrics = false;
  running_server s(o);
  s.start();
  CHECK(http_request(s.at(), "GET", "/metrics").status == 404);
  CHECK(http_request(s.at(), "GET", "/healthz").status == 404);
}

TEST_CASE("static files: content types, index.html, GET only, no way out of the directory") {
  temp_dir outside;
  outside.write("secret.txt", "top secret");
  temp_dir site;
  site.write("index.html", "<h1>hi</h1>");
  site.write("app.js", "console.log(1)");
  site.write("style.css", "body{}");
  site.write("data.json", "{}");
  site.write("img.png", std::string("\x89PNG\r\n", 6));
  site.write("pic.svg", "<svg/>");
  site.write("notes.txt", "notes");
  site.write("docs/index.html", "<p>docs</p>");
  std::filesystem::create_symlink(outside.path() / "secret.txt", site.path() / "link.txt");
  std::filesystem::create_directory_symlink(outside.path(), site.path() / "out");

  auto o = test_options();
  o.static_dir = site.path().string();
  running_server s(o);
  s.start();
  const auto get = [&](const std::string& target) { return http_request(s.at(), "GET", target); };

  const std::pair<const char*, const char*> types[] = {
      {"/index.html", "text/html; charset=utf-8"},
      {"/app.js", "text/javascript; charset=utf-8"},
      {"/style.css", "text/css; charset=utf-8"},
      {"/data.json", "application/json"},
      {"/img.png", "image/png"},
      {"/pic.svg", "image/svg+xml"},
      {"/notes.txt", "text/plain; charset=utf-8"},
  };
  for (const auto& [target, type] : types) {
    INFO(target);
    const auto r = get(target);
    CHECK(r.status == 200);
    CHECK(r.headers.count("content-type") == 1);
    if (r.headers.count("content-type")) CHECK(r.headers.at("content-type") == type);
  }
  CHECK(get("/").body == "<h1>hi</h1>");
  CHECK(get("/docs/").body == "<p>docs</p>");
  CHECK(get("/docs").body == "<p>docs</p>");
  CHECK(get("/img.png").body == std::string("\x89PNG\r\n", 6));
  CHECK(get("/missing.html").status == 404);
  for (const char* escape :
       {"/../secret.txt", "/..%2fsecret.txt", "/%2e%2e/secret.txt", "/docs/../../secret.txt",
        "/link.txt", "/out/secret.txt", "/..\\secret.txt", "/%00index.html"}) {
    INFO(escape);
    const auto r = get(escape);
    CHECK(r.status == 404);
    CHECK(r.body.find("top secret") == std::string::npos);
  }
  CHECK(http_request(s.at(), "POST", "/index.html").status == 405);
  CHECK(http_request(s.at(), "DELETE", "/index.html").status == 405);
  // The WebSocket path and the metrics still win over files.
  CHECK(get("/healthz").body == "ok\n");
  auto c = connect_as(s.at(), "alice");
  REQUIRE(c);
}

TEST_CASE("a server on the host's io_context, stopped from one of its handlers") {
  asio::io_context io;
  auto o = test_options();
  roomwire::server server(io, o);
  server.start();
  const std::uint16_t port = server.port();
  REQUIRE(port != 0);
  std::promise<void> done;
  std::thread host([&] { io.run(); });

  endpoint_options at;
  at.port = port;
  auto c = connect_as(at, "alice");
  REQUIRE(c);
  REQUIRE(join(*c, "lobby", "j-1"));
  asio::post(io, [&] { server.async_stop([&] { done.set_value(); }); });
  auto closed = c->wait_close();
  REQUIRE(closed);
  CHECK(closed->code == 1001);
  REQUIRE(done.get_future().wait_for(std::chrono::seconds(15)) == std::future_status::ready);
  // With the server stopped, its work is done: the host's run() returns.
  host.join();
}
