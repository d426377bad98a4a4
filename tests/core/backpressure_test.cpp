// Outbound queues (§4): priority order, wake-ups, soft-limit shedding, hard-limit close, backlog,
// and isolation between sessions.

#include <string>
#include <vector>

#include "hub_fixture.hpp"

using namespace roomwire_test;

namespace {

struct blob {
  static constexpr std::string_view type = "blob";
  std::string data;
  static constexpr auto fields() { return proto::fields(proto::field("data", &blob::data)); }
};

// A frame of a fixed size: explicit id and timestamp, one-letter tag.
proto::envelope<blob> blob_env(char tag, proto::priority p) {
  proto::envelope<blob> env;
  env.payload.data = std::string(1, tag);
  env.message_id = std::string("x-") + tag;
  env.timestamp = 1;
  env.priority = p;
  return env;
}

std::size_t blob_size() { return proto::encode(blob_env('a', proto::priority::normal)).size(); }

std::string tags(const std::vector<received>& frames) {
  std::string out;
  for (const auto& r : frames) out += r.as<blob>().payload.data;
  return out;
}

constexpr auto p0 = proto::priority::critical;
constexpr auto p1 = proto::priority::high;
constexpr auto p2 = proto::priority::normal;
constexpr auto p3 = proto::priority::low;
constexpr auto p4 = proto::priority::background;

}  // namespace

TEST_CASE("pop() gives the most urgent frame first, in order within a priority") {
  hub_test t;
  const auto a = t.open("alice");
  const std::pair<char, proto::priority> pushes[] = {{'a', p4}, {'b', p2}, {'c', p0}, {'d', p3},
                                                     {'e', p1}, {'f', p2}, {'g', p0}};
  for (const auto& [tag, p] : pushes) CHECK(t.hub->send(a, blob_env(tag, p)) == 1);
  CHECK(t.hub->queued_bytes(a) == 7 * blob_size());
  CHECK(tags(t.pop_all(a)) == "cgebfda");
  CHECK(t.hub->pop(a) == nullptr);
  CHECK(t.hub->queued_bytes(a) == 0);
}

TEST_CASE("wake() is called when a queue goes from empty to non-empty, or for priority 0") {
  hub_test t;
  const auto a = t.open("alice");
  const auto b = t.open("bob");
  CHECK(t.transport.wakes.empty());
  t.hub->send(a, blob_env('a', p2));
  CHECK(t.transport.wakes_for(a) == 1);
  t.hub->send(a, blob_env('c', p4));
  t.hub->send(a, blob_env('d', p1));
  CHECK(t.transport.wakes_for(a) == 1);
  CHECK(t.transport.wakes_for(b) == 0);
  // A transport that paces a slow reader holds back what is queued; a priority-0 frame may go
  // past that, so it wakes the transport even behind a queue.
  t.hub->send(a, blob_env('b', p0));
  CHECK(t.transport.wakes_for(a) == 2);
  CHECK(t.hub->pop(a) != nullptr);
  t.hub->send(a, blob_env('e', p2));  // not empty yet
  CHECK(t.transport.wakes_for(a) == 2);
  t.pop_all(a);
  t.hub->send(a, blob_env('f', p2));
  CHECK(t.transport.wakes_for(a) == 3);
  CHECK(t.transport.wakes_for(b) == 0);
}

TEST_CASE("pop() up to a priority takes only frames that urgent, and closes nothing") {
  hub_test t;
  const auto a = t.open("alice");
  t.hub->send(a, blob_env('a', p2));
  t.hub->send(a, blob_env('b', p0));
  t.hub->send(a, blob_env('c', p4));
  t.hub->send(a, blob_env('d', p0));
  const auto first = t.hub->pop(a, p0);
  REQUIRE(first != nullptr);
  CHECK(first->priority == p0);
  REQUIRE(t.hub->pop(a, p0) != nullptr);
  CHECK(t.hub->pop(a, p0) == nullptr);
  CHECK(t.hub->queued_bytes(a) == 2 * blob_size());
  CHECK(t.hub->metrics().messages_out == 2);
  CHECK(tags(t.pop_all(a)) == "ac");

  // A draining session is closed once pop() finds its queue empty; one up to priority 0 that
  // finds none leaves the rest queued and the session open.
  t.hub->send(a, blob_env('e', p2));
  t.hub->drain();
  CHECK(t.hub->pop(a, p0) != nullptr);  // the `draining` notice (priority 0)
  CHECK(t.hub->pop(a, p0) == nullptr);
  CHECK(t.transport.closes_for(a) == 0);
  CHECK(t.hub->queued_bytes(a) == blob_size());
  CHECK(tags(t.pop_all(a)) == "e");
  CHECK(t.hub->pop(a) == nullptr);
  CHECK(t.transport.closes_for(a) == 1);
}

