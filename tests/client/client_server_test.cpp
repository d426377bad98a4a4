// roomwire::client against a real roomwire::server on 127.0.0.1 (port 0): chat, tasks, errors,
// authentication, reconnection after a server restart on the same port, and exactly-once
// delivery of a request resent after its acknowledgement was lost.

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "client_test_server.hpp"
#include "client_waiting.hpp"
#include "roomwire/client.hpp"
#include "roomwire/server.hpp"
#include "tcp_proxy.hpp"

using namespace roomwire_test;
namespace rw = roomwire;
namespace proto = roomwire::protocol;

namespace {

rw::client_options fast_reconnect(int attempts = 40) {
  rw::client_options o;
  o.reconnect.initial_delay_ms = 50;
  o.reconnect.multiplier = 1.5;
  o.reconnect.max_delay_ms = 400;
  o.reconnect.max_attempts = attempts;
  return o;
}

// A client that records what it sees.
struct party {
  explicit party(rw::client_options o = fast_reconnect()) : c(std::move(o)) {
    record_events(c, events);
    c.on<proto::chat_delivery>(
        [this](const proto::envelope<proto::chat_delivery>& m) { messages.push(m); });
    c.on<proto::task_assign_delivery>(
        [this](const proto::envelope<proto::task_assign_delivery>& m) { assigns.push(m); });
    c.on<proto::task_update_delivery>(
        [this](const proto::envelope<proto::task_update_delivery>& m) { updates.push(m); });
    c.on_frame([this](std::string_view json) { frames.push(std::string(json)); });
  }

  inbox<std::string> events;
  inbox<proto::envelope<proto::chat_delivery>> messages;
  inbox<proto::envelope<proto::task_assign_delivery>> assigns;
  inbox<proto::envelope<proto::task_update_delivery>> updates;
  inbox<std::string> frames;
  rw::client c;  // last: destroyed first, so no handler outlives what it records into
};

rw::send_result answer(const rw::send_handle& h) {
  auto r = h.wait_for(10s);
  REQUIRE(r.has_value());
  return *r;
}

std::vector<std::string> contents(const inbox<proto::envelope<proto::chat_delivery>>& box) {
  std::vector<std::string> out;
  for (const auto& m : box.items()) out.push_back(m.payload.content);
  return out;
}

}  // namespace

TEST_CASE("two clients chat through a server, and every send is answered") {
  test_server server;
  party alice;
  party bob;
  alice.c.connect(server.url(), "alice");
  bob.c.connect(server.url(), "bob");
  REQUIRE(answer(alice.c.join("lobby")).ok());
  REQUIRE(answer(bob.c.join("lobby")).ok());
  CHECK(alice.c.rooms() == std::vector<std::string>{"lobby"});
  CHECK(alice.c.state() == rw::connection_state::open);
  CHECK(alice.events.items().front() == "connected");

  auto hello = alice.c.send_message("lobby", "hello bob");
  const auto ack = answer(hello);
  REQUIRE(ack.ok());
  REQUIRE(ack.ack);
  CHECK(ack.ack->message_id == hello.message_id());
  CHECK(ack.ack->room_id == "lobby");
  CHECK(ack.ack->sender_id == "alice");
  REQUIRE(ack.ack->seq);
  CHECK(*ack.ack->seq == 1);

  REQUIRE(bob.messages.wait_size(1));
  const auto delivered = bob.messages.items().front();
  CHECK(delivered.payload.content == "hello bob");
  CHECK(delivered.payload.sender_id == "alice");
  CHECK(delivered.payload.room_id == "lobby");
  CHECK(delivered.payload.seq == 1);
  CHECK(delivered.message_id == hello.message_id());  // the sender's id travels on
  CHECK(alice.messages.size() == 0);                  // not delivered to the sending session

  SECTION("tasks") {
    const auto assigned = answer(alice.c.assign_task("T1", "bob", proto::priority::high));
    REQUIRE(assigned.ok());
    REQUIRE(bob.assigns.wait_size(1));
    const auto a = bob.assigns.items().front();
    CHECK(a.payload.task_id == "T1");
    CHECK(a.payload.assigner_id == "alice");
    CHECK(a.payload.priority == proto::priority::high);
    CHECK(a.priority == proto::priority::high);  // the envelope took the task's priority

    REQUIRE(answer(bob.c.update_task("T1", "running", 40)).ok());
    REQUIRE(alice.updates.wait_size(1));
    const auto u = alice.updates.items().front();
    CHECK(u.payload.status == "running");
    CHECK(u.payload.progress == 40);
    CHECK(u.payload.sender_id == "bob");
  }
  SECTION("refusals complete the handle with the server's code") {
    const auto refused = answer(bob.c.send_message("nowhere", "x"));
    CHECK(refused.error == proto::error_code::room_not_found);
    REQUIRE(refused.refusal);
    CHECK(refused.refusal->code == "4003");
  }
  SECTION("leave, and close with 1000") {
    REQUIRE(answer(alice.c.leave("lobby")).ok());
    CHECK(alice.c.rooms().empty());
    alice.c.close();
    REQUIRE(alice.c.wait_closed(10s));
    CHECK(alice.events.items().back() == "closed 1000 open final");
    CHECK(alice.c.state() == rw::connection_state::closed);
    const auto late = answer(alice.c.send_message("lobby", "late"));
    CHECK(late.error == rw::client_errc::closed);
  }
}

