// roomwire/redis.hpp on its own: no hiredis, no websocketpp, no private header.
#include "roomwire/redis.hpp"

namespace {
[[maybe_unused]] const auto make = &roomwire::redis::make_broker;
[[maybe_unused]] const roomwire::redis::redis_options defaults{};
}  // namespace
