#include <catch2/catch.hpp>

#include "roomwire/protocol.hpp"

using namespace roomwire::protocol;

TEST_CASE("a joinRoom frame decodes and encodes back") {
  const auto r = decode<join_room>(R"({"type":"joinRoom","payload":{"roomId":"lobby"}})");
  REQUIRE(r);
  CHECK(r->payload.room_id == "lobby");
  CHECK(
      encode(*r) ==
      R"({"type":"joinRoom","payload":{"roomId":"lobby"},"timestamp":0,"messageId":"","priority":2})");
}
