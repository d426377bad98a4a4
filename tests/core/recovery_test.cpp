// §6 recovery: a joinRoom with "since" first replays what the room's history holds after it.
// Also the hub's side of a shared broker (broker::commit_chat, recover, presence, health),
// driven by a broker whose completions the test releases by hand.

#include <deque>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "hub_fixture.hpp"

using namespace roomwire_test;

namespace {

std::string join_since(std::string_view room, std::int64_t since, std::string_view id) {
  return request("joinRoom",
                 std::string(R"({"roomId":")") + std::string(room) + R"(","since":)" +
                     std::to_string(since) + "}",
                 id);
}

// Sends `n` chat messages from `s` to `room` and pops their acknowledgements.
void chat_n(hub_test& t, core::session_id s, std::string_view room, int from, int n) {
  for (int i = from; i < from + n; ++i) {
    const std::string id = "m" + std::to_string(i);
    t.send(s, chat_req(room, "message " + std::to_string(i), id));
    expect_ack(t.pop_one(s), id);
  }
}

std::vector<std::int64_t> seqs_of(const std::vector<received>& frames) {
  std::vector<std::int64_t> out;
  for (const received& r : frames) {
    if (r.type == "message") out.push_back(r.as<proto::chat_delivery>().payload.seq);
  }
  return out;
}

}  // namespace

TEST_CASE("recovery: a join with since replays the later messages, in order, before the ack") {
  hub_test t(unlimited());
  const auto a = t.member("alice", "lobby");
  chat_n(t, a, "lobby", 1, 5);
  const auto b = t.open("bob");
  t.send(b, join_since("lobby", 2, "j1"));
  const auto frames = t.pop_all(b);
  REQUIRE(frames.size() == 4);
  CHECK(seqs_of(frames) == std::vector<std::int64_t>{3, 4, 5});
  const auto ack = expect_ack(frames[3], "j1");
  CHECK(ack.recovered == true);
  // The replay is the original delivery, byte for byte (messageId, timestamp, sender).
  CHECK(frames[0].as<proto::chat_delivery>().message_id == "m3");

  // Then live traffic follows.
  chat_n(t, a, "lobby", 6, 1);
  CHECK(seqs_of(t.pop_all(b)) == std::vector<std::int64_t>{6});
}

TEST_CASE("recovery: since equal to the last seq replays nothing and is recovered") {
  hub_test t(unlimited());
  const auto a = t.member("alice", "lobby");
  chat_n(t, a, "lobby", 1, 3);
  const auto b = t.open("bob");
  t.send(b, join_since("lobby", 3, "j1"));
  CHECK(expect_ack(t.pop_one(b), "j1").recovered == true);
}

TEST_CASE("recovery: a history that no longer reaches back says recovered false") {
  core::hub_options o = unlimited();
  o.room_history = 3;
  hub_test t(o);
  const auto a = t.member("alice", "lobby");
  chat_n(t, a, "lobby", 1, 6);
  const auto b = t.open("bob");
  t.send(b, join_since("lobby", 1, "j1"));  // 2 is gone: history holds 4, 5, 6
  const auto frames = t.pop_all(b);
  CHECK(seqs_of(frames) == std::vector<std::int64_t>{4, 5, 6});
  CHECK(expect_ack(frames.back(), "j1").recovered == false);

  const auto c = t.open("carol");
  t.send(c, join_since("lobby", 3, "j2"));  // 4 onwards is still there
  const auto more = t.pop_all(c);
  CHECK(seqs_of(more) == std::vector<std::int64_t>{4, 5, 6});
  CHECK(expect_ack(more.back(), "j2").recovered == true);
}

TEST_CASE("recovery: the history is bounded in bytes as well") {
  core::hub_options o = unlimited();
  o.room_history_bytes = 1000;  // a delivery of a 300-byte content is about 450 bytes
  hub_test t(o);
  const auto a = t.member("alice", "lobby");
  for (int i = 1; i <= 4; ++i) {
    t.send(a, chat_req("lobby", std::string(300, 'x'), "m" + std::to_string(i)));
    t.pop_all(a);
  }
  const auto b = t.open("bob");
  t.send(b, join_since("lobby", 0, "j1"));
  const auto frames = t.pop_all(b);
  CHECK(seqs_of(frames) == std::vector<std::int64_t>{3, 4});
  CHECK(expect_ack(frames.back(), "j1").recovered == false);
}

TEST_CASE("recovery: a room that restarted (since past its last seq) is not recovered") {
  hub_test t(unlimited());
  const auto a = t.member("alice", "lobby");
  chat_n(t, a, "lobby", 1, 2);
  const auto b = t.open("bob");
  t.send(b, join_since("lobby", 40, "j1"));
  const auto frames = t.pop_all(b);
  CHECK(seqs_of(frames).empty());
  CHECK(expect_ack(frames.back(), "j1").recovered == false);
  // bob is a member now all the same.
  chat_n(t, a, "lobby", 3, 1);
  CHECK(seqs_of(t.pop_all(b)) == std::vector<std::int64_t>{3});
}

TEST_CASE("recovery: a member joining again with since gets no replay") {
  hub_test t(unlimited());
  const auto a = t.member("alice", "lobby");
  const auto b = t.member("bob", "lobby");
  chat_n(t, a, "lobby", 1, 3);
  CHECK(t.pop_all(b).size() == 3);
  t.send(b, join_since("lobby", 0, "j1"));
  const auto ack = expect_ack(t.pop_one(b), "j1");
  CHECK_FALSE(ack.recovered.has_value());
}

TEST_CASE("recovery: without history a join with since is answered recovered false") {
  core::hub_options o = unlimited();
  o.room_history = 0;
  hub_test t(o);
  const auto a = t.member("alice", "lobby");
  chat_n(t, a, "lobby", 1, 2);
  const auto b = t.open("bob");
  t.send(b, join_since("lobby", 1, "j1"));
  CHECK(expect_ack(t.pop_one(b), "j1").recovered == false);
  t.send(b, join_since("lobby", 2, "j2"));  // already a member: plain ack
  CHECK_FALSE(expect_ack(t.pop_one(b), "j2").recovered.has_value());
}

TEST_CASE("recovery: since must be a non-negative integer") {
  hub_test t;
  const auto b = t.open("bob");
  t.send(b, request("joinRoom", R"({"roomId":"lobby","since":-1})", "j1"));
  const auto e = expect_error(t.pop_one(b), "4002");
  CHECK(e.str("path") == "/payload/since");
}

// ---- a shared broker ---------------------------------------------------------------------

namespace {

// Sequences chat like a shared broker would, but holds every completion until the test
// releases it; "publishing" a room message hands it back to the hub with listener::deliver().
class held_broker final : public core::broker {
 public:
  void attach(listener& hub, const core::hub_options& options) override {
    hub_ = &hub;
    inner_.attach(hub, options);
  }
  void detach() override { hub_ = nullptr; }
  std::int64_t next_seq(std::string_view) override {
    FAIL("a shared broker's next_seq is never asked");
    return 0;
  }
  void room_removed(std::string_view) override {}
  void publish(const core::audience& to, const core::frame_ptr&) override {
    published.emplace_back(to.room_id);
  }
  bool sequences_chat() const noexcept override { return true; }
  bool commit_chat(const core::chat_commit& c, commit_done done) override {
    commits.push_back(saved{std::string(c.room_id), std::string(c.user_id),
                            std::string(c.message_id), c.client_id, c.origin, c.priority,
                            c.timestamp, std::string(c.head), std::string(c.tail)});
    completions.push_back(std::move(done));
    return true;
  }
  void record(std::string_view, std::int64_t, const core::frame_ptr&) override {
    FAIL("a shared broker keeps its own history");
  }
  void recover(std::string_view room_id, std::int64_t since, recover_done done) override {
    if (since == no_replay) {  // a plain join: answered at once, the room's seq at 40
      core::recovery r;
      r.last_seq = 40;
      return done(std::move(r));
    }
    recoveries.emplace_back(std::string(room_id) + "@" + std::to_string(since));
    recover_completions.push_back(std::move(done));
  }
  void user_present(std::string_view user_id, bool present) override {
    presence.push_back(std::string(user_id) + (present ? "+" : "-"));
  }
  void health_metrics(const core::hub_metrics& local, std::string& members) override {
    members += R"(,"node":"n1","cluster":{"connections":)" + std::to_string(local.connections + 10) +
               "}";
  }

