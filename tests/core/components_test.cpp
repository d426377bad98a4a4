// The hub's parts on their own: ring, outbound_queue, rate_limiter, dedup_store,
// in_process_broker.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <new>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "roomwire/core/broker.hpp"
#include "roomwire/core/dedup.hpp"
#include "roomwire/core/outbound_queue.hpp"
#include "roomwire/core/rate_limiter.hpp"
#include "roomwire/core/ring.hpp"

namespace core = roomwire::core;
namespace proto = roomwire::protocol;

namespace {
core::frame_ptr make(std::string text, proto::priority p) {
  auto f = std::make_shared<core::frame>();
  f->text = std::move(text);
  f->priority = p;
  f->type = "test";
  return f;
}

struct null_listener final : core::broker::listener {
  void deliver(const core::audience&, const core::frame_ptr&) override {}
  void availability_changed(bool) override {}
};
}  // namespace

TEST_CASE("ring: FIFO across wrap-around and growth, erase_if keeps order") {
  core::ring<int> r;
  CHECK(r.empty());
  int next = 0;
  int expect = 0;
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 7; ++i) r.push_back(next++);
    for (int i = 0; i < 5; ++i) CHECK(r.take_front() == expect++);
  }
  CHECK(r.size() == 100);
  CHECK(r.front() == expect);
  CHECK(r[99] == next - 1);
  CHECK(r.erase_if([](int v) { return v % 2 == 0; }) == 50);
  CHECK(r.size() == 50);
  int prev = -1;
  while (!r.empty()) {
    const int v = r.take_front();
    CHECK(v % 2 == 1);
    CHECK(v > prev);
    prev = v;
  }
  r.push_back(1);
  CHECK(r.take_front() == 1);
}

TEST_CASE("outbound_queue: priority order, byte count, shedding and drain drops") {
  core::outbound_queue q;
  CHECK(q.push(make("aaaa", proto::priority::background)));  // was empty
  CHECK_FALSE(q.push(make("bb", proto::priority::normal)));
  q.push(make("cc", proto::priority::low));
  q.push(make("d", proto::priority::background));
  q.push(make("e", proto::priority::critical));
  CHECK(q.size() == 5);
  CHECK(q.bytes() == 10);
  CHECK(q.size(proto::priority::background) == 2);

  std::vector<std::string> dropped;
  q.shed(6, 1, [&](const core::frame& f) { dropped.push_back(f.text); });
  // 10 + 1 > 6: "aaaa" (oldest 4) -> 7 > 6: "d" -> 6: stop.
  CHECK(dropped == std::vector<std::string>{"aaaa", "d"});
  CHECK(q.bytes() == 5);
  q.shed(0, 0, [&](const core::frame& f) { dropped.push_back(f.text); });
  CHECK(dropped.back() == "cc");  // then priority 3; 0-2 stay
  CHECK(q.size() == 2);

  q.push(make("x", proto::priority::low));
  q.push(make("y", proto::priority::background));
  dropped.clear();
  q.drop_low([&](const core::frame& f) { dropped.push_back(f.text); });
  CHECK(dropped.size() == 2);
  CHECK(q.pop()->text == "e");
  CHECK(q.pop()->text == "bb");
  CHECK(q.pop() == nullptr);
  CHECK(q.bytes() == 0);
}

TEST_CASE("outbound_queue: pop(lowest) takes only that priority or a more urgent one") {
  core::outbound_queue q;
  q.push(make("normal", proto::priority::normal));
  q.push(make("background", proto::priority::background));
  CHECK(q.pop(proto::priority::critical) == nullptr);  // nothing urgent enough: both stay
  CHECK(q.size() == 2);
  q.push(make("critical", proto::priority::critical));
  CHECK(q.pop(proto::priority::critical)->text == "critical");
  CHECK(q.pop(proto::priority::high) == nullptr);
  CHECK(q.pop(proto::priority::normal)->text == "normal");
  // A value past the last priority is taken as the last one, not read past the lanes.
  CHECK(q.pop(static_cast<proto::priority>(200))->text == "background");
  CHECK(q.pop(proto::priority::background) == nullptr);
  CHECK(q.bytes() == 0);
}

