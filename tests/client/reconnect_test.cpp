// The reconnection schedule of PROTOCOL.md §6, on a virtual clock.

#include <string>
#include <vector>

#include "client_fixture.hpp"

using namespace roomwire_test;
using Catch::Matchers::StartsWith;

TEST_CASE("reconnect_delay: the contract's defaults, rounded down, and the cap") {
  const rw::reconnect_options o;
  CHECK(rw::reconnect_delay(o, 0) == 1000);
  CHECK(rw::reconnect_delay(o, 1) == 1500);
  CHECK(rw::reconnect_delay(o, 2) == 2250);
  CHECK(rw::reconnect_delay(o, 3) == 3375);
  CHECK(rw::reconnect_delay(o, 4) == 5062);  // 5062.5
  CHECK(rw::reconnect_delay(o, 8) == 25628);
  CHECK(rw::reconnect_delay(o, 9) == 30000);  // 38443.4 capped: the 10th attempt
  CHECK(rw::reconnect_delay(o, 400) == 30000);

  rw::reconnect_options custom;
  custom.initial_delay_ms = 100;
  custom.multiplier = 2;
  custom.max_delay_ms = 1000;
  CHECK(rw::reconnect_delay(custom, 0) == 100);
  CHECK(rw::reconnect_delay(custom, 3) == 800);
  CHECK(rw::reconnect_delay(custom, 4) == 1000);
}

TEST_CASE("a lost connection is retried after 1000, 1500, 2250, 3375 and 5062 ms, then gives up") {
  client_test t;
  t.connect_and_open();
  REQUIRE(t.transport.opens.size() == 1);
  CHECK(t.transport.opens[0].url == "ws://127.0.0.1:9002/api/ws");
  CHECK(t.transport.opens[0].token == "alice");
  CHECK(t.take_events() == std::vector<std::string>{"connected"});
  CHECK_FALSE(t.core.next_deadline());

  t.close_current(1006, "connection reset");
  CHECK(t.core.state() == rw::connection_state::waiting);
  CHECK(t.take_events() == std::vector<std::string>{"closed 1006 open", "reconnecting 1/5 1000"});

  const std::vector<std::int64_t> delays{1000, 1500, 2250, 3375, 5062};
  for (std::size_t i = 0; i < delays.size(); ++i) {
    INFO("attempt " << i + 1);
    CHECK(t.wait_ms() == delays[i]);
    t.advance(delays[i] - 1);
    CHECK(t.transport.opens.size() == i + 1);  // not yet
    t.advance(1);
    REQUIRE(t.transport.opens.size() == i + 2);
    CHECK(t.core.state() == rw::connection_state::connecting);
    CHECK(t.transport.opens.back().connection == t.core.connection());
    // The attempt is refused (no open): it counts as a failed attempt.
    t.close_current(1006, "connection refused");
    if (i + 1 < delays.size()) {
      CHECK(t.take_events() == std::vector<std::string>{"closed 1006 attempt",
                                                        "reconnecting " + std::to_string(i + 2) +
                                                            "/5 " + std::to_string(delays[i + 1])});
    }
  }
  const auto last = t.take_events();
  REQUIRE(last.size() == 2);
  CHECK(last[0] == "closed 1006 attempt final");
  CHECK(last[1] ==
        "gave up: 5 reconnection attempts failed; last: close 1006 (connection refused)");
  CHECK(t.core.state() == rw::connection_state::closed);
  CHECK_FALSE(t.core.next_deadline());
  t.advance(60000);
  CHECK(t.transport.opens.size() == 6);  // 1 + 5 attempts, no more
}

TEST_CASE("the first connect failing starts the same schedule") {
  client_test t;
  t.core.connect("ws://127.0.0.1:1/api/ws", "alice");
  t.close_current(1006, "connection refused");
  CHECK(t.take_events() ==
        std::vector<std::string>{"closed 1006 attempt", "reconnecting 1/5 1000"});
  CHECK(t.wait_ms() == 1000);
}

TEST_CASE("a successful connection resets the attempt count") {
  client_test t;
  t.connect_and_open();
  t.close_current(1001);
  t.advance(1000);
  t.close_current(1006);
  t.advance(1500);
  t.close_current(1006);
  CHECK(t.wait_ms() == 2250);
  t.advance(2250);
  t.open_current();
  t.take_events();
  t.close_current(1001, "going away");
  CHECK(t.take_events() == std::vector<std::string>{"closed 1001 open", "reconnecting 1/5 1000"});
  CHECK(t.wait_ms() == 1000);
}

