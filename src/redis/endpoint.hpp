#pragma once

// Where the Redis server is: what `redis_options::url` says, checked once at make_broker().

#include <cstdint>
#include <string>
#include <string_view>

namespace roomwire::redis::detail {

struct endpoint {
  std::string host;  // an address or a name, without IPv6 brackets
  std::uint16_t port = 6379;
  int db = 0;

  // "host:port" (or "[v6]:port") for log lines.
  std::string describe() const;
};

// Parses redis://host[:port][/db]. Throws std::invalid_argument naming what is wrong.
endpoint parse_url(std::string_view url);

}  // namespace roomwire::redis::detail
