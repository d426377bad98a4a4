#pragma once

#include <cstdint>
#include <string>

#include "roomwire/protocol/codes.hpp"

namespace roomwire::protocol {

// Every frame of the protocol: a typed payload and the envelope fields of PROTOCOL.md §2.
template <class Payload>
struct envelope {
  Payload payload{};
  std::int64_t timestamp = 0;  // ms since the Unix epoch; 0 when a client left it out
  std::string message_id;      // empty when a client left it out
  protocol::priority priority = protocol::priority::normal;
};

}  // namespace roomwire::protocol
