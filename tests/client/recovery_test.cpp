// §6 recovery: rejoins after a reconnect carry "since", the last seq seen in the room, and a
// room whose history could not be replayed in full is reported to the application.

#include <optional>
#include <string>
#include <vector>

#include "client_fixture.hpp"

using namespace roomwire_test;

namespace {

std::string chat(const std::string& sender, const std::string& room, const std::string& id,
                 std::int64_t seq, int priority = 2) {
  return R"({"type":"message","payload":{"roomId":")" + room +
         R"(","content":"c","metadata":{"type":"text"},"senderId":")" + sender + R"(","seq":)" +
         std::to_string(seq) + R"(},"timestamp":1,"messageId":")" + id + R"(","priority":)" +
         std::to_string(priority) + "}";
}

// The acknowledgement of a join, as a server that implements recovery words it.
void ack_join(client_test& t, const std::string& message_id, const std::string& room,
              std::optional<bool> recovered) {
  proto::envelope<proto::message_received> env;
  env.payload.message_id = message_id;
  env.payload.room_id = room;
  env.payload.sender_id = "alice";
  env.payload.timestamp = t.clock.wall_ms();
  env.payload.recovered = recovered;
  env.message_id = "s-" + message_id;
  env.timestamp = t.clock.wall_ms();
  t.receive(env);
}

// A client connected and in `rooms`, the joins acknowledged.
void join(client_test& t, const std::vector<std::string>& rooms) {
  for (const auto& room : rooms) {
    auto h = t.core.send(proto::join_room{room, {}});
    t.ack(h.message_id(), room);
    REQUIRE(h.ready());
  }
  t.take_sent();
}

// Drops the connection, waits out the first back-off and opens again; returns the joinRoom
// frames the core wrote on the new connection.
std::vector<proto::envelope<proto::join_room>> reconnect(client_test& t) {
  t.take_sent();
  t.close_current(1006, "connection reset");
  t.advance(t.wait_ms());
  t.open_current();
  std::vector<proto::envelope<proto::join_room>> joins;
  for (const auto& w : t.take_sent()) {
    if (w.type == proto::join_room::type) joins.push_back(w.as<proto::join_room>());
  }
  return joins;
}

const proto::envelope<proto::join_room>& rejoin_of(
    const std::vector<proto::envelope<proto::join_room>>& joins, const std::string& room) {
  for (const auto& j : joins) {
    if (j.payload.room_id == room) return j;
  }
  FAIL("no rejoin of " << room);
  return joins.front();
}

// alice sends a chat message to `room`; the server acknowledges it with `seq`.
rw::send_handle send_acknowledged(client_test& t, const std::string& room, std::int64_t seq) {
  proto::chat_message mine;
  mine.room_id = room;
  mine.content = "hi";
  auto h = t.core.send(mine);
  proto::envelope<proto::message_received> ack;
  ack.payload.message_id = h.message_id();
  ack.payload.room_id = room;
  ack.payload.sender_id = "alice";
  ack.payload.seq = seq;
  ack.message_id = "s-" + std::to_string(seq);
  t.receive(ack);
  REQUIRE(h.ready());
  return h;
}

// alice in "lobby", where bob's seq 5 was delivered; `seen` collects "sender seq" of every
// delivery passed to the handler.
void in_lobby_after_seq_5(client_test& t, std::vector<std::string>& seen) {
  t.core.on<proto::chat_delivery>([&seen](const proto::envelope<proto::chat_delivery>& m) {
    seen.push_back(m.payload.sender_id + " " + std::to_string(m.payload.seq));
  });
  t.connect_and_open();
  join(t, {"lobby"});
  t.receive(chat("bob", "lobby", "b-5", 5));
}

}  // namespace

TEST_CASE("a rejoin carries since: the last seq seen with none missing before it") {
  client_test t;
  t.connect_and_open();
  join(t, {"lobby", "quiet"});
  t.receive(chat("bob", "lobby", "b-1", 3));
  t.receive(chat("bob", "lobby", "b-3", 5, 1));  // more urgent: overtook seq 4
  t.receive(chat("bob", "lobby", "b-2", 4));

  const auto joins = reconnect(t);
  REQUIRE(joins.size() == 2);
  CHECK(rejoin_of(joins, "lobby").payload.since == 5);
  // Nothing seen: no since, which would ask for the room's whole history.
  CHECK_FALSE(rejoin_of(joins, "quiet").payload.since);
  for (const auto& j : joins) {
    if (j.payload.room_id == "quiet") CHECK(proto::encode(j).find("since") == std::string::npos);
  }
}