  std::optional<core::task_info> find_task(std::string_view id) override {
    return inner_.find_task(id);
  }
  void store_task(const core::task_info& t) override { inner_.store_task(t); }
  void defer_task(std::string_view u, std::string_view t, core::frame_ptr f) override {
    inner_.defer_task(u, t, std::move(f));
  }
  void cancel_deferred(std::string_view u, std::string_view t) override {
    inner_.cancel_deferred(u, t);
  }
  std::vector<core::frame_ptr> take_deferred(std::string_view u) override {
    return inner_.take_deferred(u);
  }
  std::optional<proto::message_received> recall(std::string_view u, std::string_view m,
                                                std::int64_t now) override {
    return inner_.recall(u, m, now);
  }
  void remember(std::string_view u, std::string_view m, const proto::message_received& a,
                std::int64_t now) override {
    inner_.remember(u, m, a, now);
  }
  void expire(std::int64_t now) override { inner_.expire(now); }

  // Completes the oldest commit as accepted with `seq`, delivering its frame first as the bus
  // would (to every member but the origin).
  void accept_next(std::int64_t seq) {
    REQUIRE_FALSE(completions.empty());
    const saved c = commits.front();
    auto f = std::make_shared<core::frame>();
    f->text = c.head + std::to_string(seq) + c.tail;
    f->priority = c.priority;
    f->type = proto::chat_delivery::type;
    core::audience to;
    to.room_id = c.room_id;
    to.except = c.origin;
    hub_->deliver(to, f);
    core::commit_result r;
    r.what = core::commit_result::outcome::accepted;
    r.ack.message_id = c.message_id;
    r.ack.room_id = c.room_id;
    r.ack.sender_id = c.user_id;
    r.ack.timestamp = c.timestamp;
    r.ack.seq = seq;
    finish_next(r);
  }
  void finish_next(const core::commit_result& r) {
    auto done = std::move(completions.front());
    completions.pop_front();
    commits.pop_front();
    done(r);
  }
  void recover_next(core::recovery rec) {
    REQUIRE_FALSE(recover_completions.empty());
    auto done = std::move(recover_completions.front());
    recover_completions.pop_front();
    done(std::move(rec));
  }

