#pragma once

// The command line of roomwire-chat (PROTOCOL.md §9).

#include <string>
#include <vector>

namespace roomwire_chat {

struct command_line {
  std::string url;
  std::string token;
  std::vector<std::string> rooms;  // joined in this order; the last is where text goes
  bool json = false;               // print every envelope exactly as received
  bool help = false;
};

// Parses argv (without argv[0]). On failure returns false and sets `error` to a one-line message.
bool parse(const std::vector<std::string>& args, command_line& out, std::string& error);

const char* usage();

}  // namespace roomwire_chat
