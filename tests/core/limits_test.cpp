// §5: the per-session rate limit, the abuse close, and invalid messages in a row.

#include <string>

#include "hub_fixture.hpp"

using namespace roomwire_test;

namespace {
const std::string invalid_frame = R"({"payload":{}})";  // no type: 4002 at /type

void send_invalid(hub_test& t, core::session_id s, int n) {
  for (int i = 0; i < n; ++i) t.send(s, invalid_frame);
}

void expect_errors(hub_test& t, core::session_id s, std::size_t n, std::string_view code) {
  const auto frames = t.pop_all(s);
  REQUIRE(frames.size() == n);
  for (const auto& r : frames) expect_error(r, code);
}
}  // namespace

TEST_CASE("the bucket starts full, refills at the rate, and refusals say when to retry") {
  hub_test t;  // 50/s, burst 100
  const auto a = t.member("alice", "lobby");
  const auto b = t.member("bob", "lobby");
  for (int i = 1; i <= 99; ++i) t.send(a, chat_req("lobby", "x", "c" + std::to_string(i)));
  CHECK(t.pop_all(a).size() == 99);  // with alice's join: 100 tokens spent
  CHECK(t.pop_all(b).size() == 99);

  t.send(a, chat_req("lobby", "x", "c100", 0));
  const received r = t.pop_one(a);
  CHECK(r.priority == proto::priority::critical);
  const auto e = expect_error(r, "4001");
  CHECK(e.integer("retryAfterMs") == 20);
  CHECK(e.str("messageId") == "c100");
  CHECK(e.str("type") == "message");
  CHECK_FALSE(e.has("path"));
  t.expect_nothing(b);  // refused: not delivered

  t.clock.advance(10);
  t.send(a, chat_req("lobby", "x", "c100"));
  CHECK(expect_error(t.pop_one(a), "4001").integer("retryAfterMs") == 10);
  t.clock.advance(10);
  t.send(a, chat_req("lobby", "x", "c100"));  // refused before, so not remembered: accepted now
  CHECK(expect_ack(t.pop_one(a), "c100").seq == 100);
  CHECK(t.pop_one(b).message_id == "c100");
  t.send(a, chat_req("lobby", "x", "c101"));
  CHECK(expect_error(t.pop_one(a), "4001").integer("retryAfterMs") == 20);

  t.clock.advance(1000);  // 50 tokens
  for (int i = 101; i <= 150; ++i) t.send(a, chat_req("lobby", "x", "c" + std::to_string(i)));
  CHECK(t.pop_all(a).size() == 50);
  t.send(a, chat_req("lobby", "x", "c151"));
  expect_error(t.pop_one(a), "4001");
  CHECK(t.transport.closes.empty());
}

TEST_CASE("the bucket holds at most burst tokens") {
  core::hub_options o;
  o.rate_per_second = 10;
  o.burst = 5;
  hub_test t(o);
  const auto a = t.open("alice");
  t.clock.advance(60000);  // a long idle time refills no more than the burst
  for (int i = 0; i < 5; ++i) t.send(a, join_req("lobby", "j" + std::to_string(i)));
  t.send(a, join_req("lobby", "j5"));
  const auto frames = t.pop_all(a);
  REQUIRE(frames.size() == 6);
  for (int i = 0; i < 5; ++i)
    expect_ack(frames[static_cast<std::size_t>(i)], "j" + std::to_string(i));
  CHECK(expect_error(frames[5], "4001").integer("retryAfterMs") == 100);
}

TEST_CASE("a rate-limited invalid frame is answered 4001, with what could be read of it") {
  core::hub_options o;
  o.rate_per_second = 1;
  o.burst = 1;
  hub_test t(o);
  const auto a = t.open("alice");
  t.send(a, join_req("lobby", "j1"));
  t.send(a, R"({"type":"joinRoom","messageId":"bad"})");
  const auto frames = t.pop_all(a);
  REQUIRE(frames.size() == 2);
  const auto e = expect_error(frames[1], "4001");
  CHECK(e.str("messageId") == "bad");
  CHECK(e.str("type") == "joinRoom");
  CHECK(e.integer("retryAfterMs") == 1000);
}

