// The broker seam: the hub goes through it for seqs, fan-out beyond the node, tasks and dedup,
// and takes what other nodes publish.

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hub_fixture.hpp"

using namespace roomwire_test;

namespace {

// Forwards to an in-process broker and writes down what the hub asked.
class recording_broker final : public core::broker {
 public:
  struct published {
    std::string room_id;
    std::string user0;
    std::string user1;
    core::frame_ptr frame;
  };

  void attach(listener& hub, const core::hub_options& options) override {
    listener_ = &hub;
    inner_.attach(hub, options);
    log("attach");
  }
  void detach() override {
    listener_ = nullptr;
    log("detach");
  }
  std::int64_t next_seq(std::string_view room_id) override {
    log("next_seq", room_id);
    return seq_offset + inner_.next_seq(room_id);
  }
  void room_removed(std::string_view room_id) override {
    log("room_removed", room_id);
    inner_.room_removed(room_id);
  }
  void publish(const core::audience& to, const core::frame_ptr& f) override {
    out.push_back(published{std::string(to.room_id), std::string(to.user_ids[0]),
                            std::string(to.user_ids[1]), f});
  }
  void record(std::string_view room_id, std::int64_t seq, const core::frame_ptr& f) override {
    inner_.record(room_id, seq - seq_offset, f);
  }
  void recover(std::string_view room_id, std::int64_t since, recover_done done) override {
    log("recover", room_id);
    inner_.recover(room_id, since - seq_offset, std::move(done));
  }
  std::optional<core::task_info> find_task(std::string_view task_id) override {
    log("find_task", task_id);
    return inner_.find_task(task_id);
  }
  void store_task(const core::task_info& task) override {
    log("store_task", task.task_id);
    inner_.store_task(task);
  }
  void defer_task(std::string_view user_id, std::string_view task_id, core::frame_ptr f) override {
    log("defer_task", std::string(user_id) + " " + std::string(task_id));
    inner_.defer_task(user_id, task_id, std::move(f));
  }
  void cancel_deferred(std::string_view user_id, std::string_view task_id) override {
    log("cancel_deferred", std::string(user_id) + " " + std::string(task_id));
    inner_.cancel_deferred(user_id, task_id);
  }
  std::vector<core::frame_ptr> take_deferred(std::string_view user_id) override {
    log("take_deferred", user_id);
    return inner_.take_deferred(user_id);
  }
  std::optional<proto::message_received> recall(std::string_view user_id,
                                                std::string_view message_id,
                                                std::int64_t now_ms) override {
    auto found = inner_.recall(user_id, message_id, now_ms);
    log(found ? "recall hit" : "recall miss", std::string(user_id) + " " + std::string(message_id));
    return found;
  }
  void remember(std::string_view user_id, std::string_view message_id,
                const proto::message_received& ack, std::int64_t now_ms) override {
    log("remember", std::string(user_id) + " " + std::string(message_id));
    inner_.remember(user_id, message_id, ack, now_ms);
  }
  void expire(std::int64_t now_ms) override {
    log("expire", std::to_string(now_ms));
    inner_.expire(now_ms);
  }

  bool logged(const std::string& entry) const {
    return std::find(calls.begin(), calls.end(), entry) != calls.end();
  }
  listener& hub() {
    REQUIRE(listener_ != nullptr);
    return *listener_;
  }

  std::int64_t seq_offset = 0;
  std::vector<std::string> calls;
  std::vector<published> out;

 private:
  void log(std::string what, std::string_view arg = {}) {
    if (!arg.empty()) what += " " + std::string(arg);
    calls.push_back(std::move(what));
  }

  core::in_process_broker inner_;
  listener* listener_ = nullptr;
};

}  // namespace

TEST_CASE("the hub attaches to its broker and detaches when destroyed") {
  auto broker = std::make_shared<recording_broker>();
  {
    hub_test t({}, {}, broker);
    CHECK(broker->calls == std::vector<std::string>{"attach"});
  }
  CHECK(broker->calls.back() == "detach");
}

TEST_CASE("room seqs come from the broker, and room traffic is published beyond the node") {
  auto broker = std::make_shared<recording_broker>();
  broker->seq_offset = 100;
  hub_test t({}, {}, broker);
  const auto a = t.member("alice", "lobby");
  const auto b = t.member("bob", "lobby");
  t.send(a, chat_req("lobby", "hi", "c1"));
  CHECK(expect_ack(t.pop_one(a), "c1").seq == 101);
  const received r = t.pop_one(b);
  CHECK(r.as<proto::chat_delivery>().payload.seq == 101);
  CHECK(broker->logged("next_seq lobby"));
  REQUIRE(broker->out.size() == 1);
  CHECK(broker->out[0].room_id == "lobby");
  CHECK(broker->out[0].user0.empty());
  CHECK(broker->out[0].frame.get() == r.frame.get());  // the very frame, not a copy

  t.hub->closed(a, proto::close_code::normal);
  CHECK_FALSE(broker->logged("room_removed lobby"));
  t.hub->closed(b, proto::close_code::normal);
  CHECK(broker->logged("room_removed lobby"));
}