TEST_CASE("every reconnection number is an option, and max_attempts 0 never reconnects") {
  SECTION("custom schedule") {
    rw::client_core_options o;
    o.reconnect.initial_delay_ms = 10;
    o.reconnect.multiplier = 3;
    o.reconnect.max_delay_ms = 50;
    o.reconnect.max_attempts = 4;
    client_test t(o);
    t.connect_and_open();
    t.close_current(1006);
    for (const std::int64_t d : {10, 30, 50, 50}) {
      CHECK(t.wait_ms() == d);
      t.advance(d);
      t.close_current(1006);
    }
    CHECK(t.core.state() == rw::connection_state::closed);
    CHECK(t.transport.opens.size() == 5);
  }
  SECTION("no reconnection") {
    rw::client_core_options o;
    o.reconnect.max_attempts = 0;
    client_test t(o);
    t.connect_and_open();
    t.take_events();
    t.close_current(1001);
    const auto events = t.take_events();
    REQUIRE(events.size() == 2);
    CHECK(events[0] == "closed 1001 open final");
    CHECK_THAT(events[1], StartsWith("gave up"));
  }
}

TEST_CASE("jitter, when asked for, only shortens the delay") {
  rw::client_core_options o;
  o.reconnect.jitter = 0.5;
  client_test t(o);
  t.connect_and_open();
  t.close_current(1006);
  const auto first = t.wait_ms();
  CHECK(first >= 500);
  CHECK(first <= 1000);
  t.advance(first);
  t.close_current(1006);
  const auto second = t.wait_ms();
  CHECK(second >= 750);
  CHECK(second <= 1500);
}

TEST_CASE("no reconnection after a 1000 close from the server") {
  client_test t;
  t.connect_and_open();
  t.take_events();
  auto pending = t.core.send(proto::join_room{"lobby", {}});
  t.close_current(1000, "bye");
  CHECK(t.take_events() == std::vector<std::string>{"closed 1000 open final"});
  CHECK(t.core.state() == rw::connection_state::closed);
  CHECK_FALSE(t.core.next_deadline());
  REQUIRE(pending.ready());
  CHECK(pending.get().error == rw::client_errc::closed);
  t.advance(60000);
  CHECK(t.transport.opens.size() == 1);
}

TEST_CASE("no reconnection after 4000 with a fixed token") {
  client_test t;
  t.connect_and_open("bad token");
  t.take_events();
  auto pending = t.core.send(proto::join_room{"lobby", {}});
  t.close_current(4000, "invalid authentication");
  CHECK(t.take_events() == std::vector<std::string>{"closed 4000 open final"});
  CHECK(t.core.state() == rw::connection_state::closed);
  REQUIRE(pending.ready());
  CHECK(pending.get().error == proto::close_code::invalid_authentication);
  CHECK(pending.get().error == proto::error_condition_kind::connection_closed);
  t.advance(60000);
  CHECK(t.transport.opens.size() == 1);
}

TEST_CASE("4000 with a token provider: one immediate try with a fresh token") {
  client_test t;
  int calls = 0;
  t.core.connect("ws://h/api/ws", [&calls] { return "token-" + std::to_string(++calls); });
  t.open_current();
  CHECK(t.transport.opens.back().token == "token-1");
  t.take_events();

  t.close_current(4000);
  CHECK(t.take_events() ==
        std::vector<std::string>{"closed 4000 open", "reconnecting 1/5 0 fresh"});
  REQUIRE(t.transport.opens.size() == 2);
  CHECK(t.transport.opens.back().token == "token-2");
  CHECK(t.core.state() == rw::connection_state::connecting);

  SECTION("refused again: closed for good") {
    t.open_current();
    t.close_current(4000);
    CHECK(t.take_events() == std::vector<std::string>{"connected", "closed 4000 open final"});
    CHECK(t.transport.opens.size() == 2);
  }
  SECTION("accepted (a frame arrived): a later 4000 may try once more") {
    t.open_current();
    t.ack("unrelated");
    t.close_current(4000);
    CHECK(t.transport.opens.size() == 3);
    CHECK(t.transport.opens.back().token == "token-3");
  }
  SECTION("every reconnection asks the provider") {
    t.open_current();
    t.ack("unrelated");
    t.close_current(1001);
    t.advance(1000);
    CHECK(t.transport.opens.back().token == "token-3");
  }
}

