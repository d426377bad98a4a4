// Tasks (§3): taskAssign, offline delivery, reassignment, taskUpdate fan-out, host pushes; and the
// client-sent healthUpdate.

#include <memory>
#include <string>

#include "hub_fixture.hpp"

using namespace roomwire_test;

TEST_CASE("taskAssign records the task and reaches every session of the assignee") {
  auto broker = std::make_shared<core::in_process_broker>();
  hub_test t({}, {}, broker);
  const auto a = t.open("alice");
  const auto b1 = t.open("bob");
  const auto b2 = t.open("bob");
  const auto c = t.open("carol");

  t.send(a, assign_req("t1", "bob", "a-1", 1, 3));
  const auto ack = expect_ack(t.pop_one(a), "a-1");
  CHECK(ack.room_id.empty());
  CHECK(ack.sender_id == "alice");
  CHECK_FALSE(ack.seq.has_value());

  const received r1 = t.pop_one(b1);
  const received r2 = t.pop_one(b2);
  CHECK(r1.frame.get() == r2.frame.get());
  const auto m = r1.as<proto::task_assign_delivery>();
  CHECK(m.message_id == "a-1");
  CHECK(m.priority == proto::priority::high);  // the request's envelope priority
  CHECK(m.timestamp == ack.timestamp);
  CHECK(m.payload.task_id == "t1");
  CHECK(m.payload.assignee_id == "bob");
  CHECK(m.payload.priority == proto::priority::low);  // the task's own priority, as sent
  CHECK(m.payload.assigner_id == "alice");
  t.expect_nothing(c);
  // Delivered to an open session: nothing waits for bob's next one.
  const auto b3 = t.open("bob");
  t.expect_nothing(b3);

  const auto task = broker->find_task("t1");
  REQUIRE(task);
  CHECK(task->assigner_id == "alice");
  CHECK(task->assignee_id == "bob");
  CHECK(task->status == "assigned");
  CHECK(task->progress == 0);
}

TEST_CASE("an assignee without a session gets the assignment when they next connect") {
  hub_test t;
  const auto a = t.open("alice");
  t.send(a, assign_req("t1", "bob", "a-1"));
  expect_ack(t.pop_one(a), "a-1");
  t.clock.advance(5000);

  const auto b1 = t.open("bob");
  const received r = t.pop_one(b1);
  const auto m = r.as<proto::task_assign_delivery>();
  CHECK(m.message_id == "a-1");
  CHECK(m.payload.task_id == "t1");
  CHECK(m.payload.assigner_id == "alice");
  CHECK(m.timestamp == t.clock.wall_ms() - 5000);  // when it was accepted
  // Delivered once: the next session of bob gets nothing.
  const auto b2 = t.open("bob");
  t.expect_nothing(b2);
}

TEST_CASE("at most offline_tasks_per_user assignments wait, the oldest dropped first") {
  SECTION("the default: 1000") {
    hub_test t;
    for (int i = 0; i <= 1000; ++i) {
      proto::task_assign a;
      a.task_id = "t-" + std::to_string(i);
      a.assignee_id = "carol";
      t.hub->assign_task("scheduler", a);
    }
    const auto c = t.open("carol");
    const auto frames = t.pop_all(c);
    REQUIRE(frames.size() == 1000);
    CHECK(frames.front().as<proto::task_assign_delivery>().payload.task_id == "t-1");
    CHECK(frames.back().as<proto::task_assign_delivery>().payload.task_id == "t-1000");
    CHECK(frames.front().as<proto::task_assign_delivery>().payload.assigner_id == "scheduler");
  }
  SECTION("a smaller cap, from client requests") {
    core::hub_options o;
    o.offline_tasks_per_user = 2;
    hub_test t(o);
    const auto a = t.open("alice");
    for (const char* task : {"x", "y", "z"}) t.send(a, assign_req(task, "bob", task));
    CHECK(t.pop_all(a).size() == 3);
    const auto b = t.open("bob");
    const auto frames = t.pop_all(b);
    REQUIRE(frames.size() == 2);
    CHECK(frames[0].message_id == "y");
    CHECK(frames[1].message_id == "z");
  }
}

TEST_CASE("offline task delivery can be turned off") {
  core::hub_options o;
  o.offline_task_delivery = false;
  hub_test t(o);
  const auto a = t.open("alice");
  t.send(a, assign_req("t1", "bob", "a-1"));
  expect_ack(t.pop_one(a), "a-1");
  const auto b = t.open("bob");
  t.expect_nothing(b);
}