TEST_CASE("rate_limiter: refill, burst cap, retryAfterMs and abuse windows") {
  core::rate_limiter r(4, 2, 3, 1000);  // 4/s, burst 2, 3 windows
  CHECK(r.offer(1000).allowed);
  CHECK(r.offer(1000).allowed);
  auto d = r.offer(1000);
  CHECK_FALSE(d.allowed);
  CHECK(d.retry_after_ms == 250);
  d = r.offer(1125);  // half a token
  CHECK_FALSE(d.allowed);
  CHECK(d.retry_after_ms == 125);
  CHECK(r.offer(1250).allowed);

  // Abuse: more than 8 offers in each of 3 consecutive windows (from the first offer, t=1000).
  core::rate_limiter a(4, 2, 3, 0);
  auto window = [&](std::int64_t at, int n) {
    bool abusive = false;
    for (int i = 0; i < n; ++i) abusive = a.offer(at).abusive || abusive;
    return abusive;
  };
  CHECK_FALSE(window(5000, 9));
  CHECK_FALSE(window(5999, 1));  // same window
  CHECK_FALSE(window(6000, 9));
  CHECK(window(7500, 9));

  core::rate_limiter off(0, 0, 1, 0);
  for (int i = 0; i < 1000; ++i) CHECK(off.offer(0).allowed);
}

TEST_CASE("dedup_store: recall, per-user cap, expiry") {
  core::dedup_store d(3, 100);
  proto::message_received ack;
  ack.room_id = "r";
  ack.timestamp = 7;
  ack.seq = 1;
  for (const char* id : {"a", "b", "c"}) d.remember("u", id, ack, 0);
  CHECK(d.size("u") == 3);
  auto hit = d.recall("u", "a", 10);
  REQUIRE(hit);
  CHECK(hit->message_id == "a");
  CHECK(hit->sender_id == "u");
  CHECK(hit->room_id == "r");
  CHECK(hit->timestamp == 7);
  CHECK(hit->seq == 1);
  CHECK_FALSE(d.recall("v", "a", 10));

  d.remember("u", "d", ack, 50);  // cap: "a" goes
  CHECK_FALSE(d.recall("u", "a", 50));
  CHECK(d.recall("u", "b", 50));
  CHECK_FALSE(d.recall("u", "b", 100));  // expired at 0 + 100
  CHECK(d.recall("u", "d", 149));
  d.expire(150);
  CHECK(d.size("u") == 0);
  CHECK(d.users() == 0);

  // The same id remembered after it expired starts afresh.
  d.remember("u", "a", ack, 200);
  CHECK(d.recall("u", "a", 299));
  CHECK_FALSE(d.recall("u", "a", 300));

  // A user whose memory expire() gave back is found afresh (the store keeps the user it found
  // last), and so is one after another user.
  d.expire(400);
  CHECK(d.users() == 0);
  CHECK_FALSE(d.recall("u", "a", 400));
  d.remember("u", "e", ack, 400);
  d.remember("v", "e", ack, 401);
  CHECK(d.recall("u", "e", 402));
  CHECK(d.size("u") == 1);
  CHECK(d.size("v") == 1);
  // A store moved into another keeps what it remembered.
  core::dedup_store moved(3, 100);
  moved = std::move(d);
  CHECK(moved.recall("u", "e", 403));
  moved.remember("u", "f", ack, 404);
  CHECK(moved.size("u") == 2);
}

// The store against the plainest model of §6's rule: per user, a list of (id, expiry, ack) in
// insertion order, searched front to back. Many ids over few users, a small cap and a short
// lifetime make entries leave by the cap, by their expiry and by expire(), ids come back after
// they left, and a repeated id must keep its place.
TEST_CASE("dedup_store: agrees with a list model over random traffic") {
  struct kept {
    std::string id;
    std::int64_t expires_at;
    proto::message_received ack;
  };
  constexpr std::size_t cap = 37;
  constexpr std::int64_t ttl = 500;
  core::dedup_store d(cap, ttl);
  std::deque<kept> model[2];
  const char* users[2] = {"u", "v"};
  const auto model_expire = [&](std::deque<kept>& m, std::int64_t now) {
    while (!m.empty() && m.front().expires_at <= now) m.pop_front();
  };
  const auto model_find = [](std::deque<kept>& m, const std::string& id) -> kept* {
    for (auto& k : m) {
      if (k.id == id) return &k;
    }
    return nullptr;
  };

  std::mt19937 random(20261201);
  std::int64_t now = 0;
  std::size_t hits = 0;
  for (int step = 0; step < 40000; ++step) {
    now += static_cast<std::int64_t>(random() % 7);
    const int u = static_cast<int>(random() % 2);
    // Long ids too, so that some live outside the string's own buffer.
    const std::string id =
        (random() % 4 == 0 ? "a-long-message-id-" : "m") + std::to_string(random() % 120);
    auto& m = model[u];
    model_expire(m, now);
    if (random() % 3 == 0) {
      proto::message_received ack;
      ack.room_id = "r" + std::to_string(step % 5);
      ack.timestamp = step;
      if (step % 2 == 0) ack.seq = step;
      d.remember(users[u], id, ack, now);
      if (kept* k = model_find(m, id)) {
        k->ack = ack;  // keeps its place and expiry
      } else {
        m.push_back(kept{id, now + ttl, ack});
        while (m.size() > cap) m.pop_front();
      }
    } else {
      const auto got = d.recall(users[u], id, now);
      const kept* want = model_find(m, id);
      REQUIRE(got.has_value() == (want != nullptr));
      if (got) {
        ++hits;
        CHECK(got->message_id == id);
        CHECK(got->sender_id == users[u]);
        CHECK(got->room_id == want->ack.room_id);
        CHECK(got->timestamp == want->ack.timestamp);
        CHECK(got->seq == want->ack.seq);
      }
    }
    REQUIRE(d.size(users[u]) == m.size());
    if (step % 997 == 0) {
      d.expire(now);
      for (auto& each : model) model_expire(each, now);
      CHECK(d.users() == static_cast<std::size_t>(!model[0].empty()) + !model[1].empty());
    }
  }
  CHECK(hits > 1000);  // the walk did find remembered ids, not only misses
}

