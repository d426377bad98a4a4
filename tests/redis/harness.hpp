#pragma once

// Brokers as "nodes" of a cluster on one io_context, each attached to a listener that records
// what its hub would have been told. Tests drive the io_context until the event they wait for
// (run_until), never for a fixed time.

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <asio/io_context.hpp>

#include "roomwire/core/broker.hpp"
#include "roomwire/redis.hpp"

namespace roomwire_test {

using namespace std::chrono_literals;

struct delivery {
  std::string room;
  std::array<std::string, 2> users;
  roomwire::core::session_id except = 0;
  roomwire::core::frame_ptr f;
};

class recording_listener final : public roomwire::core::broker::listener {
 public:
  void deliver(const roomwire::core::audience& to, const roomwire::core::frame_ptr& f) override;
  void availability_changed(bool available) override { availability.push_back(available); }

  std::vector<delivery> deliveries;
  std::vector<bool> availability;  // every call, in order
};

// A broker attached to a recording listener; detached by the destructor.
struct node {
  node(asio::io_context& io, std::string url, std::string name, std::string prefix,
       roomwire::core::hub_options limits = {},
       const std::function<void(roomwire::redis::redis_options&)>& tweak = {});
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  bool available() const { return !hub.availability.empty() && hub.availability.back(); }
  // The chat deliveries' seqs, in arrival order.
  std::vector<std::int64_t> seqs() const;
  bool logged(std::string_view fragment) const;

  std::string name;
  recording_listener hub;
  std::shared_ptr<std::vector<std::string>> log_lines =
      std::make_shared<std::vector<std::string>>();
  std::shared_ptr<roomwire::core::broker> broker;
};

// Runs the io_context until `done()` holds; fails with `what` after `limit`.
void run_until(asio::io_context& io, const std::function<bool()>& done, std::string_view what,
               std::chrono::milliseconds limit = 10s);

// A prefix no other test uses.
std::string unique_prefix();

// A chat commit as the hub would make it; the delivery's text is a whole `message` envelope.
struct chat {
  std::string room = "lobby";
  std::string user = "alice";
  std::string message_id = "m-1";
  bool client_id = true;
  roomwire::core::session_id origin = 7;
  std::string content = "hello s3cret";  // the suite's log check looks for s3cret
  std::int64_t timestamp = 1764489600000;
  roomwire::protocol::priority priority = roomwire::protocol::priority::normal;
};

struct commit_slot {
  bool done = false;
  roomwire::core::commit_result result;
};

// Calls commit_chat with the chat's head and tail.
bool commit_with(roomwire::core::broker& b, const chat& c,
                 roomwire::core::broker::commit_done done);
// Calls commit_chat; the slot fills when `done` is called.
std::shared_ptr<commit_slot> commit(roomwire::core::broker& b, const chat& c);
// Commits and runs the io_context until it is answered.
roomwire::core::commit_result commit_and_wait(asio::io_context& io, roomwire::core::broker& b,
                                              const chat& c);

// Recovers and runs the io_context until it is answered.
roomwire::core::recovery recover_and_wait(asio::io_context& io, roomwire::core::broker& b,
                                          std::string_view room, std::int64_t since);

// The "seq" of a delivered message envelope (-1 when it has none).
std::int64_t seq_of(const roomwire::core::frame& f);

roomwire::core::frame_ptr make_frame(
    std::string text, std::string_view type,
    roomwire::protocol::priority p = roomwire::protocol::priority::normal);

}  // namespace roomwire_test
