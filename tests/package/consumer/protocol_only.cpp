// The protocol layer on its own: linked to roomwire::protocol only, which needs RapidJSON and
// no networking library.

#include <cstdio>
#include <string>

#include <roomwire/protocol.hpp>

#if ROOMWIRE_EXPECT_CXX >= 20
static_assert(__cplusplus >= 202002L, "expected to be compiled as C++20");
#else
static_assert(__cplusplus >= 201703L, "expected to be compiled as C++17");
#endif

int main() {
  namespace rp = roomwire::protocol;
  rp::inbound_frame frame;
  if (!frame.parse(R"({"type":"joinRoom","payload":{"roomId":"lobby"},"messageId":"c-1"})") ||
      frame.type() != rp::join_room::type) {
    std::fprintf(stderr, "parse failed: %s %s\n", frame.error().path.c_str(),
                 frame.error().reason.c_str());
    return 1;
  }
  rp::envelope<rp::join_room> join;
  if (!frame.decode(join) || join.payload.room_id != "lobby") {
    std::fprintf(stderr, "decode failed: %s %s\n", frame.error().path.c_str(),
                 frame.error().reason.c_str());
    return 1;
  }
  const std::string wire = rp::encode(join);
  const bool refused = !rp::decode<rp::join_room>(R"({"type":"joinRoom","payload":{}})");
  std::printf("%s\n", wire.c_str());
  return refused ? 0 : 1;
}