  struct saved {
    std::string room_id, user_id, message_id;
    bool client_id;
    core::session_id origin;
    proto::priority priority;
    std::int64_t timestamp;
    std::string head, tail;
  };
  std::deque<saved> commits;
  std::deque<commit_done> completions;
  std::vector<std::string> recoveries;
  std::deque<recover_done> recover_completions;
  std::vector<std::string> published;
  std::vector<std::string> presence;
  listener* hub_ = nullptr;

 private:
  core::in_process_broker inner_;
};

}  // namespace

TEST_CASE("shared broker: chat is acknowledged and delivered only when the broker commits it") {
  auto b = std::make_shared<held_broker>();
  hub_test t(unlimited(), {}, b);
  const auto a = t.member("alice", "lobby");
  const auto bob = t.member("bob", "lobby");
  t.send(a, chat_req("lobby", R"(say "seq":0 here)", "c1", -1, R"({"type":"text","seq":0})"));
  t.expect_nothing(a);
  t.expect_nothing(bob);
  REQUIRE(b->commits.size() == 1);
  CHECK(b->commits[0].client_id);
  CHECK(b->commits[0].origin == a);
  CHECK(b->commits[0].user_id == "alice");

  b->accept_next(41);
  const auto ack = expect_ack(t.pop_one(a), "c1");
  CHECK(ack.seq == 41);
  const auto d = t.pop_one(bob).as<proto::chat_delivery>();
  CHECK(d.payload.seq == 41);
  CHECK(d.payload.content == R"(say "seq":0 here)");
  CHECK(d.payload.metadata.raw.text == R"({"type":"text","seq":0})");
  CHECK(d.timestamp == ack.timestamp);
  CHECK(b->published.empty());  // the broker publishes chat itself
}

TEST_CASE("shared broker: a commit that cannot reach the service is refused, not dropped") {
  auto b = std::make_shared<held_broker>();
  hub_test t(unlimited(), {}, b);
  const auto a = t.member("alice", "lobby");
  t.send(a, chat_req("lobby", "hi", "c1"));
  core::commit_result r;
  r.what = core::commit_result::outcome::unavailable;
  b->finish_next(r);
  const auto e = expect_error(t.pop_one(a), "4004");
  CHECK(e.str("messageId") == "c1");
  CHECK(e.str("type") == "message");
  CHECK(e.message.find("cluster unavailable") != std::string::npos);
}

TEST_CASE("shared broker: a repeat found by the broker gets the original acknowledgement") {
  auto b = std::make_shared<held_broker>();
  hub_test t(unlimited(), {}, b);
  const auto a = t.member("alice", "lobby");
  t.send(a, chat_req("lobby", "hi", "c1"));
  core::commit_result r;
  r.what = core::commit_result::outcome::repeated;
  r.ack.message_id = "c1";
  r.ack.room_id = "lobby";
  r.ack.sender_id = "alice";
  r.ack.timestamp = 1234;
  r.ack.seq = 7;
  b->finish_next(r);
  const auto ack = expect_ack(t.pop_one(a), "c1");
  CHECK(ack.seq == 7);
  CHECK(ack.timestamp == 1234);
}

TEST_CASE("shared broker: a session gone before the commit completes gets nothing") {
  auto b = std::make_shared<held_broker>();
  hub_test t(unlimited(), {}, b);
  const auto a = t.member("alice", "lobby");
  const auto bob = t.member("bob", "lobby");
  t.send(a, chat_req("lobby", "hi", "c1"));
  t.hub->closed(a, proto::close_code::normal);
  b->accept_next(1);
  CHECK(t.pop_one(bob).as<proto::chat_delivery>().payload.seq == 1);
}

TEST_CASE("shared broker: a drain waits for commits in flight before it closes sessions") {
  auto b = std::make_shared<held_broker>();
  hub_test t(unlimited(), {}, b);
  const auto a = t.member("alice", "lobby");
  const auto bob = t.member("bob", "lobby");
  t.send(a, chat_req("lobby", "hi", "c1"));
  t.hub->drain();
  t.pop_all(a);
  t.pop_all(bob);  // the draining notices; every queue is empty now
  CHECK(t.transport.closes.empty());
  b->accept_next(1);
  CHECK(t.transport.closes.empty());  // the ack and the delivery are still to be written
  expect_ack(t.pop_one(a), "c1");
  CHECK(t.pop_one(bob).as<proto::chat_delivery>().payload.seq == 1);
  CHECK(t.transport.closes.size() == 2);
}

TEST_CASE("shared broker: a join with since adds the member when the history arrives") {
  auto b = std::make_shared<held_broker>();
  hub_test t(unlimited(), {}, b);
  const auto a = t.member("alice", "lobby");
  const auto bob = t.open("bob");
  t.send(bob, join_since("lobby", 4, "j1"));
  REQUIRE(b->recoveries == std::vector<std::string>{"lobby@4"});
  t.expect_nothing(bob);

  // A message committed before the history was read is part of it: not delivered live.
  t.send(a, chat_req("lobby", "five", "c5"));
  b->accept_next(5);
  t.pop_all(a);
  t.expect_nothing(bob);

  core::recovery rec;
  auto f = std::make_shared<core::frame>();
  f->text = R"({"type":"message","payload":{"roomId":"lobby","content":"five","metadata":{"type":"text"},"senderId":"alice","seq":5},"timestamp":1,"messageId":"c5","priority":2})";
  f->type = proto::chat_delivery::type;
  rec.frames.push_back(f);
  rec.complete = true;
  b->recover_next(std::move(rec));
  const auto frames = t.pop_all(bob);
  REQUIRE(frames.size() == 2);
  CHECK(seqs_of(frames) == std::vector<std::int64_t>{5});
  CHECK(expect_ack(frames[1], "j1").recovered == true);

  t.send(a, chat_req("lobby", "six", "c6"));
  b->accept_next(6);
  CHECK(seqs_of(t.pop_all(bob)) == std::vector<std::int64_t>{6});
}

TEST_CASE("shared broker: recovery waits for the service, then joins without a replay") {
  auto b = std::make_shared<held_broker>();
  hub_test t(unlimited(), {}, b);
  const auto bob = t.open("bob");
  t.send(bob, join_since("lobby", 4, "j1"));
  core::recovery rec;
  rec.unavailable = true;
  b->recover_next(std::move(rec));
  t.expect_nothing(bob);  // it waits for the service to come back
  t.clock.advance(4999);
  t.hub->tick();
  t.expect_nothing(bob);
  t.clock.advance(1);
  t.hub->tick();
  CHECK(expect_ack(t.pop_one(bob), "j1").recovered == false);
  CHECK(t.hub->metrics().rooms == 1);
}

TEST_CASE("shared broker: a recovery refused for an outage is asked again when it ends") {
  auto b = std::make_shared<held_broker>();
  hub_test t(unlimited(), {}, b);
  const auto alice = t.member("alice", "lobby");
  const auto bob = t.open("bob");
  b->hub_->availability_changed(false);
  t.pop_all(alice);
  t.pop_all(bob);
  t.send(bob, join_since("lobby", 4, "j1"));
  core::recovery rec;
  rec.unavailable = true;
  b->recover_next(std::move(rec));
  REQUIRE(b->recoveries.size() == 1);
  b->hub_->availability_changed(true);
  t.pop_all(bob);  // the status notice
  REQUIRE(b->recoveries.size() == 2);
  core::recovery full;
  full.complete = true;
  b->recover_next(std::move(full));
  CHECK(expect_ack(t.pop_one(bob), "j1").recovered == true);
}

TEST_CASE("shared broker: what a session sends behind a join with since waits for the join") {
  auto b = std::make_shared<held_broker>();
  hub_test t(unlimited(), {}, b);
  const auto bob = t.open("bob");
  t.send(bob, join_since("lobby", 4, "j1"));
  t.send(bob, chat_req("lobby", "right after the rejoin", "c1"));
  CHECK(b->commits.empty());  // not refused as "not a member": held
  core::recovery rec;
  rec.complete = true;
  b->recover_next(std::move(rec));
  CHECK(expect_ack(t.pop_one(bob), "j1").recovered == true);
  REQUIRE(b->commits.size() == 1);
  b->accept_next(5);
  CHECK(expect_ack(t.pop_one(bob), "c1").seq == 5);
}

TEST_CASE("shared broker: presence follows a user's first and last session on the node") {
  auto b = std::make_shared<held_broker>();
  hub_test t(unlimited(), {}, b);
  const auto a1 = t.open("alice");
  const auto a2 = t.open("alice");
  t.hub->closed(a1, proto::close_code::normal);
  CHECK(b->presence == std::vector<std::string>{"alice+"});
  t.hub->closed(a2, proto::close_code::normal);
  CHECK(b->presence == std::vector<std::string>{"alice+", "alice-"});
}

TEST_CASE("shared broker: healthUpdate carries what the broker adds to the metrics") {
  auto b = std::make_shared<held_broker>();
  core::hub_options o = unlimited();
  o.health_interval_ms = 1000;
  hub_test t(o, {}, b);
  const auto s = t.member("ops", "system:health");
  t.clock.advance(1000);
  t.hub->tick();
  const auto doc = t.pop_one(s).json();
  const auto& m = doc["payload"]["metrics"];
  CHECK(m["connections"].GetInt64() == 1);
  CHECK(std::string(m["node"].GetString()) == "n1");
  CHECK(m["cluster"]["connections"].GetInt64() == 11);
}

TEST_CASE("shared broker: while its service is down, task requests are refused, joins served") {
  auto b = std::make_shared<held_broker>();
  hub_test t(unlimited(), {}, b);
  const auto a = t.open("alice");
  b->hub_->availability_changed(false);
  const auto notice = t.pop_one(a).as<proto::health_update>();
  CHECK(notice.payload.status == proto::health_status::degraded);

  t.send(a, assign_req("t1", "bob", "a1"));
  const auto e = expect_error(t.pop_one(a), "4004");
  CHECK(e.message.find("cluster unavailable") != std::string::npos);
  t.send(a, update_req("t1", "running", 10, "u1"));
  expect_error(t.pop_one(a), "4004");
  t.send(a, join_req("lobby", "j1"));
  expect_ack(t.pop_one(a), "j1");

  b->hub_->availability_changed(true);
  CHECK(t.pop_one(a).as<proto::health_update>().payload.status == proto::health_status::ok);
  t.send(a, assign_req("t1", "bob", "a2"));
  expect_ack(t.pop_one(a), "a2");
}
