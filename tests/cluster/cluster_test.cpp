// Scale-out through Redis (issue 7), and a server killed mid-stream (issue 6), with real
// processes: a redis-server, roomwire-server nodes started with --redis, and roomwire::client
// instances that reconnect with back-off, rejoin with "since" and resend what was not
// acknowledged.
//
// The promise checked, for every test: every message whose sender saw it acknowledged reaches
// every other member that stays joined exactly once, in seq order. Each member's deliveries are
// counted as lost (acknowledged, never delivered), duplicated (delivered twice) and reordered
// (a seq not above the previous one); all three must be zero.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "client_waiting.hpp"
#include "cluster_processes.hpp"
#include "roomwire/client.hpp"

using namespace roomwire_test;
namespace rw = roomwire;
namespace proto = roomwire::protocol;

namespace {

constexpr const char* room = "hall";

rw::client_options reconnecting() {
  rw::client_options o;
  o.reconnect.initial_delay_ms = 100;
  o.reconnect.multiplier = 1.5;
  o.reconnect.max_delay_ms = 1000;
  o.reconnect.max_attempts = 60;
  return o;
}

// One member: what it was delivered, what it sent and how each send was answered.
struct member {
  explicit member(std::string name) : user(std::move(name)), c(reconnecting()) {
    record_events(c, events);
    c.on_connected([this] {
      events.push("connected");
      ++connections;
    });
    c.on<proto::chat_delivery>([this](const proto::envelope<proto::chat_delivery>& m) {
      std::lock_guard<std::mutex> lock(mu);
      delivered.push_back({m.payload.sender_id + "/" + m.message_id, m.payload.seq, connections});
      ++delivered_count;
      changed.notify_all();
    });
    c.on<proto::health_update>([this](const proto::envelope<proto::health_update>& m) {
      switch (m.payload.status) {
        case proto::health_status::ok:
          return health.push("ok");
        case proto::health_status::degraded:
          return health.push("degraded");
        case proto::health_status::draining:
          return health.push("draining");
      }
    });
  }

  struct delivery {
    std::string key;  // sender/messageId
    std::int64_t seq;
    int connection;  // 1 for the first connection, 2 after the first reconnection, ...
  };

  std::string user;
  std::mutex mu;
  std::condition_variable changed;
  std::vector<delivery> delivered;
  std::size_t delivered_count = 0;
  std::vector<rw::send_handle> sent;
  std::atomic<int> connections{0};  // connections opened so far, for a failure message
  inbox<std::string> events;
  inbox<std::string> health;
  rw::client c;  // last: destroyed first
};

struct tally {
  std::size_t acknowledged = 0;
  std::size_t refused = 0;
  std::size_t lost = 0;
  std::size_t duplicated = 0;
  std::size_t reordered = 0;
  std::vector<std::string> problems;  // the first lost and reordered ones, for a failure