TEST_CASE("a rejected token closes with 4000 for good") {
  test_server server;
  party eve;
  auto early = eve.c.join("lobby");  // waits in the outbox, then fails with the connection
  eve.c.connect(server.url(), "not a valid demo token!");
  REQUIRE(eve.c.wait_closed(10s));
  CHECK(eve.events.items().back() == "closed 4000 open final");
  CHECK(answer(early).error == proto::close_code::invalid_authentication);
  CHECK_FALSE(contains(eve.events.items(), "reconnecting 1/40 50"));
}

TEST_CASE("a token provider gets one fresh try after 4000") {
  test_server server;
  party carol;
  std::atomic<int> calls{0};
  carol.c.connect(server.url(), [&calls]() -> std::string {
    return ++calls == 1 ? std::string("bad token!") : std::string("carol");
  });
  REQUIRE(answer(carol.c.join("lobby")).ok());
  CHECK(calls == 2);
  const auto events = carol.events.items();
  CHECK(contains(events, "closed 4000 open"));
}

TEST_CASE("a refused handshake counts as a failed attempt, then the client gives up") {
  test_server server;
  party dave(fast_reconnect(2));
  dave.c.connect("ws://127.0.0.1:" + std::to_string(server.port()) + "/not-the-path", "dave");
  auto queued = dave.c.send_message("lobby", "never");
  REQUIRE(dave.c.wait_closed(10s));
  CHECK(dave.events.items() ==
        std::vector<std::string>{"closed 1006 attempt", "reconnecting 1/2 50",
                                 "closed 1006 attempt", "reconnecting 2/2 75",
                                 "closed 1006 attempt final", "gave up"});
  CHECK(answer(queued).error == rw::client_errc::gave_up);
}

