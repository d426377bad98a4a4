// A host application's own message type, defined with the same field table as roomwire's
// built-in messages: a plain struct, its wire tag, and a table of its fields with their limits.
// Encodes one, decodes it back, and shows what a malformed one is refused with.

#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "roomwire/protocol.hpp"

namespace rp = roomwire::protocol;

// `cursorMove`: where a user's pointer is on a shared canvas.
struct cursor_move {
  static constexpr std::string_view type = "cursorMove";
  std::string room_id;
  double x = 0;  // 0..1, a fraction of the canvas width
  double y = 0;
  std::optional<std::string> color;  // absent: the client picks one

  static constexpr auto fields() {
    using rp::field;
    return rp::fields(field("roomId", &cursor_move::room_id).chars(1, rp::max_id_chars),
                      field("x", &cursor_move::x).range(0, 1),
                      field("y", &cursor_move::y).range(0, 1),
                      field("color", &cursor_move::color).chars(1, 32));
  }
};

int main() {
  rp::envelope<cursor_move> move;
  move.payload = {"canvas-1", 0.25, 0.5, "#ff8800"};
  move.message_id = "c-42";
  move.priority = rp::priority::background;  // shed first when a client falls behind

  const std::string wire = rp::encode(move);
  std::printf("sent     %s\n", wire.c_str());

  // A server reads the frame once and dispatches on its type.
  rp::inbound_frame frame;
  if (!frame.parse(wire) || frame.type() != rp::type_of<cursor_move>()) return 1;
  rp::envelope<cursor_move> received;
  if (!frame.decode(received)) return 1;
  std::printf("received %s at (%g, %g) in %s\n", received.payload.color.value_or("?").c_str(),
              received.payload.x, received.payload.y, received.payload.room_id.c_str());

  // Out of range: refused with a JSON Pointer and a reason, ready for an `error` 4002.
  const auto bad = rp::decode<cursor_move>(
      R"({"type":"cursorMove","payload":{"roomId":"canvas-1","x":1.5,"y":0}})");
  std::printf("refused  %s: %s\n", bad.error.path.c_str(), bad.error.reason.c_str());
  return bad ? 1 : 0;
}
