#pragma once

// The command line of roomwire-server (PROTOCOL.md §9), turned into server options.

#include <string>
#include <vector>

#include "roomwire/server.hpp"

namespace roomwire_server {

struct command_line {
  roomwire::server_options server;
  std::string redis_url;  // non-empty: the Redis broker (scale-out)
  std::string node_id;
  bool demo_mode = true;  // no --tokens: every well-formed token is its own userId
  bool help = false;
};

// Parses argv (without argv[0]) and reads the files it names. On failure returns false and sets
// `error` to a one-line message.
bool parse(const std::vector<std::string>& args, command_line& out, std::string& error);

// The usage text (for --help).
const char* usage();

}  // namespace roomwire_server