TEST_CASE("after the server restarts on the same port, clients reconnect, rejoin and resend") {
  auto first = std::make_unique<test_server>();
  const std::uint16_t port = first->port();
  tcp_proxy proxy(port);  // alice goes through it, so that an acknowledgement can be lost
  party alice;
  party bob;
  alice.c.connect(test_server::url_for(proxy.port()), "alice");
  bob.c.connect(first->url(), "bob");
  REQUIRE(answer(alice.c.join("lobby")).ok());
  REQUIRE(answer(bob.c.join("lobby")).ok());

  // The server accepts this one, but its answer is lost on the way to alice.
  proxy.set_blackhole(true);
  auto unanswered = alice.c.send_message("lobby", "before the restart");
  REQUIRE(first->received.wait_size(1));
  const std::string first_seen = first->received.items().front();
  CHECK(first_seen == unanswered.message_id() + " before the restart");
  REQUIRE(bob.messages.wait_size(1));
  REQUIRE(proxy.wait_discarded(1, 10s));  // the acknowledgement is gone
  proxy.set_blackhole(false);

  first->stop();  // graceful: every session is closed with 1001
  REQUIRE(bob.events.wait(count_of("closed 1001 open", 1)));
  REQUIRE(alice.events.wait(count_of("closed 1001 open", 1)));
  first.reset();

  // Made while disconnected: waits in the outbox.
  auto while_down = alice.c.send_message("lobby", "while the server was down");
  CHECK_FALSE(while_down.ready());

  // bob is back in the room before alice reaches the new server, so that he is a member when
  // her resend and her outbox arrive.
  proxy.set_held(true);
  test_server second(port);
  REQUIRE(bob.events.wait(count_of("connected", 2)));
  REQUIRE(answer(bob.c.join("lobby")).ok());  // answered after his rejoin, on one connection
  proxy.set_held(false);
  REQUIRE(alice.events.wait(count_of("connected", 2)));
  const auto resent = answer(unanswered);
  REQUIRE(resent.ok());
  REQUIRE(answer(while_down).ok());
  // Resent with the same messageId, then the outbox, in order.
  REQUIRE(second.received.wait_size(2));
  CHECK(second.received.items() ==
        std::vector<std::string>{unanswered.message_id() + " before the restart",
                                 while_down.message_id() + " while the server was down"});
  CHECK(alice.c.rooms() == std::vector<std::string>{"lobby"});

  auto after = alice.c.send_message("lobby", "after the restart");
  REQUIRE(answer(after).ok());
  REQUIRE(bob.messages.wait(
      [](const auto& v) { return !v.empty() && v.back().payload.content == "after the restart"; }));
  // The new server knew nothing of the first delivery and delivered the resend again; bob's
  // client recognised it (same sender, room and messageId): every message reached him once.
  CHECK(contents(bob.messages) == std::vector<std::string>{"before the restart",
                                                           "while the server was down",
                                                           "after the restart"});
}

TEST_CASE("a request resent after its answer was lost is delivered exactly once") {
  test_server server;
  tcp_proxy proxy(server.port());
  party alice;
  party bob;
  alice.c.connect(test_server::url_for(proxy.port()), "alice");
  bob.c.connect(server.url(), "bob");
  REQUIRE(answer(alice.c.join("lobby")).ok());
  REQUIRE(answer(bob.c.join("lobby")).ok());

  proxy.set_blackhole(true);
  auto once = alice.c.send_message("lobby", "exactly once");
  REQUIRE(bob.messages.wait_size(1));  // the server accepted and delivered it
  const auto original_seq = bob.messages.items().front().payload.seq;
  CHECK_FALSE(once.ready());

  // The connection is lost; alice reconnects and resends with the same messageId. The server's
  // dedup answers with the original acknowledgement and does not deliver it again.
  proxy.set_blackhole(false);
  proxy.drop_all();
  const auto r = answer(once);
  REQUIRE(r.ok());
  REQUIRE(r.ack->seq);
  CHECK(*r.ack->seq == original_seq);
  CHECK(alice.events.wait(count_of("connected", 2)));

  auto next = alice.c.send_message("lobby", "next");
  REQUIRE(answer(next).ok());
  REQUIRE(bob.messages.wait_size(2));
  CHECK(contents(bob.messages) == std::vector<std::string>{"exactly once", "next"});
  CHECK(server.received.items().size() == 2);  // the repeat never reached the handler again
  CHECK(bob.messages.items().back().payload.seq == original_seq + 1);
}

