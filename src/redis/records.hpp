#pragma once

// The byte layouts the broker shares with other nodes, through the bus channel and through
// values kept in Redis. Each field is "<decimal length>:<bytes>" (a netstring without its
// comma), so that neither side has to parse JSON or escape anything, and the Lua scripts
// (scripts.hpp) can build the same records with string concatenation. A bus record is one
// letter, the record kind, followed by its fields.
//
//   M  chat delivery (commit script): origin node, origin session, priority, room, sender,
//      messageId, timestamp, seq, dedup flag ("1": the client chose the messageId), frame text
//   R  replay (recover script): node, token, complete ("1"/"0"), the first entry's seq (the
//      room's last seq + 1 when there is none), the room's last seq, count, then count history
//      entries (seqs first, first + 1, …)
//   P  host push (publish): origin node, priority, type, room, user 1, user 2, frame text
//   T  task record: origin node, then the fields of encode_task()
//   D  dedup entry: origin node, user, messageId, then the fields of a kept acknowledgement
//
// A history entry is the priority digit followed by the frame text. A deferred taskAssign is
// task id, priority, type, frame text. A kept acknowledgement (dedup:… keys) is room, seq (""
// when none), timestamp.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "roomwire/core/options.hpp"
#include "roomwire/core/types.hpp"
#include "roomwire/protocol/codes.hpp"
#include "roomwire/protocol/messages.hpp"

namespace roomwire::redis::detail {

void append_field(std::string& out, std::string_view value);
void append_field(std::string& out, std::int64_t value);
void append_field(std::string& out, std::uint64_t value);

// Reads fields in order. Every read checks the bounds; after the first failure every further
// read fails too, so a caller can read a whole record and test ok() once.
class field_reader {
 public:
  explicit field_reader(std::string_view text) : rest_(text) {}

  std::string_view text();
  std::int64_t integer();
  std::uint64_t unsigned_integer();
  protocol::priority priority();
  bool flag();  // "1" or "0"

  bool ok() const noexcept { return ok_; }
  bool at_end() const noexcept { return rest_.empty(); }
  // What has not been read yet.
  std::string_view rest() const noexcept { return rest_; }
  // ok() and nothing left over.
  bool finished() const noexcept { return ok_ && rest_.empty(); }

 private:
  std::string_view rest_;
  bool ok_ = true;
};

std::string_view priority_text(protocol::priority p);

// The wire tag as static storage (frame::type must point to it): the built-in types map to
// their own tag, anything else to "custom".
std::string_view static_type(std::string_view type);

std::string encode_task(const core::task_info& task);
std::optional<core::task_info> decode_task(field_reader& in);

std::string encode_ack(const protocol::message_received& ack);
// The acknowledgement kept for (user, messageId), from the fields of encode_ack().
std::optional<protocol::message_received> decode_ack(std::string_view text,
                                                     std::string_view user_id,
                                                     std::string_view message_id);

// A frame as a history entry or deferred entry stores it: priority and text.
core::frame_ptr make_frame(std::string text, protocol::priority priority, std::string_view type);

}  // namespace roomwire::redis::detail