// The hub calls expire() once a second on its I/O thread, so one call must stay short however
// many users there are. A pass over them all spreads over half an entry's lifetime, so every
// expired user's memory still comes back within about that.
TEST_CASE(
    "dedup_store: expire() visits a share of the users per call, all within half a lifetime") {
  using store = core::dedup_store;
  constexpr std::size_t users = 70000;
  constexpr std::int64_t ttl = 16000;  // so a pass may take 8,000 ms
  store d(4, ttl);
  proto::message_received ack;
  ack.room_id = "r";
  ack.timestamp = 1;
  for (std::size_t u = 0; u < users; ++u) {
    // Every tenth user sends again at 10,000: remembered until 26,000, the others until 16,000.
    d.remember("user-" + std::to_string(u), "early", ack, 0);
    if (u % 10 == 0) d.remember("user-" + std::to_string(u), "late", ack, 10000);
  }
  REQUIRE(d.users() == users);

  // The first call has no previous one to measure from: it visits sweep_min_users.
  d.expire(16000);
  CHECK(users - d.users() <= store::sweep_min_users);
  CHECK(users - d.users() > store::sweep_min_users / 2);  // 90% of those it visited had expired
  // Then a second between calls: an eighth of the pass's users each, 8,750.
  constexpr std::size_t per_second = users / 8;
  static_assert(per_second > store::sweep_min_users);
  std::size_t before = d.users();
  std::int64_t now = 16000;
  int calls = 0;
  while (d.users() > users / 10) {
    now += 1000;
    d.expire(now);
    ++calls;
    CHECK(before - d.users() <= per_second);  // no call gives back more users than it visits
    before = d.users();
    if (now == 16000 + 4000) {
      // Whether swept yet or not, nothing expired is recalled and nothing live is lost.
      for (std::size_t u = 0; u < users; u += 7) {
        const std::string user = "user-" + std::to_string(u);
        CHECK_FALSE(d.recall(user, "early", now));
        CHECK(static_cast<bool>(d.recall(user, "late", now)) == (u % 10 == 0));
      }
    }
    // The pass ends within half a lifetime: 8 calls a second apart after the first, which calls
    // of sweep_min_users could not do (9 x 4,096 visits are fewer than the 63,000 to give back).
    REQUIRE(calls <= 8);
  }
  CHECK(calls == 8);  // spread over them all: 4,096 + 7 x 8,750 visits leave 4,654 for the 8th
  CHECK(d.users() == users / 10);

  // A call after half a lifetime or more without one visits every user.
  d.expire(now + ttl / 2);
  CHECK(d.users() == 0);

  // Calls at the same moment (or the first call) still make progress, sweep_min_users at a time.
  store same(4, ttl);
  for (std::size_t u = 0; u < users; ++u) same.remember("user-" + std::to_string(u), "x", ack, 0);
  before = same.users();
  for (int c = 0; c < 4; ++c) {
    same.expire(ttl);
    CHECK(before - same.users() == store::sweep_min_users);  // every user visited had expired
    before = same.users();
  }
}