TEST_CASE("past the soft limit, priority 4 then 3 is shed, oldest first - 0-2 never") {
  const std::size_t s = blob_size();
  core::hub_options o;
  o.queue_soft_bytes = 6 * s;
  o.queue_hard_bytes = 100 * s;
  hub_test t(o);
  const auto a = t.open("alice");
  for (const auto& [tag, p] : std::vector<std::pair<char, proto::priority>>{
           {'L', p3}, {'B', p4}, {'M', p3}, {'C', p4}, {'n', p2}, {'o', p2}}) {
    t.hub->send(a, blob_env(tag, p));
  }
  CHECK(t.hub->queued_bytes(a) == 6 * s);  // at the limit, not past it: nothing shed
  CHECK(t.hub->metrics().messages_dropped == 0);

  t.hub->send(a, blob_env('p', p2));  // sheds B (oldest priority 4)
  t.hub->send(a, blob_env('z', p0));  // sheds C
  t.hub->send(a, blob_env('q', p2));  // no more priority 4: sheds L (oldest priority 3)
  CHECK(t.hub->metrics().messages_dropped == 3);
  t.hub->send(a, blob_env('r', p2));  // sheds M
  t.hub->send(a, blob_env('s', p1));  // nothing left to shed: over the soft limit, kept
  CHECK(t.hub->queued_bytes(a) == 7 * s);

  const auto m = t.hub->metrics();
  CHECK(m.messages_dropped == 4);
  CHECK(m.dropped_by_type.at("blob")[4] == 2);
  CHECK(m.dropped_by_type.at("blob")[3] == 2);
  CHECK(m.dropped_by_type.at("blob")[2] == 0);
  CHECK(m.queue_bytes == 7 * s);
  CHECK(tags(t.pop_all(a)) == "zsnopqr");
  CHECK(t.transport.closes.empty());
}

TEST_CASE("a new low-priority frame is shed before older ones of higher priority") {
  const std::size_t s = blob_size();
  core::hub_options o;
  o.queue_soft_bytes = 2 * s;
  hub_test t(o);
  const auto a = t.open("alice");
  t.hub->send(a, blob_env('a', p2));
  t.hub->send(a, blob_env('b', p3));
  t.hub->send(a, blob_env('c', p4));  // itself the only priority-4 frame: shed at once
  CHECK(tags(t.pop_all(a)) == "ab");
  CHECK(t.hub->metrics().dropped_by_type.at("blob")[4] == 1);
}

TEST_CASE("past the hard limit the session is closed with 1008 and its queue discarded") {
  const std::size_t s = blob_size();
  core::hub_options o;
  o.queue_soft_bytes = 2 * s;
  o.queue_hard_bytes = 4 * s;
  hub_test t(o);
  const auto a = t.open("alice");
  const auto b = t.open("bob");
  for (char tag : std::string("abcd")) CHECK(t.hub->send(a, blob_env(tag, p2)) == 1);
  CHECK(t.transport.closes.empty());
  CHECK(t.hub->send(a, blob_env('e', p2)) == 0);  // 5 frames: past the hard limit
  const close_call c = t.transport.close_of(a);
  CHECK(c.code == proto::close_code::policy_violation);
  CHECK(c.reason == "slow consumer");
  CHECK(t.hub->queued_bytes(a) == 0);
  CHECK(t.hub->pop(a) == nullptr);
  CHECK(t.hub->metrics().queue_bytes == 0);
  CHECK(t.hub->metrics().messages_dropped == 0);  // discarded, not shed

  // Nothing more is queued for it, nor is it closed twice; its requests are ignored.
  CHECK(t.hub->send(a, blob_env('f', p0)) == 0);
  t.send(a, join_req("lobby", "j"));
  CHECK(t.hub->pop(a) == nullptr);
  CHECK(t.transport.closes.size() == 1);
  CHECK(t.hub->metrics().connections == 2);  // until the transport reports it closed
  t.hub->closed(a, proto::close_code::policy_violation);
  CHECK(t.hub->metrics().connections == 1);
  CHECK(t.hub->metrics().closes_by_code.at(1008) == 1);

  // Bob was never affected.
  CHECK(t.hub->send(b, blob_env('g', p2)) == 1);
  CHECK(tags(t.pop_all(b)) == "g");
}

