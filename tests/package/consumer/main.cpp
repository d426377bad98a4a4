// A program that uses roomwire as a user would: every public header, then a joinRoom frame
// encoded and decoded back.

#include <cstdio>
#include <string>

#include <roomwire/protocol.hpp>

#include "roomwire_all_headers.hpp"  // generated: every header under include/roomwire/

#if ROOMWIRE_EXPECT_CXX >= 20
static_assert(__cplusplus >= 202002L, "expected to be compiled as C++20");
#else
static_assert(__cplusplus >= 201703L, "expected to be compiled as C++17");
#endif

int main() {
  namespace rp = roomwire::protocol;
  rp::envelope<rp::join_room> join;
  join.payload.room_id = "lobby";
  join.message_id = "c-1";
  const std::string wire = rp::encode(join);

  const auto back = rp::decode<rp::join_room>(wire);
  if (!back || back->payload.room_id != "lobby" || back->message_id != "c-1") {
    std::fprintf(stderr, "round trip failed: %s %s\n", back.error.path.c_str(),
                 back.error.reason.c_str());
    return 1;
  }
  std::printf("roomwire %s (C++%ld): %s\n", roomwire::version_string,
              static_cast<long>(__cplusplus / 100 % 100), wire.c_str());
  return 0;
}
