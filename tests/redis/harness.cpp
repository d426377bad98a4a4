#include "harness.hpp"

#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <utility>

#include "suite_log.hpp"

namespace roomwire_test {

void recording_listener::deliver(const roomwire::core::audience& to,
                                 const roomwire::core::frame_ptr& f) {
  delivery d;
  d.room.assign(to.room_id);
  d.users = {std::string(to.user_ids[0]), std::string(to.user_ids[1])};
  d.except = to.except;
  d.f = f;
  deliveries.push_back(std::move(d));
}

node::node(asio::io_context& io, std::string url, std::string node_name, std::string prefix,
           roomwire::core::hub_options limits,
           const std::function<void(roomwire::redis::redis_options&)>& tweak)
    : name(std::move(node_name)) {
  roomwire::redis::redis_options o;
  o.url = std::move(url);
  o.prefix = std::move(prefix);
  o.node_id = name;
  o.reconnect_min_ms = 50;
  o.reconnect_max_ms = 400;
  o.log = [lines = log_lines, origin = "redis broker " + name](std::string_view line) {
    lines->emplace_back(line);
    suite_log(origin, line);
  };
  if (tweak) tweak(o);
  broker = roomwire::redis::make_broker(
      io, [](const std::function<void()>& fn) { fn(); }, std::move(o));
  broker->attach(hub, limits);
}

node::~node() { broker->detach(); }

std::vector<std::int64_t> node::seqs() const {
  std::vector<std::int64_t> out;
  for (const delivery& d : hub.deliveries) {
    if (d.f->type == "message") out.push_back(seq_of(*d.f));
  }
  return out;
}

bool node::logged(std::string_view fragment) const {
  for (const std::string& line : *log_lines) {
    if (line.find(fragment) != std::string::npos) return true;
  }
  return false;
}

void run_until(asio::io_context& io, const std::function<bool()>& done, std::string_view what,
               std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      FAIL("timed out after " << limit.count() << " ms waiting for: " << what);
    }
    if (io.stopped()) io.restart();
    io.run_one_for(10ms);
  }
}

std::string unique_prefix() {
  static std::atomic<int> counter{0};
  return "rwtest" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

bool commit_with(roomwire::core::broker& b, const chat& c,
                 roomwire::core::broker::commit_done done) {
  const std::string head = R"({"type":"message","messageId":")" + c.message_id +
                           R"(","timestamp":)" + std::to_string(c.timestamp) + R"(,"priority":)" +
                           std::to_string(static_cast<int>(c.priority)) +
                           R"(,"payload":{"roomId":")" + c.room + R"(","content":")" + c.content +
                           R"(","metadata":{"type":"text"},"senderId":")" + c.user + R"(","seq":)";
  const std::string tail = "}}";
  roomwire::core::chat_commit cc;
  cc.room_id = c.room;
  cc.user_id = c.user;
  cc.message_id = c.message_id;
  cc.client_id = c.client_id;
  cc.origin = c.origin;
  cc.priority = c.priority;
  cc.timestamp = c.timestamp;
  cc.now_ms = 1000;
  cc.head = head;
  cc.tail = tail;
  return b.commit_chat(cc, std::move(done));
}

std::shared_ptr<commit_slot> commit(roomwire::core::broker& b, const chat& c) {
  auto slot = std::make_shared<commit_slot>();
  const bool taken = commit_with(b, c, [slot](const roomwire::core::commit_result& r) {
    REQUIRE_FALSE(slot->done);  // exactly once
    slot->done = true;
    slot->result = r;
  });
  REQUIRE(taken);
  return slot;
}

roomwire::core::commit_result commit_and_wait(asio::io_context& io, roomwire::core::broker& b,
                                              const chat& c) {
  const auto slot = commit(b, c);
  run_until(
      io, [&] { return slot->done; }, "the commit's answer");
  return slot->result;
}

roomwire::core::recovery recover_and_wait(asio::io_context& io, roomwire::core::broker& b,
                                          std::string_view room, std::int64_t since) {
  std::optional<roomwire::core::recovery> got;
  b.recover(room, since, [&](roomwire::core::recovery r) {
    REQUIRE_FALSE(got);
    got = std::move(r);
  });
  run_until(
      io, [&] { return got.has_value(); }, "the recovery");
  return std::move(*got);
}

std::int64_t seq_of(const roomwire::core::frame& f) {
  const std::string_view text = f.text;
  const std::size_t at = text.rfind(R"("seq":)");
  if (at == std::string_view::npos) return -1;
  std::int64_t seq = 0;
  for (std::size_t i = at + 6; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    seq = seq * 10 + (text[i] - '0');
  }
  return seq;
}

roomwire::core::frame_ptr make_frame(std::string text, std::string_view type,
                                     roomwire::protocol::priority p) {
  auto f = std::make_shared<roomwire::core::frame>();
  f->text = std::move(text);
  f->type = type;
  f->priority = p;
  return f;
}

}  // namespace roomwire_test