TEST_CASE("the transport's backlog counts towards both limits") {
  const std::size_t s = blob_size();
  core::hub_options o;
  o.queue_soft_bytes = 3 * s;
  o.queue_hard_bytes = 5 * s;
  hub_test t(o);
  const auto a = t.open("alice");
  t.hub->send(a, blob_env('a', p4));
  t.hub->send(a, blob_env('b', p4));
  t.hub->send(a, blob_env('c', p2));
  t.hub->set_backlog(a, s);  // 4 frames' worth: the oldest priority-4 frame goes
  CHECK(t.hub->queued_bytes(a) == 3 * s);
  CHECK(t.hub->metrics().queue_bytes == 3 * s);
  CHECK(t.hub->metrics().messages_dropped == 1);
  t.hub->set_backlog(a, 4 * s);  // 6 frames' worth: b is shed; 5 is not past the hard limit
  CHECK(t.hub->metrics().messages_dropped == 2);
  CHECK(t.transport.closes.empty());
  t.hub->set_backlog(a, 5 * s);  // 6 frames' worth, nothing left to shed
  CHECK(t.hub->metrics().messages_dropped == 2);
  CHECK(t.transport.close_of(a).code == proto::close_code::policy_violation);
}

TEST_CASE("one slow session never affects the others") {
  core::hub_options o = unlimited();
  o.queue_soft_bytes = 4096;
  o.queue_hard_bytes = 16384;
  hub_test t(o);
  const auto sender = t.member("sam", "lobby");
  const auto fast = t.member("fred", "lobby");
  const auto slow = t.member("sloth", "lobby");
  const std::string text(200, 'x');

  std::vector<std::int64_t> fast_seqs;
  for (int i = 1; i <= 300; ++i) {
    // Background chatter first, then normal messages.
    const int priority = i <= 100 ? 4 : 2;
    t.send(sender, chat_req("lobby", text, "c" + std::to_string(i), priority));
    for (const auto& r : t.pop_all(fast)) {
      fast_seqs.push_back(r.as<proto::chat_delivery>().payload.seq);
    }
    CHECK(expect_ack(t.pop_one(sender), "c" + std::to_string(i)).seq == i);
  }
  // The fast session got everything, in order.
  REQUIRE(fast_seqs.size() == 300);
  for (std::size_t i = 0; i < fast_seqs.size(); ++i)
    CHECK(fast_seqs[i] == static_cast<std::int64_t>(i + 1));
  // The slow one shed its background messages, then was closed.
  CHECK(t.transport.close_of(slow).code == proto::close_code::policy_violation);
  CHECK(t.transport.closes_for(fast) == 0);
  CHECK(t.transport.closes_for(sender) == 0);
  const auto m = t.hub->metrics();
  CHECK(m.dropped_by_type.at("message")[4] >= 80);
  CHECK(m.dropped_by_type.at("message")[2] == 0);
}

TEST_CASE("messagesOut counts popped frames by type and priority") {
  hub_test t;
  const auto a = t.open("alice");
  t.hub->send(a, blob_env('a', p1));
  t.hub->send(a, blob_env('b', p1));
  t.hub->send(a, blob_env('c', p3));
  CHECK(t.hub->metrics().messages_out == 0);
  t.hub->pop(a);
  CHECK(t.hub->metrics().messages_out == 1);
  t.pop_all(a);
  const auto m = t.hub->metrics();
  CHECK(m.messages_out == 3);
  CHECK(m.out_by_type.at("blob")[1] == 2);
  CHECK(m.out_by_type.at("blob")[3] == 1);
}
