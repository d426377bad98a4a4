// Sessions and users: open(), closed(), and what closing frees.

#include <set>
#include <string>

#include "hub_fixture.hpp"

using namespace roomwire_test;

TEST_CASE("open() gives fresh ids - one user may hold several sessions") {
  hub_test t;
  const auto a1 = t.open("alice");
  const auto a2 = t.open("alice");
  const auto b = t.open("bob");
  CHECK(a1 != a2);
  CHECK(a2 != b);
  CHECK(a1 < a2);
  CHECK(a2 < b);
  CHECK(t.hub->metrics().connections == 3);

  // User-level routing reaches both of alice's sessions.
  proto::envelope<proto::health_update> note;
  CHECK(t.hub->send_to_user("alice", note) == 2);
  CHECK(t.pop_all(a1).size() == 1);
  CHECK(t.pop_all(a2).size() == 1);
  t.expect_nothing(b);

  // Ids are never reused.
  t.hub->closed(b, proto::close_code::normal);
  const auto c = t.open("carol");
  CHECK(c > b);
}

TEST_CASE("closed() frees the session's memberships, queue and emptied rooms") {
  hub_test t;
  const auto a = t.open("alice");
  const auto b = t.member("bob", "lobby");
  t.send(a, join_req("lobby", "j1"));
  t.send(a, join_req("side", "j2"));
  CHECK(t.hub->metrics().rooms == 2);
  CHECK(t.hub->queued_bytes(a) > 0);  // two acknowledgements not yet popped
  const auto in_before = t.hub->metrics().messages_in;

  t.hub->closed(a, proto::close_code::going_away);

  const auto m = t.hub->metrics();
  CHECK(m.connections == 1);
  CHECK(m.rooms == 1);  // "side" went with its last member; "lobby" still has bob
  CHECK(m.closes_by_code.at(1001) == 1);
  CHECK(m.queue_bytes == 0);
  CHECK(t.hub->queued_bytes(a) == 0);
  CHECK(t.hub->pop(a) == nullptr);

  // Frames for a closed session are ignored.
  t.send(a, chat_req("lobby", "ghost", "g1"));
  CHECK(t.hub->metrics().messages_in == in_before);

  // Bob's message reaches nobody: alice is no longer in the room.
  t.send(b, chat_req("lobby", "anyone?", "c1"));
  expect_ack(t.pop_one(b), "c1");
  CHECK(t.hub->send(a, proto::envelope<proto::health_update>{}) == 0);
}

TEST_CASE("the last session of a user closing forgets the user, not the others") {
  hub_test t;
  const auto a1 = t.open("alice");
  const auto a2 = t.open("alice");
  t.hub->closed(a1, proto::close_code::normal);
  proto::envelope<proto::health_update> note;
  CHECK(t.hub->send_to_user("alice", note) == 1);
  CHECK(t.pop_all(a2).size() == 1);
  t.hub->closed(a2, proto::close_code::normal);
  CHECK(t.hub->send_to_user("alice", note) == 0);
  CHECK(t.hub->metrics().connections == 0);
}

TEST_CASE("operations on unknown sessions do nothing") {
  hub_test t;
  t.hub->receive(42, join_req("lobby"));
  t.hub->closed(42, proto::close_code::normal);
  t.hub->set_backlog(42, 100);
  CHECK(t.hub->pop(42) == nullptr);
  CHECK(t.hub->queued_bytes(42) == 0);
  CHECK(t.hub->metrics().messages_in == 0);
  CHECK(t.transport.closes.empty());
}

TEST_CASE("make_message_id() is unique and server-shaped") {
  hub_test t;
  std::set<std::string> ids;
  for (int i = 0; i < 10000; ++i) {
    std::string id = t.hub->make_message_id();
    REQUIRE(id.rfind("s-", 0) == 0);
    REQUIRE(id.size() <= 128);
    ids.insert(std::move(id));
  }
  CHECK(ids.size() == 10000);

  // Another hub (another node) has another prefix.
  hub_test other;
  const std::string mine = t.hub->make_message_id();
  const std::string theirs = other.hub->make_message_id();
  CHECK(mine.substr(0, mine.rfind('-')) != theirs.substr(0, theirs.rfind('-')));
}