TEST_CASE("in_process_broker: seqs, tasks, deferred assignments") {
  core::in_process_broker b;
  null_listener l;
  core::hub_options o;
  o.offline_tasks_per_user = 2;
  b.attach(l, o);
  CHECK(b.next_seq("r") == 1);
  CHECK(b.next_seq("r") == 2);
  CHECK(b.next_seq("s") == 1);
  b.room_removed("r");
  CHECK(b.next_seq("r") == 1);

  CHECK_FALSE(b.find_task("t"));
  core::task_info t;
  t.task_id = "t";
  t.assignee_id = "bob";
  b.store_task(t);
  CHECK(b.find_task("t")->assignee_id == "bob");

  auto f1 = make("1", proto::priority::normal);
  auto f2 = make("2", proto::priority::normal);
  auto f3 = make("3", proto::priority::normal);
  b.defer_task("bob", "t1", f1);
  b.defer_task("bob", "t2", f2);
  b.defer_task("bob", "t3", f3);  // cap 2: t1 dropped
  CHECK(b.deferred("bob") == 2);
  b.cancel_deferred("bob", "t2");
  const auto pending = b.take_deferred("bob");
  REQUIRE(pending.size() == 1);
  CHECK(pending[0] == f3);
  CHECK(b.take_deferred("bob").empty());
}

// record() follows next_seq() for the same room on the hot path, and reuses its lookup: it must
// still find the right room when it does not, and nothing of a removed one.
TEST_CASE("in_process_broker: the history is kept per room, whatever the order of the calls") {
  core::in_process_broker b;
  null_listener l;
  core::hub_options o;
  o.room_history = 8;
  o.room_history_bytes = 1 << 20;
  b.attach(l, o);
  const auto history = [&b](std::string_view room, std::int64_t since) {
    std::vector<std::string> texts;
    b.recover(room, since, [&texts](core::recovery r) {
      for (const auto& f : r.frames) texts.push_back(f->text);
    });
    return texts;
  };
  const std::int64_t r1 = b.next_seq("r");
  const std::int64_t s1 = b.next_seq("s");
  b.record("r", r1, make("r1", proto::priority::normal));  // not the last next_seq's room
  b.record("s", s1, make("s1", proto::priority::normal));
  const std::int64_t r2 = b.next_seq("r");
  b.record("r", r2, make("r2", proto::priority::normal));
  b.record("s", 7, make("s7", proto::priority::normal));  // not the room's latest: ignored
  CHECK(history("r", 0) == std::vector<std::string>{"r1", "r2"});
  CHECK(history("s", 0) == std::vector<std::string>{"s1"});
  // A removed room forgets its history, also when it was the last one sequenced.
  const std::int64_t s2 = b.next_seq("s");
  b.room_removed("s");
  b.record("s", s2, make("s2", proto::priority::normal));
  CHECK(history("s", 0).empty());
  CHECK(b.next_seq("s") == 1);
}

TEST_CASE("frame: the transport's prepared form is made once and shared by every sender") {
  const auto f = make("{\"type\":\"message\"}", proto::priority::normal);
  int made = 0;
  const auto prepare = [&made](const std::string& text) {
    ++made;
    return std::make_shared<const std::string>("header+" + text);
  };
  const auto first = f->prepared<std::string>(prepare);
  const auto second = f->prepared<std::string>(prepare);
  CHECK(made == 1);
  CHECK(first == second);  // the same object, not an equal copy
  CHECK(*first == "header+{\"type\":\"message\"}");
}

TEST_CASE("frame: senders on several threads share the one prepared form") {
  const auto f = make("{\"type\":\"message\"}", proto::priority::normal);
  std::atomic<int> made{0};
  std::atomic<bool> go{false};
  const auto prepare = [&made](const std::string& text) {
    made.fetch_add(1);
    return std::make_shared<const std::string>("header+" + text);
  };
  std::vector<std::shared_ptr<const std::string>> seen(4);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&, i] {
      while (!go.load()) std::this_thread::yield();
      seen[i] = f->prepared<std::string>(prepare);
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  CHECK(made.load() == 1);
  for (const auto& s : seen) CHECK(s == seen.front());
}

TEST_CASE("frame: a prepare that throws leaves the frame to be prepared by the next sender") {
  const auto f = make("{\"type\":\"message\"}", proto::priority::normal);
  const auto failing = [](const std::string&) -> std::shared_ptr<const std::string> {
    throw std::bad_alloc();
  };
  CHECK_THROWS_AS(f->prepared<std::string>(failing), std::bad_alloc);
  const auto made = f->prepared<std::string>(
      [](const std::string& text) { return std::make_shared<const std::string>("h+" + text); });
  CHECK(*made == "h+{\"type\":\"message\"}");
}
