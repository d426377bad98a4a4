// Requests: acknowledgement and error matching by messageId, resending after a reconnect, the
// outbox, timeouts, and the joined rooms.

#include <set>
#include <string>
#include <vector>

#include "client_fixture.hpp"

using namespace roomwire_test;

namespace {

proto::chat_message chat(std::string room, std::string content) {
  proto::chat_message m;
  m.room_id = std::move(room);
  m.content = std::move(content);
  return m;
}

rw::send_options with_priority(proto::priority p) {
  rw::send_options o;
  o.priority = p;
  return o;
}

}  // namespace

TEST_CASE("a send is written at once and completed by the messageReceived with its id") {
  client_test t;
  t.connect_and_open();
  int called = 0;
  rw::send_options o;
  o.on_done = [&](const rw::send_result& r) {
    ++called;
    CHECK(r.ok());
  };
  auto h = t.core.send(chat("lobby", "hello"), o);
  const auto sent = t.take_sent();
  REQUIRE(sent.size() == 1);
  const auto env = sent[0].as<proto::chat_message>();
  CHECK(env.message_id == h.message_id());
  CHECK(env.payload.content == "hello");
  CHECK(env.timestamp == t.clock.wall_ms());
  CHECK(env.priority == proto::priority::normal);
  CHECK_FALSE(h.ready());
  CHECK(t.core.pending() == 1);

  t.ack("someone-else");
  CHECK_FALSE(h.ready());
  t.ack(h.message_id(), "lobby");
  REQUIRE(h.ready());
  CHECK(called == 1);
  const auto& r = h.get();
  CHECK(r.ok());
  CHECK(r.message_id == h.message_id());
  REQUIRE(r.ack);
  CHECK(r.ack->room_id == "lobby");
  CHECK(t.core.pending() == 0);

  t.ack(h.message_id());  // a second answer is ignored
  CHECK(called == 1);
}

TEST_CASE("an error with details.messageId completes the send with the server's code") {
  client_test t;
  t.connect_and_open();
  auto h = t.core.send(chat("elsewhere", "hi"));
  t.refuse(h.message_id(), "4004");
  REQUIRE(h.ready());
  const auto& r = h.get();
  CHECK(r.error == proto::error_code::permission_denied);
  CHECK(r.error == proto::error_condition_kind::refused_request);
  REQUIRE(r.refusal);
  CHECK(r.refusal->code == "4004");
  CHECK_FALSE(r.ack);

  auto limited = t.core.send(chat("lobby", "hi"));
  t.refuse(limited.message_id(), "4001", R"(,"retryAfterMs":250)");
  CHECK(limited.get().error == proto::error_code::rate_limited);
  CHECK(limited.get().retry_after_ms == 250);
}

TEST_CASE("message ids are unique and carry a random prefix") {
  client_test t;
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.insert(t.core.make_message_id());
  CHECK(ids.size() == 1000);
  const std::string id = t.core.make_message_id();
  CHECK(id.size() <= 128);

  rw::client_core_options other;
  other.seed = 7;
  client_test u(other);
  const std::string theirs = u.core.make_message_id();
  CHECK(theirs.substr(0, theirs.find('-')) != id.substr(0, id.find('-')));

  // Unseeded cores draw their prefix from std::random_device.
  recording_transport tr;
  roomwire::core::manual_clock clock;
  rw::client_core a(tr, clock), b(tr, clock);
  CHECK(a.make_message_id() != b.make_message_id());
}

TEST_CASE("a given messageId is used, and must be unique among unanswered requests") {
  client_test t;
  t.connect_and_open();
  rw::send_options o;
  o.message_id = "mine-1";
  auto h = t.core.send(chat("lobby", "a"), o);
  CHECK(h.message_id() == "mine-1");
  CHECK(t.take_sent().at(0).message_id == "mine-1");
  auto again = t.core.send(chat("lobby", "b"), o);
  t.run();
  REQUIRE(again.ready());
  CHECK(again.get().error == rw::client_errc::duplicate_message_id);
  CHECK(t.take_sent().empty());

  o.message_id = std::string(129, 'x');
  auto too_long = t.core.send(chat("lobby", "c"), o);
  t.run();
  CHECK(too_long.get().error == rw::client_errc::invalid_message_id);
}