TEST_CASE("a 4001 close waits at least the last retryAfterMs") {
  client_test t;
  t.connect_and_open();
  SECTION("longer than the back-off") {
    t.refuse("m-1", "4001", R"(,"retryAfterMs":7000)");
    t.close_current(4001, "rate limit exceeded");
    CHECK(t.wait_ms() == 7000);
    t.advance(6999);
    CHECK(t.transport.opens.size() == 1);
    t.advance(1);
    CHECK(t.transport.opens.size() == 2);
  }
  SECTION("shorter than the back-off") {
    t.refuse("m-1", "4001", R"(,"retryAfterMs":20)");
    t.close_current(4001);
    CHECK(t.wait_ms() == 1000);
  }
  SECTION("other closes do not use it") {
    t.refuse("m-1", "4001", R"(,"retryAfterMs":7000)");
    t.close_current(1006);
    CHECK(t.wait_ms() == 1000);
  }
}

TEST_CASE("events of an earlier connection are ignored") {
  client_test t;
  t.connect_and_open();
  const auto old = t.core.connection();
  t.close_current(1006);
  t.advance(1000);
  REQUIRE(t.core.connection() != old);
  t.core.opened(old);
  t.core.closed(old, 1000, "late");
  t.core.received(old, R"({"type":"healthUpdate","payload":{"status":"ok"}})");
  t.run();
  CHECK(t.core.state() == rw::connection_state::connecting);
}

TEST_CASE("close(): a close handshake, then nothing more") {
  client_test t;
  SECTION("while open") {
    t.connect_and_open();
    auto pending = t.core.send(proto::join_room{"lobby", {}});
    t.core.close(1000, "bye");
    REQUIRE(t.transport.closes.size() == 1);
    CHECK(t.transport.closes[0].code == 1000);
    CHECK(t.core.state() == rw::connection_state::closing);
    CHECK_FALSE(pending.ready());
    // Answers still arrive while the close handshake runs.
    t.ack(pending.message_id(), "lobby");
    CHECK(pending.ready());
    t.close_current(1000);
    CHECK(t.core.state() == rw::connection_state::closed);
    CHECK(t.take_events().back() == "closed 1000 open final");
  }
  SECTION("while waiting to reconnect") {
    t.connect_and_open();
    t.close_current(1006);
    auto pending = t.core.send(proto::join_room{"lobby", {}});
    t.core.close();
    t.run();
    CHECK(t.core.state() == rw::connection_state::closed);
    REQUIRE(pending.ready());
    CHECK(pending.get().error == rw::client_errc::closed);
    t.advance(60000);
    CHECK(t.transport.opens.size() == 1);
  }
  SECTION("while connecting: the attempt is abandoned") {
    t.core.connect("ws://h/api/ws", "alice");
    t.core.close();
    REQUIRE(t.transport.closes.size() == 1);
    t.close_current(1006);
    CHECK(t.core.state() == rw::connection_state::closed);
    t.advance(60000);
    CHECK(t.transport.opens.size() == 1);
  }
  SECTION("sends after close fail at once") {
    t.connect_and_open();
    t.core.close();
    auto late = t.core.send(proto::join_room{"x", {}});
    t.run();
    REQUIRE(late.ready());
    CHECK(late.get().error == rw::client_errc::closed);
  }
}

TEST_CASE("with_token_query") {
  CHECK(rw::with_token_query("ws://h:1/api/ws", "alice") == "ws://h:1/api/ws?token=alice");
  CHECK(rw::with_token_query("ws://h/api/ws?x=1", "a.b_c-d~") ==
        "ws://h/api/ws?x=1&token=a.b_c-d~");
  CHECK(rw::with_token_query("ws://h/p", "a b&c=é") == "ws://h/p?token=a%20b%26c%3D%C3%A9");
  CHECK(rw::with_token_query("ws://h/p#frag", "t") == "ws://h/p?token=t#frag");
}