TEST_CASE("a client on the host's io_context") {
  test_server server;
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::thread runner([&io] { io.run(); });
  {
    inbox<std::string> events;
    rw::client c(io, fast_reconnect());
    record_events(c, events);
    c.connect(server.url(), "host");
    REQUIRE(answer(c.join("lobby")).ok());
    REQUIRE(answer(c.send_message("lobby", "from the host's thread pool")).ok());
    CHECK(c.wait_for_acks(1s));
    c.close();
    REQUIRE(c.wait_closed(10s));
  }
  work.reset();
  io.stop();
  runner.join();
}

TEST_CASE("handles complete from any thread, and callbacks run on the client's thread") {
  test_server server;
  party alice;
  alice.c.connect(server.url(), "alice");
  REQUIRE(answer(alice.c.join("lobby")).ok());
  std::vector<rw::send_handle> handles;
  std::mutex m;
  std::vector<std::thread> senders;
  inbox<std::string> done;
  for (int t = 0; t < 4; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        rw::send_options o;
        o.on_done = [&done](const rw::send_result& r) { done.push(r.message_id); };
        auto h = alice.c.send_message("lobby", std::to_string(t) + "/" + std::to_string(i), o);
        std::lock_guard<std::mutex> lock(m);
        handles.push_back(h);
      }
    });
  }
  for (auto& s : senders) s.join();
  REQUIRE(alice.c.wait_for_acks(10s));
  CHECK(done.size() == 40);
  for (const auto& h : handles) {
    REQUIRE(h.ready());
    CHECK(h.get().ok());
  }
}

namespace {

// A self-signed certificate for CN=localhost made at test time, removed afterwards.
struct certificate {
  certificate() {
    char tmpl[] = "/tmp/roomwire-client-tls-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return;
    dir = tmpl;
    const std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
        "-subj /CN=localhost -keyout '" +
        key() + "' -out '" + cert() + "' >/dev/null 2>&1";
    ok = std::system(cmd.c_str()) == 0;
  }
  ~certificate() {
    if (!dir.empty()) {
      std::remove(key().c_str());
      std::remove(cert().c_str());
      ::rmdir(dir.c_str());
    }
  }
  std::string key() const { return dir + "/key.pem"; }
  std::string cert() const { return dir + "/cert.pem"; }
  std::string dir;
  bool ok = false;
};

}  // namespace

TEST_CASE("wss://: the certificate is verified, against a given CA file and the host name") {
  certificate tls;
  REQUIRE(tls.ok);
  rw::server_options o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.authenticate = rw::demo_authenticate;
  o.log = [](rw::log_level, std::string_view) {};
  o.tls = rw::tls_options{tls.cert(), tls.key()};
  rw::server server(o);
  server.start();
  const std::string url = "wss://localhost:" + std::to_string(server.port()) + "/api/ws";

  SECTION("trusted") {
    auto opts = fast_reconnect();
    opts.tls.ca_file = tls.cert();
    party alice(opts);
    alice.c.connect(url, "alice");
    REQUIRE(answer(alice.c.join("secure")).ok());
    REQUIRE(answer(alice.c.send_message("secure", "over TLS")).ok());
  }
  SECTION("not trusted: the system store does not know a self-signed certificate") {
    party mallory(fast_reconnect(0));
    mallory.c.connect(url, "mallory");
    REQUIRE(mallory.c.wait_closed(10s));
    CHECK(mallory.events.items().front() == "closed 1006 attempt final");
  }
  SECTION("another host name") {
    auto opts = fast_reconnect(0);
    opts.tls.ca_file = tls.cert();
    opts.tls.server_name = "example.com";
    party mallory(opts);
    mallory.c.connect(url, "mallory");
    REQUIRE(mallory.c.wait_closed(10s));
    CHECK(mallory.events.items().front() == "closed 1006 attempt final");
  }
  SECTION("verification off") {
    auto opts = fast_reconnect();
    opts.tls.verify_peer = false;
    party anyone(opts);
    anyone.c.connect(url, "anyone");
    REQUIRE(answer(anyone.c.join("secure")).ok());
  }
  server.stop();
}