TEST_CASE("no since on a rejoin when no message of the room was seen, nor its seq told") {
  client_test t;
  t.connect_and_open();
  join(t, {"lobby"});
  t.receive(chat("bob", "elsewhere", "b-1", 8));  // a room the client is not in
  const auto joins = reconnect(t);
  REQUIRE(joins.size() == 1);
  CHECK(joins[0].payload.room_id == "lobby");
  CHECK_FALSE(joins[0].payload.since);
  CHECK_FALSE(reconnect(t)[0].payload.since);  // and still none on the next one

  // Joined later, the room's earlier traffic is no reason to ask for its history.
  join(t, {"elsewhere"});
  const auto later = reconnect(t);
  REQUIRE(later.size() == 2);
  CHECK_FALSE(rejoin_of(later, "elsewhere").payload.since);
}

TEST_CASE("nothing seen before the drop: the rejoin asks from the seq the join was told") {
  client_test t;
  t.connect_and_open();
  auto h = t.core.send(proto::join_room{"lobby", {}});
  // A server that says the room's last seq when the session became a member (here 41).
  proto::envelope<proto::message_received> ack;
  ack.payload.message_id = h.message_id();
  ack.payload.room_id = "lobby";
  ack.payload.sender_id = "alice";
  ack.payload.seq = 41;
  ack.message_id = "s-j";
  t.receive(ack);
  REQUIRE(h.ready());
  const auto joins = reconnect(t);
  REQUIRE(joins.size() == 1);
  CHECK(joins[0].payload.since == 41);
  // What arrives after it counts as usual.
  t.receive(chat("bob", "lobby", "b-42", 42));
  CHECK(reconnect(t)[0].payload.since == 42);
}

TEST_CASE("since does not depend on the dedup memory") {
  rw::client_core_options options;
  options.delivery_memory = 0;
  client_test t(options);
  t.connect_and_open();
  join(t, {"lobby"});
  t.receive(chat("bob", "lobby", "b-1", 12));
  CHECK(reconnect(t)[0].payload.since == 12);
}

TEST_CASE("the seq of the client's own acknowledged message counts as seen") {
  client_test t;
  t.connect_and_open();
  join(t, {"lobby"});
  t.receive(chat("bob", "lobby", "b-1", 6));
  const auto h = send_acknowledged(t, "lobby", 7);
  // It is never delivered back to this session: without the ack the rejoin would ask for it.
  CHECK(reconnect(t)[0].payload.since == 7);
}

TEST_CASE("recovered: false is reported by on_history_gap, after the replayed messages") {
  client_test t;
  std::vector<std::string> seen;
  t.core.on<proto::chat_delivery>([&](const proto::envelope<proto::chat_delivery>& m) {
    seen.push_back(m.payload.room_id + " " + std::to_string(m.payload.seq));
  });
  t.core.on_history_gap([&](std::string_view room) { seen.push_back("gap " + std::string(room)); });
  t.connect_and_open();
  join(t, {"lobby", "design"});
  t.receive(chat("bob", "lobby", "b-2", 2));
  t.receive(chat("bob", "design", "b-9", 9));
  seen.clear();

  auto joins = reconnect(t);
  const auto lobby = rejoin_of(joins, "lobby");
  const auto design = rejoin_of(joins, "design");
  REQUIRE(lobby.payload.since == 2);
  // lobby: seq 3 and 4 fell out of the server's history; 5 and 6 are replayed.
  t.receive(chat("carol", "lobby", "c-5", 5));
  t.receive(chat("carol", "lobby", "c-6", 6));
  ack_join(t, lobby.message_id, "lobby", false);
  // design: everything missed was replayed.
  t.receive(chat("carol", "design", "c-10", 10));
  ack_join(t, design.message_id, "design", true);
  CHECK(seen == std::vector<std::string>{"lobby 5", "lobby 6", "gap lobby", "design 10"});
  CHECK(t.core.rooms() == std::vector<std::string>{"lobby", "design"});

  joins = reconnect(t);
  CHECK(rejoin_of(joins, "lobby").payload.since == 6);
  CHECK(rejoin_of(joins, "design").payload.since == 10);

  SECTION("a server that answers without recovered: nothing is reported") {
    seen.clear();
    for (const auto& j : joins) ack_join(t, j.message_id, j.payload.room_id, std::nullopt);
    CHECK(seen.empty());
  }
  SECTION("the application's own join with since: the answer is its own to read") {
    seen.clear();
    auto h = t.core.send(proto::join_room{"lobby", 1});
    ack_join(t, h.message_id(), "lobby", false);
    REQUIRE(h.ready());
    REQUIRE(h.get().ack);
    CHECK(h.get().ack->recovered == false);
    CHECK(seen.empty());
  }
}