TEST_CASE(
    "reassignment: allowed to the assigner or the assignee - the old offline delivery is void") {
  auto broker = std::make_shared<core::in_process_broker>();
  hub_test t({}, {}, broker);
  const auto a = t.open("alice");
  const auto c = t.open("carol");
  t.send(a, assign_req("t1", "bob", "a-1"));
  expect_ack(t.pop_one(a), "a-1");
  t.send(a, update_req("t1", "working", 50, "u-1"));
  expect_ack(t.pop_one(a), "u-1");

  // Neither assigner nor assignee.
  t.send(c, assign_req("t1", "carol", "a-2"));
  const auto e = expect_error(t.pop_one(c), "4004");
  CHECK(e.str("messageId") == "a-2");
  CHECK(e.str("type") == "taskAssign");
  CHECK(broker->find_task("t1")->assignee_id == "bob");

  // The assigner reassigns to dave: bob's pending assignment is void, status and progress reset.
  t.send(a, assign_req("t1", "dave", "a-3"));
  expect_ack(t.pop_one(a), "a-3");
  auto task = broker->find_task("t1");
  CHECK(task->assignee_id == "dave");
  CHECK(task->status == "assigned");
  CHECK(task->progress == 0);
  const auto b = t.open("bob");
  t.expect_nothing(b);

  // The assignee reassigns: the sender becomes the assigner.
  const auto d = t.open("dave");
  CHECK(t.pop_one(d).message_id == "a-3");
  t.send(d, assign_req("t1", "erin", "a-4"));
  expect_ack(t.pop_one(d), "a-4");
  task = broker->find_task("t1");
  CHECK(task->assigner_id == "dave");
  CHECK(task->assignee_id == "erin");
  // Alice is now neither.
  t.send(a, update_req("t1", "done", 100, "u-2"));
  expect_error(t.pop_one(a), "4004");
}

TEST_CASE("taskUpdate reaches assigner, assignee and task: watchers once each, not the sender") {
  hub_test t;
  const auto a1 = t.open("alice");
  const auto a2 = t.open("alice");
  const auto b1 = t.open("bob");
  const auto b2 = t.member("bob", "task:t1");  // assignee and watcher: still once
  const auto w = t.member("wendy", "task:t1");
  const auto x = t.member("xavier", "task:t2");
  t.send(a1, assign_req("t1", "bob", "a-1"));
  t.pop_all(a1);
  t.pop_all(b1);
  t.pop_all(b2);

  t.send(b1, update_req("t1", "working", 40.5, "u-1", R"({"eta":5,"note":"half"})"));
  const auto ack = expect_ack(t.pop_one(b1), "u-1");
  CHECK(ack.room_id.empty());
  CHECK(ack.sender_id == "bob");

  const received first = t.pop_one(a1);
  for (auto s : {a2, b2, w}) {
    const received r = t.pop_one(s);
    CHECK(r.frame.get() == first.frame.get());
  }
  const auto m = first.as<proto::task_update_delivery>();
  CHECK(m.message_id == "u-1");
  CHECK(m.timestamp == ack.timestamp);
  CHECK(m.payload.task_id == "t1");
  CHECK(m.payload.status == "working");
  CHECK(m.payload.progress == 40.5);
  CHECK(m.payload.sender_id == "bob");
  const auto doc = first.json();
  CHECK(doc["payload"]["metadata"]["eta"].GetInt() == 5);
  CHECK(std::string(doc["payload"]["metadata"]["note"].GetString()) == "half");
  t.expect_nothing(x);

  // Without metadata, {} is delivered.
  t.send(a1, update_req("t1", "paused", 41, "u-2"));
  t.pop_all(a1);
  const auto doc2 = t.pop_one(b1).json();
  CHECK(doc2["payload"]["metadata"].IsObject());
  CHECK(doc2["payload"]["metadata"].MemberCount() == 0);
}

TEST_CASE("taskUpdate by anyone else is 4004, unless the host policy allows it") {
  SECTION("default") {
    hub_test t;
    const auto a = t.open("alice");
    const auto b = t.open("bob");
    const auto m = t.open("mallory");
    t.send(a, assign_req("t1", "bob", "a-1"));
    t.pop_all(a);
    t.pop_all(b);
    t.send(m, update_req("t1", "hacked", 100, "u-1"));
    const auto e = expect_error(t.pop_one(m), "4004");
    CHECK(e.str("type") == "taskUpdate");
    t.expect_nothing(a);
    t.expect_nothing(b);
  }
  SECTION("policy") {
    core::hub_policies p;
    p.may_touch_task = [](const core::identity& who, const core::task_info& task) {
      return who.has_role("manager") || who.user_id == task.assignee_id;
    };
    hub_test t({}, p);
    const auto a = t.open("alice");
    const auto b = t.open("bob");
    const auto boss = t.open("mia", {"manager"});
    t.send(a, assign_req("t1", "bob", "a-1"));
    t.pop_all(a);
    t.pop_all(b);
    t.send(boss, update_req("t1", "reviewed", 90, "u-1"));
    expect_ack(t.pop_one(boss), "u-1");
    CHECK(t.pop_one(b).as<proto::task_update_delivery>().payload.sender_id == "mia");
    CHECK(t.pop_one(a).as<proto::task_update_delivery>().payload.sender_id == "mia");
    t.send(a, update_req("t1", "x", 1, "u-2"));  // the assigner is not allowed by this policy
    expect_error(t.pop_one(a), "4004");
  }
}