  std::string describe() const {
    std::string out;
    for (const auto& p : problems) out += p + "\n";
    return out;
  }
};

// Waits for every send's answer, then for every member to hold every acknowledged message of
// the others (all within one deadline), and counts. What went wrong is kept for the failure
// message.
tally settle(std::vector<std::unique_ptr<member>>& members) {
  tally t;
  std::map<std::string, std::int64_t> acked;  // sender/messageId -> seq
  std::map<std::string, std::string> sender_of;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  for (auto& m : members) {
    for (const auto& h : m->sent) {
      const auto r = h.wait_for(std::max<std::chrono::steady_clock::duration>(
          deadline - std::chrono::steady_clock::now(), 0s));
      INFO(m->user << " " << h.message_id());
      REQUIRE(r.has_value());
      if (r->ok()) {
        ++t.acknowledged;
        const std::string key = m->user + "/" + h.message_id();
        acked[key] = r->ack->seq.value_or(0);
        sender_of[key] = m->user;
      } else {
        ++t.refused;
      }
    }
  }
  for (auto& m : members) {
    std::unique_lock<std::mutex> lock(m->mu);
    // Everything acknowledged has to arrive; wait on the deliveries, bounded.
    const auto missing = [&] {
      std::set<std::string> have;
      for (const auto& d : m->delivered) have.insert(d.key);
      std::vector<std::string> out;
      for (const auto& entry : acked) {
        if (sender_of[entry.first] != m->user && have.count(entry.first) == 0) {
          out.push_back(entry.first);
        }
      }
      return out;
    };
    m->changed.wait_until(lock, deadline, [&] { return missing().empty(); });
    std::map<std::string, int> seen;
    std::int64_t last = 0;
    for (const auto& d : m->delivered) {
      if (++seen[d.key] > 1) ++t.duplicated;
      if (d.seq <= last) {
        ++t.reordered;
        if (t.problems.size() < 20) {
          t.problems.push_back(m->user + ": seq " + std::to_string(d.seq) + " (" + d.key +
                               ") after " + std::to_string(last) + ", on connection " +
                               std::to_string(d.connection));
        }
      }
      last = std::max(last, d.seq);
    }
    const std::vector<std::string> lost = missing();
    if (!lost.empty()) {
      // What it got, as seq ranges per connection: "c1 1-19 29-90 | c2 91-360".
      std::string got = m->user + " got:";
      int connection = 0;
      std::int64_t from = -1, to = -1;
      const auto flush = [&] {
        if (from >= 0) got += " " + std::to_string(from) + "-" + std::to_string(to);
      };
      for (const auto& d : m->delivered) {
        if (d.connection != connection) {
          flush();
          from = -1;
          connection = d.connection;
          got += " | c" + std::to_string(connection);
        }
        if (from >= 0 && d.seq == to + 1) {
          to = d.seq;
          continue;
        }
        flush();
        from = to = d.seq;
      }
      flush();
      if (got.size() > 400) got.resize(400), got += " ...";
      t.problems.push_back(got);
    }
    for (const std::string& key : lost) {
      ++t.lost;
      if (t.problems.size() < 20) {
        t.problems.push_back(m->user + ": lost " + key + " (seq " + std::to_string(acked[key]) +
                             "), " + std::to_string(m->connections) + " connections, last seq " +
                             std::to_string(last));
      }
    }
  }
  return t;
}

// `n` members u0, u1, … connected to the nodes in turn.
std::vector<std::unique_ptr<member>> spread_over(const std::vector<server_node*>& nodes, int n) {
  std::vector<std::unique_ptr<member>> members;
  for (int i = 0; i < n; ++i) {
    members.push_back(std::make_unique<member>("u" + std::to_string(i)));
    members.back()->c.connect(nodes[static_cast<std::size_t>(i) % nodes.size()]->url(),
                              members.back()->user);
  }
  return members;
}

void join_all(std::vector<std::unique_ptr<member>>& members) {
  for (auto& m : members) {
    const auto r = m->c.join(room).wait_for(20s);
    REQUIRE(r.has_value());
    REQUIRE(r->ok());
  }
}

// Every member sends `per_member` messages, one every `every`, spread over the members; `during`
// runs once half of them are out.
template <class F>
void chatter(std::vector<std::unique_ptr<member>>& members, int per_member,
             std::chrono::milliseconds every, F during) {
  const int total = per_member * static_cast<int>(members.size());
  for (int i = 0; i < total; ++i) {
    auto& m = *members[static_cast<std::size_t>(i) % members.size()];
    m.sent.push_back(m.c.send_message(room, "n" + std::to_string(i)));
    if (i == total / 2) during();
    if (static_cast<std::size_t>(i + 1) % members.size() == 0) std::this_thread::sleep_for(every);
  }
}

}  // namespace

TEST_CASE("cluster: 30 clients over three nodes get every message once, in seq order") {
  redis_process redis;
  server_node a(redis.url(), "a");
  server_node b(redis.url(), "b");
  server_node c(redis.url(), "c");
  const std::vector<server_node*> nodes{&a, &b, &c};

  auto members = spread_over(nodes, 30);
  join_all(members);
  chatter(members, 10, 20ms, [] {});
  const tally t = settle(members);
  CHECK(t.acknowledged == 300);
  CHECK(t.refused == 0);
  INFO(t.describe());
  CHECK(t.lost == 0);
  CHECK(t.duplicated == 0);
  CHECK(t.reordered == 0);

  // One seq per message, the same on every node: the first member's view of seqs 1..300,
  // less its own, is every other member's too.
  std::map<std::string, std::int64_t> seq_of;
  std::size_t disagreements = 0;
  for (auto& m : members) {
    std::lock_guard<std::mutex> lock(m->mu);
    for (const auto& d : m->delivered) {
      const auto [it, fresh] = seq_of.emplace(d.key, d.seq);
      if (!fresh && it->second != d.seq) ++disagreements;
    }
  }
  CHECK(disagreements == 0);
  CHECK(seq_of.size() == 300);
}