TEST_CASE(
    "after a reconnect: rooms are joined again, then unanswered requests are resent with "
    "the same messageId, in order") {
  client_test t;
  t.connect_and_open();
  auto join = t.core.send(proto::join_room{"lobby", {}});
  t.ack(join.message_id(), "lobby");
  CHECK(t.core.rooms() == std::vector<std::string>{"lobby"});
  auto m1 = t.core.send(chat("lobby", "one"));
  auto m2 = t.core.send(chat("lobby", "two"));
  auto m3 = t.core.send(chat("lobby", "three"));
  t.ack(m2.message_id(), "lobby");
  const auto first = t.take_sent();
  REQUIRE(first.size() == 4);

  t.close_current(1001);
  CHECK(t.take_sent().empty());
  t.advance(1000);
  CHECK(t.take_sent().empty());  // nothing before the connection is open
  t.open_current();

  const auto resent = t.take_sent();
  REQUIRE(resent.size() == 3);
  const auto rejoin = resent[0].as<proto::join_room>();
  CHECK(rejoin.payload.room_id == "lobby");
  CHECK(rejoin.message_id != join.message_id());  // a fresh request
  CHECK(resent[1].message_id == m1.message_id());
  CHECK(resent[1].text == first[1].text);  // byte for byte
  CHECK(resent[2].message_id == m3.message_id());
  CHECK(resent[2].text == first[3].text);

  // The server's dedup answers the resends (and the rejoin's answer is the core's own).
  t.ack(rejoin.message_id, "lobby");
  t.ack(m1.message_id(), "lobby");
  t.ack(m3.message_id(), "lobby");
  CHECK(m1.get().ok());
  CHECK(m3.get().ok());
  CHECK(t.core.pending() == 0);
  CHECK(t.core.rooms() == std::vector<std::string>{"lobby"});
}

TEST_CASE("resends keep priority order: more urgent first, creation order within a priority") {
  client_test t;
  t.connect_and_open();
  auto low = t.core.send(chat("r", "low"), with_priority(proto::priority::background));
  auto n1 = t.core.send(chat("r", "n1"));
  auto high = t.core.send(chat("r", "high"), with_priority(proto::priority::critical));
  auto n2 = t.core.send(chat("r", "n2"));
  t.take_sent();
  t.close_current(1006);
  auto n3 = t.core.send(chat("r", "n3"));  // made while disconnected: in the outbox
  t.advance(1000);
  t.open_current();
  std::vector<std::string> order;
  std::vector<proto::priority> priorities;
  for (const auto& w : t.take_sent()) {
    order.push_back(w.message_id);
    priorities.push_back(w.priority);
  }
  CHECK(order == std::vector<std::string>{high.message_id(), n1.message_id(), n2.message_id(),
                                          n3.message_id(), low.message_id()});
  CHECK(priorities.front() == proto::priority::critical);
  CHECK(priorities.back() == proto::priority::background);
}

TEST_CASE("sends made while disconnected wait in the bounded outbox") {
  rw::client_core_options o;
  o.max_outbox = 2;
  client_test t(o);

  SECTION("before connect()") {
    auto a = t.core.send(chat("r", "a"));
    auto b = t.core.send(chat("r", "b"));
    int callbacks = 0;
    rw::send_options with_callback;
    with_callback.on_done = [&](const rw::send_result& r) {
      ++callbacks;
      CHECK(r.error == rw::client_errc::outbox_full);
    };
    auto c = t.core.send(chat("r", "c"), with_callback);
    CHECK_FALSE(c.ready());  // completed by the callbacks, never inside send()
    t.run();
    REQUIRE(c.ready());
    CHECK(callbacks == 1);
    CHECK(c.get().error == rw::client_errc::outbox_full);
    CHECK(c.get().error.message() == "the outbox is full");
    CHECK(t.core.outbox_size() == 2);
    CHECK(t.transport.sent.empty());

    t.connect_and_open();
    const auto sent = t.take_sent();
    REQUIRE(sent.size() == 2);
    CHECK(sent[0].message_id == a.message_id());
    CHECK(sent[1].message_id == b.message_id());
    CHECK(t.core.outbox_size() == 0);
    CHECK(t.core.pending() == 2);
  }
  SECTION("while reconnecting; requests waiting to be resent do not count") {
    t.connect_and_open();
    auto w1 = t.core.send(chat("r", "w1"));
    auto w2 = t.core.send(chat("r", "w2"));
    auto w3 = t.core.send(chat("r", "w3"));
    t.close_current(1006);
    auto a = t.core.send(chat("r", "a"));
    auto b = t.core.send(chat("r", "b"));
    auto c = t.core.send(chat("r", "c"));
    t.run();
    CHECK_FALSE(a.ready());
    CHECK_FALSE(b.ready());
    CHECK(c.get().error == rw::client_errc::outbox_full);
    CHECK(t.core.pending() == 5);
  }
  SECTION("given up: everything waiting fails with gave_up") {
    rw::client_core_options once = o;
    once.reconnect.max_attempts = 1;
    client_test u(once);
    u.connect_and_open();
    auto written = u.core.send(chat("r", "w"));
    u.close_current(1006);
    auto queued = u.core.send(chat("r", "q"));
    u.advance(1000);
    u.close_current(1006);
    REQUIRE(written.ready());
    REQUIRE(queued.ready());
    CHECK(written.get().error == rw::client_errc::gave_up);
    CHECK(queued.get().error == rw::client_errc::gave_up);
    CHECK(u.core.pending() == 0);
  }
}

