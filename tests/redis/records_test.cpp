// The pieces that need no Redis: url parsing, option checks, and the record layouts.

#include <asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <stdexcept>
#include <string>

#include "endpoint.hpp"
#include "records.hpp"
#include "roomwire/redis.hpp"

namespace detail = roomwire::redis::detail;

TEST_CASE("redis urls are parsed, and bad ones named", "[redis]") {
  const detail::endpoint plain = detail::parse_url("redis://10.1.2.3:6380/2");
  CHECK(plain.host == "10.1.2.3");
  CHECK(plain.port == 6380);
  CHECK(plain.db == 2);
  CHECK(plain.describe() == "10.1.2.3:6380");

  const detail::endpoint defaults = detail::parse_url("redis://redis.internal");
  CHECK(defaults.host == "redis.internal");
  CHECK(defaults.port == 6379);
  CHECK(defaults.db == 0);

  const detail::endpoint v6 = detail::parse_url("redis://[::1]:7000/");
  CHECK(v6.host == "::1");
  CHECK(v6.port == 7000);
  CHECK(v6.describe() == "[::1]:7000");

  CHECK(detail::parse_url("redis://localhost").host == "127.0.0.1");

  for (const char* bad :
       {"http://127.0.0.1", "redis://", "redis://:6379", "redis://h:", "redis://h:0",
        "redis://h:65536", "redis://h:12x", "redis://h/x", "redis://user:pw@h", "redis://[::1",
        "redis://[::1]x", "redis://h?db=1"}) {
    INFO(bad);
    CHECK_THROWS_AS(detail::parse_url(bad), std::invalid_argument);
  }
  CHECK_THROWS_WITH(detail::parse_url("redis://h:99999"),
                    Catch::Contains("port must be a number from 1 to 65535"));
}

TEST_CASE("make_broker refuses bad options", "[redis]") {
  asio::io_context io;
  const auto direct = [](const std::function<void()>& fn) { fn(); };
  const auto make = [&](const std::function<void(roomwire::redis::redis_options&)>& edit) {
    roomwire::redis::redis_options o;
    edit(o);
    return roomwire::redis::make_broker(io, direct, o);
  };
  CHECK(make([](auto&) {}) != nullptr);
  CHECK_THROWS_AS(make([](auto& o) { o.url = "tcp://x"; }), std::invalid_argument);
  CHECK_THROWS_AS(make([](auto& o) { o.prefix = ""; }), std::invalid_argument);
  CHECK_THROWS_AS(make([](auto& o) { o.prefix = "a b"; }), std::invalid_argument);
  CHECK_THROWS_AS(make([](auto& o) { o.node_id = "a\"b"; }), std::invalid_argument);
  CHECK_THROWS_AS(make([](auto& o) { o.reconnect_min_ms = 0; }), std::invalid_argument);
  CHECK_THROWS_AS(make([](auto& o) { o.reconnect_max_ms = 10; }), std::invalid_argument);
  CHECK_THROWS_AS(make([](auto& o) { o.history_ttl_ms = 0; }), std::invalid_argument);
  CHECK_THROWS_AS(roomwire::redis::make_broker(io, nullptr, {}), std::invalid_argument);
}

TEST_CASE("record fields round-trip and reject what does not fit", "[redis]") {
  std::string out;
  detail::append_field(out, std::string_view("a:b"));
  detail::append_field(out, std::int64_t{-42});
  detail::append_field(out, std::uint64_t{18446744073709551615ull});
  detail::append_field(out, std::string_view(""));
  CHECK(out == "3:a:b3:-4220:184467440737095516150:");
  detail::field_reader in(out);
  CHECK(in.text() == "a:b");
  CHECK(in.integer() == -42);
  CHECK(in.unsigned_integer() == 18446744073709551615ull);
  CHECK(in.text().empty());
  CHECK(in.finished());

  for (const char* bad : {"", "x", "5:abc", ":abc", "-1:a", "3abc", "99999999999999999999999:a"}) {
    INFO(bad);
    detail::field_reader r(bad);
    r.text();
    CHECK_FALSE(r.ok());
  }
  detail::field_reader not_a_priority("1:7");
  not_a_priority.priority();
  CHECK_FALSE(not_a_priority.ok());
}

TEST_CASE("task records and kept acknowledgements round-trip", "[redis]") {
  roomwire::core::task_info t;
  t.task_id = "t:1";
  t.assigner_id = "alice";
  t.assignee_id = "bob";
  t.status = "in progress";
  t.progress = 37.5;
  const std::string encoded = detail::encode_task(t);
  detail::field_reader in(encoded);
  const auto back = detail::decode_task(in);
  REQUIRE(back);
  CHECK(in.finished());
  CHECK(back->task_id == t.task_id);
  CHECK(back->assigner_id == t.assigner_id);
  CHECK(back->assignee_id == t.assignee_id);
  CHECK(back->status == t.status);
  CHECK(back->progress == t.progress);

  roomwire::protocol::message_received ack;
  ack.room_id = "lobby";
  ack.timestamp = 1764489600123;
  ack.seq = 12;
  const auto kept = detail::decode_ack(detail::encode_ack(ack), "alice", "m-1");
  REQUIRE(kept);
  CHECK(kept->message_id == "m-1");
  CHECK(kept->sender_id == "alice");
  CHECK(kept->room_id == "lobby");
  CHECK(kept->timestamp == ack.timestamp);
  CHECK(kept->seq == std::optional<std::int64_t>(12));

  ack.seq.reset();
  const auto no_seq = detail::decode_ack(detail::encode_ack(ack), "alice", "m-2");
  REQUIRE(no_seq);
  CHECK_FALSE(no_seq->seq);
  CHECK_FALSE(detail::decode_ack("5:lobby0:", "alice", "m-3"));
}

TEST_CASE("frame types map back to static wire tags", "[redis]") {
  std::string dynamic = "taskUpdate";
  const std::string_view mapped = detail::static_type(dynamic);
  dynamic.assign("overwritten");  // the view must not point into what it was given
  CHECK(mapped == "taskUpdate");
  CHECK(detail::static_type("message") == "message");
  CHECK(detail::static_type("myOwnType") == "custom");
}