TEST_CASE("a room that started again: the gap is reported and the next rejoin asks from 0") {
  client_test t;
  std::vector<std::string> gaps;
  t.core.on_history_gap([&](std::string_view room) { gaps.emplace_back(room); });
  t.connect_and_open();
  join(t, {"lobby"});
  t.receive(chat("bob", "lobby", "b-1", 40));

  // The server restarted: the room is new, its last seq (0) is below since, nothing replayed.
  auto joins = reconnect(t);
  REQUIRE(joins[0].payload.since == 40);
  ack_join(t, joins[0].message_id, "lobby", false);
  CHECK(gaps == std::vector<std::string>{"lobby"});

  SECTION("nothing said since: since 0, so the new room's first messages are replayed") {
    joins = reconnect(t);
    CHECK(joins[0].payload.since == 0);
    ack_join(t, joins[0].message_id, "lobby", true);
    CHECK(gaps.size() == 1);
  }
  SECTION("the new room's messages count again from 1") {
    t.receive(chat("bob", "lobby", "b-2", 1));
    t.receive(chat("bob", "lobby", "b-3", 2));
    CHECK(reconnect(t)[0].payload.since == 2);
  }
}

TEST_CASE("a replayed message the client already had is dropped by the dedup memory") {
  client_test t;
  std::vector<std::string> seen;
  t.core.on<proto::chat_delivery>(
      [&](const proto::envelope<proto::chat_delivery>& m) { seen.push_back(m.message_id); });
  int raw_messages = 0;
  t.core.on_frame([&](std::string_view json) {
    if (json.find(R"("type":"message")") != std::string_view::npos) ++raw_messages;
  });
  t.connect_and_open();
  join(t, {"lobby"});
  t.receive(chat("bob", "lobby", "b-3", 3, 1));
  // seq 2 was still queued behind the more urgent seq 3 when the connection dropped.
  const auto joins = reconnect(t);
  REQUIRE(joins[0].payload.since == 3);
  // A server may replay from further back than asked (here: from 2); what the client had is
  // not passed on again.
  t.receive(chat("bob", "lobby", "b-2", 2));
  t.receive(chat("bob", "lobby", "b-3", 3, 1));
  t.receive(chat("carol", "lobby", "c-4", 4));
  ack_join(t, joins[0].message_id, "lobby", true);
  CHECK(seen == std::vector<std::string>{"b-3", "b-2", "c-4"});
  CHECK(raw_messages == 4);  // every frame still reaches the raw handler
}

TEST_CASE("recover_history off: rejoins carry no since and no gap is reported") {
  rw::client_core_options options;
  options.recover_history = false;
  client_test t(options);
  int gaps = 0;
  t.core.on_history_gap([&](std::string_view) { ++gaps; });
  t.connect_and_open();
  join(t, {"lobby"});
  t.receive(chat("bob", "lobby", "b-1", 3));
  const auto joins = reconnect(t);
  REQUIRE(joins.size() == 1);
  CHECK_FALSE(joins[0].payload.since);
  ack_join(t, joins[0].message_id, "lobby", false);
  CHECK(gaps == 0);
}

TEST_CASE("a room's seq is forgotten once the client is no longer in it") {
  client_test t;
  t.connect_and_open();
  join(t, {"lobby"});
  t.receive(chat("bob", "lobby", "b-1", 3));

  SECTION("left by the application") {
    auto left = t.core.send(proto::leave_room{"lobby"});
    t.ack(left.message_id(), "lobby");
    REQUIRE(left.ready());
    CHECK(reconnect(t).empty());
    join(t, {"lobby"});
    // Since 3 would replay what was said while the client was out of the room.
    CHECK_FALSE(reconnect(t)[0].payload.since);
  }
  SECTION("its rejoin refused") {
    const auto joins = reconnect(t);
    REQUIRE(joins[0].payload.since == 3);
    t.refuse(joins[0].message_id, "4004");
    CHECK(t.core.rooms().empty());
    join(t, {"lobby"});
    CHECK_FALSE(reconnect(t)[0].payload.since);
  }
}