TEST_CASE("task records, routing and dedup go through the broker") {
  auto broker = std::make_shared<recording_broker>();
  hub_test t({}, {}, broker);
  const auto a = t.open("alice");
  t.send(a, assign_req("t1", "bob", "a-1"));
  expect_ack(t.pop_one(a), "a-1");
  CHECK(broker->logged("recall miss alice a-1"));
  CHECK(broker->logged("find_task t1"));
  CHECK(broker->logged("store_task t1"));
  CHECK(broker->logged("remember alice a-1"));
  CHECK(broker->logged("defer_task bob t1"));
  REQUIRE(broker->out.size() == 1);
  CHECK(broker->out[0].user0 == "bob");

  t.send(a, assign_req("t1", "bob", "a-1"));
  expect_ack(t.pop_one(a), "a-1");
  CHECK(broker->logged("recall hit alice a-1"));

  t.send(a, assign_req("t1", "carol", "a-2"));
  expect_ack(t.pop_one(a), "a-2");
  CHECK(broker->logged("cancel_deferred bob t1"));

  const auto b = t.open("bob");
  CHECK(broker->logged("take_deferred bob"));
  t.expect_nothing(b);

  t.send(b, update_req("t1", "peek", 1, "u-1"));  // bob is no longer the assignee
  expect_error(t.pop_one(b), "4004");
  CHECK_FALSE(broker->logged("remember bob u-1"));

  t.clock.advance(1000);
  t.hub->tick();
  CHECK(broker->logged("expire 1000"));
}

TEST_CASE("a task update is published to its watchers room and both users") {
  auto broker = std::make_shared<recording_broker>();
  hub_test t({}, {}, broker);
  const auto a = t.open("alice");
  t.send(a, assign_req("t1", "bob", "a-1"));
  t.send(a, update_req("t1", "x", 1, "u-1"));
  t.pop_all(a);
  REQUIRE(broker->out.size() == 2);
  CHECK(broker->out[1].room_id == "task:t1");
  CHECK(broker->out[1].user0 == "alice");
  CHECK(broker->out[1].user1 == "bob");
}

TEST_CASE("host pushes to users and rooms are published - pushes to a session are not") {
  auto broker = std::make_shared<recording_broker>();
  hub_test t({}, {}, broker);
  const auto a = t.member("alice", "lobby");
  proto::envelope<proto::health_update> note;
  t.hub->send(a, note);
  CHECK(broker->out.empty());
  t.hub->send_to_room("lobby", note);
  t.hub->send_to_user("zed", note);  // no local session: still published
  REQUIRE(broker->out.size() == 2);
  CHECK(broker->out[0].room_id == "lobby");
  CHECK(broker->out[1].user0 == "zed");
}

TEST_CASE("frames published by other nodes reach this node's sessions once each") {
  auto broker = std::make_shared<recording_broker>();
  hub_test t({}, {}, broker);
  const auto a = t.member("alice", "lobby");
  const auto b = t.member("bob", "lobby");
  const auto c = t.open("carol");
  auto remote = std::make_shared<core::frame>();
  remote->type = "message";
  remote->text = R"({"type":"message","payload":{"roomId":"lobby","content":"from afar",)"
                 R"("metadata":{"type":"text"},"senderId":"zed","seq":7},"timestamp":1,)"
                 R"("messageId":"z-1","priority":2})";
  core::audience to;
  to.room_id = "lobby";
  to.user_ids[0] = "alice";
  broker->hub().deliver(to, remote);
  CHECK(t.pop_one(a).frame.get() == remote.get());
  CHECK(t.pop_one(b).frame.get() == remote.get());
  t.expect_nothing(c);
  CHECK(broker->out.empty());  // not published back
}

TEST_CASE("a broker outage makes the hub degraded, and its return ok again") {
  auto broker = std::make_shared<recording_broker>();
  hub_test t({}, {}, broker);
  const auto a = t.open("alice");
  broker->hub().availability_changed(false);
  const auto h = t.pop_one(a).as<proto::health_update>();
  CHECK(h.payload.status == proto::health_status::degraded);
  CHECK(h.priority == proto::priority::critical);
  CHECK(t.hub->metrics().status == proto::health_status::degraded);
  broker->hub().availability_changed(true);
  CHECK(t.pop_one(a).as<proto::health_update>().payload.status == proto::health_status::ok);

  t.hub->set_backlog(a, 1);  // keep the session open while draining
  t.hub->drain();
  t.pop_all(a);
  broker->hub().availability_changed(false);  // draining stays draining
  t.expect_nothing(a);
  CHECK(t.hub->metrics().status == proto::health_status::draining);
}