TEST_CASE("offering more than twice the rate in 5 consecutive 1 s windows closes with 4001") {
  core::hub_options o;
  o.rate_per_second = 10;
  o.burst = 10;
  hub_test t(o);
  const auto a = t.open("alice");
  auto window = [&](int n) {
    for (int i = 0; i < n; ++i) t.send(a, join_req("lobby"));
    t.pop_all(a);
  };

  SECTION("five in a row") {
    for (int w = 0; w < 4; ++w) {
      window(21);
      t.clock.advance(1000);
    }
    window(20);
    CHECK(t.transport.closes.empty());
    window(1);  // the 21st offer of the 5th window
    const close_call c = t.transport.close_of(a);
    CHECK(c.code == proto::close_code::rate_limited);
    CHECK(c.reason == "rate limit exceeded");
    t.send(a, join_req("lobby"));
    CHECK(t.hub->pop(a) == nullptr);
  }
  SECTION("a calm window in between starts the count again") {
    for (int w = 0; w < 4; ++w) {
      window(21);
      t.clock.advance(1000);
    }
    window(20);  // exactly twice the rate is not more than twice
    t.clock.advance(1000);
    for (int w = 0; w < 4; ++w) {
      window(21);
      t.clock.advance(1000);
    }
    CHECK(t.transport.closes.empty());
    window(21);
    CHECK(t.transport.close_of(a).code == proto::close_code::rate_limited);
  }
  SECTION("a silent window breaks the streak") {
    for (int w = 0; w < 4; ++w) {
      window(21);
      t.clock.advance(1000);
    }
    t.clock.advance(1000);
    for (int w = 0; w < 4; ++w) {
      window(21);
      t.clock.advance(1000);
    }
    CHECK(t.transport.closes.empty());
    window(21);
    CHECK(t.transport.closes.size() == 1);
  }
}

TEST_CASE("the 11th invalid message in a row is answered with 4002, then the session closed") {
  hub_test t;
  const auto a = t.open("alice");
  send_invalid(t, a, 10);
  expect_errors(t, a, 10, "4002");
  CHECK(t.transport.closes.empty());

  send_invalid(t, a, 1);
  // The answer is written first: the close comes once the queue is flushed.
  CHECK(t.transport.closes.empty());
  const auto last = t.pop_all(a);  // pops the answer, then finds the queue empty
  REQUIRE(last.size() == 1);
  CHECK(expect_error(last[0], "4002").str("path") == "/type");
  const close_call c = t.transport.close_of(a);
  CHECK(c.code == proto::close_code::invalid_message);

  // Nothing more is served.
  t.send(a, join_req("lobby", "j"));
  CHECK(t.hub->pop(a) == nullptr);
}

TEST_CASE("any other answer resets the invalid count") {
  hub_test t;
  t.member("bob", "lobby");
  const auto a = t.open("alice");
  send_invalid(t, a, 10);
  t.send(a, join_req("side", "j"));  // accepted
  send_invalid(t, a, 10);
  t.send(a, chat_req("nowhere", "x", "c1"));  // 4003
  send_invalid(t, a, 10);
  t.send(a, chat_req("lobby", "x", "c2"));  // 4004
  send_invalid(t, a, 10);
  t.pop_all(a);
  CHECK(t.transport.closes.empty());
  send_invalid(t, a, 1);
  t.pop_all(a);
  CHECK(t.transport.close_of(a).code == proto::close_code::invalid_message);
}

TEST_CASE("a 4001 refusal neither counts as invalid nor resets the count") {
  core::hub_options o;
  o.rate_per_second = 1;
  SECTION("it does not reset") {
    o.burst = 10;
    hub_test t(o);
    const auto a = t.open("alice");
    send_invalid(t, a, 10);
    t.send(a, join_req("lobby", "j"));  // no token left: 4001
    const auto frames = t.pop_all(a);
    REQUIRE(frames.size() == 11);
    expect_error(frames.back(), "4001");
    t.clock.advance(1000);
    send_invalid(t, a, 1);  // the 11th invalid in a row
    expect_errors(t, a, 1, "4002");
    CHECK(t.transport.close_of(a).code == proto::close_code::invalid_message);
  }
  SECTION("it does not count") {
    o.burst = 9;
    hub_test t(o);
    const auto a = t.open("alice");
    send_invalid(t, a, 9);
    send_invalid(t, a, 1);  // no token left: 4001
    auto frames = t.pop_all(a);
    REQUIRE(frames.size() == 10);
    expect_error(frames.back(), "4001");
    t.clock.advance(1000);
    send_invalid(t, a, 1);  // the 10th invalid
    expect_errors(t, a, 1, "4002");
    CHECK(t.transport.closes.empty());
    t.clock.advance(1000);
    send_invalid(t, a, 1);  // the 11th
    expect_errors(t, a, 1, "4002");
    CHECK(t.transport.close_of(a).code == proto::close_code::invalid_message);
  }
}

TEST_CASE("a session that does not read its last answer is closed at the flush deadline") {
  hub_test t;
  const auto a = t.open("alice");
  send_invalid(t, a, 11);
  CHECK(t.hub->next_deadline_ms() <= t.clock.steady_ms() + 5000);
  t.clock.advance(4999);
  t.hub->tick();
  CHECK(t.transport.closes.empty());
  t.clock.advance(1);
  t.hub->tick();
  CHECK(t.transport.close_of(a).code == proto::close_code::invalid_message);
  CHECK(t.hub->pop(a) == nullptr);  // its queue was discarded
}

TEST_CASE("max_invalid_in_row is an option") {
  core::hub_options o;
  o.max_invalid_in_row = 2;
  hub_test t(o);
  const auto a = t.open("alice");
  send_invalid(t, a, 2);
  t.pop_all(a);
  CHECK(t.transport.closes.empty());
  send_invalid(t, a, 1);
  t.pop_all(a);
  CHECK(t.transport.close_of(a).code == proto::close_code::invalid_message);
}