TEST_CASE("timeouts run while connected only, from the time a request is written") {
  rw::client_core_options o;
  o.ack_timeout_ms = 10000;
  client_test t(o);
  t.connect_and_open();
  auto h = t.core.send(chat("r", "x"));
  CHECK(t.wait_ms() == 10000);
  t.advance(9999);
  CHECK_FALSE(h.ready());
  t.advance(1);
  REQUIRE(h.ready());
  CHECK(h.get().error == rw::client_errc::timeout);
  CHECK(t.core.pending() == 0);
  t.ack(h.message_id());  // a late answer is ignored

  SECTION("paused while disconnected, restarted on resend") {
    auto p = t.core.send(chat("r", "y"));
    t.advance(6000);
    t.close_current(1006);
    CHECK(t.wait_ms() == 1000);  // only the reconnection is due
    t.advance(1000);
    t.advance(20000);  // the attempt hangs: still no timeout, the request is not written
    CHECK_FALSE(p.ready());
    t.open_current();
    CHECK(t.wait_ms() == 10000);
    t.advance(10000);
    CHECK(p.get().error == rw::client_errc::timeout);
  }
  SECTION("per request, and 0 for none") {
    rw::send_options quick;
    quick.timeout_ms = 50;
    auto q = t.core.send(chat("r", "q"), quick);
    rw::send_options never;
    never.timeout_ms = 0;
    auto n = t.core.send(chat("r", "n"), never);
    t.advance(50);
    CHECK(q.get().error == rw::client_errc::timeout);
    CHECK_FALSE(t.core.next_deadline());
    t.advance(1000000);
    CHECK_FALSE(n.ready());
  }
}

TEST_CASE("joined rooms follow acknowledged joins and leaves") {
  client_test t;
  t.connect_and_open();
  auto a = t.core.send(proto::join_room{"a", {}});
  auto b = t.core.send(proto::join_room{"b", {}});
  CHECK(t.core.rooms().empty());  // not before the acknowledgement
  t.ack(a.message_id(), "a");
  t.ack(b.message_id(), "b");
  auto again = t.core.send(proto::join_room{"a", {}});
  t.ack(again.message_id(), "a");
  CHECK(t.core.rooms() == std::vector<std::string>{"a", "b"});
  auto denied = t.core.send(proto::join_room{"c", {}});
  t.refuse(denied.message_id(), "4004");
  auto left = t.core.send(proto::leave_room{"a"});
  t.ack(left.message_id(), "a");
  CHECK(t.core.rooms() == std::vector<std::string>{"b"});
  auto gone = t.core.send(proto::leave_room{"b"});
  t.refuse(gone.message_id(), "4003");  // the room no longer exists: not in it either
  CHECK(t.core.rooms().empty());
}

TEST_CASE("a reconnect rejoins what the session should be in, given unanswered joins and leaves") {
  client_test t;
  t.connect_and_open();
  auto a = t.core.send(proto::join_room{"a", {}});
  auto b = t.core.send(proto::join_room{"b", {}});
  t.ack(a.message_id(), "a");
  t.ack(b.message_id(), "b");
  // Written but unanswered when the connection drops: the server may have acted on them (and
  // will answer their resend from its dedup without acting again), or not.
  auto leave_a = t.core.send(proto::leave_room{"a"});
  auto join_c = t.core.send(proto::join_room{"c", {}});
  t.take_sent();
  t.close_current(1006);
  auto join_d = t.core.send(proto::join_room{"d", {}});  // never written: sent afresh
  t.advance(1000);
  t.open_current();
  std::vector<std::string> frames;
  for (const auto& w : t.take_sent()) {
    if (w.type == "joinRoom") {
      frames.push_back("join " + w.as<proto::join_room>().payload.room_id + " " +
                       (w.message_id == join_c.message_id()   ? "same"
                        : w.message_id == join_d.message_id() ? "new"
                                                              : "rejoin"));
    } else {
      frames.push_back("leave " + w.as<proto::leave_room>().payload.room_id);
    }
  }
  CHECK(frames == std::vector<std::string>{"join b rejoin", "join c rejoin", "leave a",
                                           "join c same", "join d new"});
}

TEST_CASE("a rejoin that is refused removes the room") {
  client_test t;
  t.connect_and_open();
  auto a = t.core.send(proto::join_room{"a", {}});
  t.ack(a.message_id(), "a");
  t.close_current(1006);
  t.advance(1000);
  t.open_current();
  const auto sent = t.take_sent();
  const auto rejoin = sent.back();
  t.refuse(rejoin.message_id, "4004");
  CHECK(t.core.rooms().empty());
  CHECK(t.core.pending() == 0);
}
