// The broker as roomwire's server uses it: its io_context run by several threads, and every hub
// call (and every call into the hub) made under one mutex.

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "harness.hpp"
#include "redis_server.hpp"

using namespace roomwire_test;
using outcome = roomwire::core::commit_result::outcome;

namespace {

// A hub stand-in: records, and wakes whoever waits for what it records.
class waking_listener final : public roomwire::core::broker::listener {
 public:
  explicit waking_listener(std::condition_variable& changed) : changed_(changed) {}
  void deliver(const roomwire::core::audience& /*to*/,
               const roomwire::core::frame_ptr& f) override {
    seqs.push_back(seq_of(*f));
    changed_.notify_all();
  }
  void availability_changed(bool now) override {
    available = now;
    changed_.notify_all();
  }
  std::vector<std::int64_t> seqs;
  bool available = false;

 private:
  std::condition_variable& changed_;
};

}  // namespace

TEST_CASE("brokers on a multi-threaded io_context, serialised by the hub's mutex", "[redis]") {
  redis_server redis;
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::mutex hub_lock;
  std::condition_variable changed;
  const auto serialized = [&](const std::function<void()>& fn) {
    std::lock_guard<std::mutex> lock(hub_lock);
    fn();
  };
  const std::string prefix = unique_prefix();
  const auto make = [&](const std::string& name) {
    roomwire::redis::redis_options o;
    o.url = redis.url();
    o.prefix = prefix;
    o.node_id = name;
    o.reconnect_min_ms = 20;
    o.reconnect_max_ms = 100;
    return roomwire::redis::make_broker(io, serialized, o);
  };
  waking_listener hub_a(changed);
  waking_listener hub_b(changed);
  const auto a = make("node-a");
  const auto b = make("node-b");
  {
    std::lock_guard<std::mutex> lock(hub_lock);
    a->attach(hub_a, {});
    b->attach(hub_b, {});
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) threads.emplace_back([&] { io.run(); });

  std::unique_lock<std::mutex> lock(hub_lock);
  const auto wait_for = [&](const std::function<bool()>& done, const char* what) {
    INFO(what);
    REQUIRE(changed.wait_for(lock, std::chrono::seconds(10), done));
  };
  wait_for([&] { return hub_a.available && hub_b.available; }, "both nodes available");

  // Answers come on the I/O threads, under the lock (no Catch assertion there: not thread-safe).
  constexpr std::size_t count = 50;
  std::size_t accepted = 0;
  std::size_t answers = 0;
  for (std::size_t i = 1; i <= count; ++i) {
    chat m;
    m.message_id = "m-" + std::to_string(i);
    commit_with(*(i % 2 == 0 ? a : b), m, [&](const roomwire::core::commit_result& r) {
      ++answers;
      accepted += r.what == outcome::accepted;
      changed.notify_all();
    });
  }
  wait_for(
      [&] { return answers == count && hub_a.seqs.size() == count && hub_b.seqs.size() == count; },
      "every answer, and every delivery on both nodes");
  CHECK(accepted == count);
  std::vector<std::int64_t> expected;
  for (std::size_t i = 1; i <= count; ++i) expected.push_back(static_cast<std::int64_t>(i));
  CHECK(hub_a.seqs == expected);
  CHECK(hub_b.seqs == expected);

  lock.unlock();
  redis.kill();
  lock.lock();
  wait_for([&] { return !hub_a.available && !hub_b.available; }, "both nodes unavailable");
  lock.unlock();
  redis.start();
  lock.lock();
  wait_for([&] { return hub_a.available && hub_b.available; }, "both nodes available again");

  a->detach();
  b->detach();
  lock.unlock();
  work.reset();
  io.stop();
  for (std::thread& t : threads) t.join();
}