TEST_CASE("cluster: a node killed mid-stream - its clients move to the others, nothing lost") {
  redis_process redis;
  server_node a(redis.url(), "a");
  server_node b(redis.url(), "b");
  server_node c(redis.url(), "c");
  balancer lb({a.port(), b.port(), c.port()});

  std::vector<std::unique_ptr<member>> members;
  for (int i = 0; i < 30; ++i) {
    members.push_back(std::make_unique<member>("u" + std::to_string(i)));
    members.back()->c.connect(lb.url(), members.back()->user);
  }
  join_all(members);
  chatter(members, 12, 25ms, [&] { b.stop(SIGKILL); });
  const tally t = settle(members);
  INFO(a.log() + c.log());
  // A message is refused (with an error) only while its session had no node reaching Redis;
  // nearly all are acknowledged.
  CHECK(t.acknowledged + t.refused == 360);
  CHECK(t.acknowledged >= 324);
  INFO(t.describe());
  CHECK(t.lost == 0);
  CHECK(t.duplicated == 0);
  CHECK(t.reordered == 0);
  // A third of the members were on the killed node and came back through the balancer.
  std::size_t reconnected = 0;
  for (auto& m : members) {
    if (m->events.wait(count_of("connected", 2), 0ms)) ++reconnected;
  }
  CHECK(reconnected >= 9);
}

TEST_CASE("cluster: Redis restarted under load - degraded, refused clearly, then whole again") {
  redis_process redis;
  server_node a(redis.url(), "a");
  server_node b(redis.url(), "b");
  server_node c(redis.url(), "c");
  const std::vector<server_node*> nodes{&a, &b, &c};
  auto members = spread_over(nodes, 30);
  join_all(members);

  chatter(members, 6, 20ms, [&] {
    redis.stop(SIGKILL);
    // Every node tells its sessions it is degraded.
    for (auto& m : members) {
      INFO(m->user);
      REQUIRE(m->health.wait(
          [](const std::vector<std::string>& v) { return contains(v, "degraded"); }, 20s));
    }
  });
  // While Redis is down, a message is refused with an error, not dropped.
  auto during = members[0]->c.send_message(room, "while redis is down");
  const auto refused = during.wait_for(20s);
  REQUIRE(refused.has_value());
  CHECK_FALSE(refused->ok());

  redis.start();
  for (auto& m : members) {
    INFO(m->user);
    REQUIRE(m->health.wait(
        [](const std::vector<std::string>& v) { return !v.empty() && v.back() == "ok"; }, 30s));
  }
  chatter(members, 6, 20ms, [] {});
  const tally t = settle(members);
  CHECK(t.acknowledged >= 180);  // the second half at least
  INFO(t.describe());
  CHECK(t.lost == 0);
  CHECK(t.duplicated == 0);
  CHECK(t.reordered == 0);
}

TEST_CASE("a server killed (SIGKILL) and restarted: acknowledged messages arrive once, in order") {
  redis_process redis;
  auto node = std::make_unique<server_node>(redis.url(), "solo");
  const std::uint16_t port = node->port();
  std::vector<std::unique_ptr<member>> members;
  for (int i = 0; i < 10; ++i) {
    members.push_back(std::make_unique<member>("u" + std::to_string(i)));
    members.back()->c.connect(node->url(), members.back()->user);
  }
  join_all(members);
  chatter(members, 30, 20ms, [&] {
    node->stop(SIGKILL);
    node = std::make_unique<server_node>(redis.url(), "solo", port);
  });
  const tally t = settle(members);
  // Every send is answered once the server is back: acknowledged, or refused with an error
  // while the restarted node was still connecting to Redis.
  CHECK(t.acknowledged + t.refused == 300);
  CHECK(t.acknowledged >= 270);
  INFO(t.describe());
  CHECK(t.lost == 0);
  CHECK(t.duplicated == 0);
  CHECK(t.reordered == 0);
  for (auto& m : members) CHECK(m->events.wait(count_of("connected", 2), 0ms));
}