TEST_CASE("an update for an unknown task creates it with the sender as assigner") {
  auto broker = std::make_shared<core::in_process_broker>();
  hub_test t({}, {}, broker);
  const auto d = t.open("dave");
  const auto e = t.open("eve");
  t.send(d, update_req("t9", "started", 5, "u-1"));
  expect_ack(t.pop_one(d), "u-1");
  const auto task = broker->find_task("t9");
  REQUIRE(task);
  CHECK(task->assigner_id == "dave");
  CHECK(task->assignee_id.empty());
  CHECK(task->status == "started");
  CHECK(task->progress == 5);
  t.send(e, update_req("t9", "mine now", 6, "u-2"));
  expect_error(t.pop_one(e), "4004");
  t.send(d, update_req("t9", "going", 7, "u-3"));
  expect_ack(t.pop_one(d), "u-3");
}

TEST_CASE("the host may refuse creating tasks by update: 4003") {
  core::hub_policies p;
  p.may_create_task = [](const core::identity&, std::string_view task) {
    return task.rfind("adhoc-", 0) == 0;
  };
  hub_test t({}, p);
  const auto d = t.open("dave");
  t.send(d, update_req("t9", "x", 1, "u-1"));
  const auto e = expect_error(t.pop_one(d), "4003");
  CHECK(e.str("messageId") == "u-1");
  t.send(d, update_req("adhoc-1", "x", 1, "u-2"));
  expect_ack(t.pop_one(d), "u-2");
}

TEST_CASE("publish_task_update from host code is delivered like a client's") {
  auto broker = std::make_shared<core::in_process_broker>();
  hub_test t({}, {}, broker);
  const auto a = t.open("alice");
  const auto b = t.open("bob");
  const auto w = t.member("wendy", "task:t1");
  t.send(a, assign_req("t1", "bob", "a-1"));
  t.pop_all(a);
  t.pop_all(b);

  proto::task_update u;
  u.task_id = "t1";
  u.status = "building";
  u.progress = 70;
  u.metadata.text = R"({"step":"link"})";
  t.hub->publish_task_update("builder", u, proto::priority::low);
  const received first = t.pop_one(a);
  CHECK(t.pop_one(b).frame.get() == first.frame.get());
  CHECK(t.pop_one(w).frame.get() == first.frame.get());
  const auto m = first.as<proto::task_update_delivery>();
  CHECK(m.payload.sender_id == "builder");
  CHECK(m.payload.status == "building");
  CHECK(m.priority == proto::priority::low);
  CHECK(m.message_id.rfind("s-", 0) == 0);
  CHECK(first.json()["payload"]["metadata"]["step"] == "link");
  CHECK(broker->find_task("t1")->status == "building");
  CHECK(broker->find_task("t1")->progress == 70);

  // An unknown task is created, the publisher as its assigner.
  u.task_id = "t2";
  t.hub->publish_task_update("builder", u);
  CHECK(broker->find_task("t2")->assigner_id == "builder");
}

TEST_CASE("assign_task from host code is delivered like a client's") {
  hub_test t;
  const auto b1 = t.open("bob");
  const auto b2 = t.open("bob");
  proto::task_assign a;
  a.task_id = "t1";
  a.assignee_id = "bob";
  t.hub->assign_task("scheduler", a, proto::priority::critical);
  const received r = t.pop_one(b1);
  CHECK(t.pop_one(b2).frame.get() == r.frame.get());
  const auto m = r.as<proto::task_assign_delivery>();
  CHECK(m.payload.assigner_id == "scheduler");
  CHECK(m.priority == proto::priority::critical);
  // The scheduler's reassignment is honoured, and bob (assignee) may update it.
  t.send(b1, update_req("t1", "ok", 10, "u-1"));
  expect_ack(t.pop_one(b1), "u-1");
}

TEST_CASE("a client's healthUpdate is 4004 unless allowed - then it goes to system:health") {
  const std::string health =
      request("healthUpdate", R"({"status":"degraded","metrics":{"q":1}})", "h-1", 1);
  SECTION("default: refused") {
    hub_test t;
    const auto m = t.member("monitor", "system:health");
    const auto p = t.open("probe");
    t.send(p, health);
    const auto e = expect_error(t.pop_one(p), "4004");
    CHECK(e.str("type") == "healthUpdate");
    t.expect_nothing(m);
  }
  SECTION("allowed: forwarded") {
    core::hub_policies pol;
    pol.may_publish_health = [](const core::identity& who) { return who.has_role("probe"); };
    hub_test t({}, pol);
    const auto m = t.member("monitor", "system:health");
    const auto p = t.open("probe", {"probe"});
    t.send(p, health);
    const auto ack = expect_ack(t.pop_one(p), "h-1");
    CHECK(ack.room_id.empty());
    const auto fwd = t.pop_one(m).as<proto::health_update>();
    CHECK(fwd.message_id == "h-1");
    CHECK(fwd.priority == proto::priority::high);
    CHECK(fwd.payload.status == proto::health_status::degraded);
    CHECK(fwd.payload.metrics.text == R"({"q":1})");
    CHECK(t.hub->metrics().status == proto::health_status::ok);  // the hub's own is unchanged
  }
}