TEST_CASE("a delivery reaches its handler whether or not the core decoded it first") {
  for (const bool core_uses_it : {true, false}) {
    INFO("core_uses_it " << core_uses_it);
    rw::client_core_options options;
    if (!core_uses_it) {
      options.delivery_memory = 0;
      options.recover_history = false;
    }
    client_test t(options);
    std::vector<std::string> seen;
    t.core.on<proto::chat_delivery>([&](const proto::envelope<proto::chat_delivery>& m) {
      seen.push_back(m.payload.sender_id + " " + m.payload.content + " " +
                     std::to_string(m.payload.seq) + " " + m.message_id);
    });
    std::vector<std::string> invalid;
    t.core.on_invalid_frame([&](std::string_view, const proto::decode_error& e) {
      invalid.push_back(e.path + " " + e.reason);
    });
    t.connect_and_open();
    join(t, {"lobby"});
    t.receive(chat("bob", "lobby", "b-1", 1));
    t.receive(chat("bob", "lobby", "b-2", 0));  // seq starts at 1
    CHECK(seen == std::vector<std::string>{"bob c 1 b-1"});
    CHECK(invalid ==
          std::vector<std::string>{"/payload/seq must be between 1 and 9007199254740991"});
  }
}

TEST_CASE("since stops before a hole: an acknowledgement may overtake a queued delivery") {
  client_test t;
  std::vector<std::string> seen;
  in_lobby_after_seq_5(t, seen);
  // The server acknowledged this client's message (seq 7) before it wrote bob's seq 6, and the
  // connection dropped in between.
  const auto h = send_acknowledged(t, "lobby", 7);
  const auto joins = reconnect(t);
  CHECK(rejoin_of(joins, "lobby").payload.since == 5);

  // The replay brings 6, and this client's own 7, which it does not pass on as a delivery.
  t.receive(chat("bob", "lobby", "b-6", 6));
  t.receive(chat("alice", "lobby", h.message_id(), 7));
  ack_join(t, rejoin_of(joins, "lobby").message_id, "lobby", true);
  CHECK(seen == std::vector<std::string>{"bob 5", "bob 6"});
  CHECK(rejoin_of(reconnect(t), "lobby").payload.since == 7);
}

TEST_CASE("a replay of the client's own unanswered message is not a delivery") {
  client_test t;
  std::vector<std::string> seen;
  in_lobby_after_seq_5(t, seen);
  // The server sequenced this client's message as 6, and the connection dropped before its
  // acknowledgement was written; bob's 7 got through.
  proto::chat_message mine;
  mine.room_id = "lobby";
  mine.content = "hi";
  const auto h = t.core.send(mine);
  t.receive(chat("bob", "lobby", "b-7", 7));
  const auto joins = reconnect(t);
  CHECK(rejoin_of(joins, "lobby").payload.since == 5);

  // The replay brings it back (6) ahead of the answer to its resend: it is this client's own
  // message, so no handler sees it, and nothing arrives out of order.
  t.receive(chat("alice", "lobby", h.message_id(), 6));
  t.receive(chat("bob", "lobby", "b-7", 7));
  ack_join(t, rejoin_of(joins, "lobby").message_id, "lobby", true);
  CHECK(seen == std::vector<std::string>{"bob 5", "bob 7"});
  CHECK_FALSE(h.ready());
  CHECK(rejoin_of(reconnect(t), "lobby").payload.since == 7);

}

TEST_CASE("a hole that never fills (a shed message) stops holding since back") {
  client_test t;
  t.connect_and_open();
  join(t, {"lobby"});
  t.receive(chat("bob", "lobby", "b-1", 1));
  // seq 2 was a priority-4 message shed under back-pressure: it never comes.
  for (int seq = 3; seq <= 300; ++seq) {
    t.receive(chat("bob", "lobby", "b-" + std::to_string(seq), seq));
  }
  CHECK(rejoin_of(reconnect(t), "lobby").payload.since == 300);
}
