#include "options.hpp"

namespace roomwire_chat {

const char* usage() {
  return "usage: roomwire-chat --url URL --token TOKEN [--room R ...] [--json]\n"
         "\n"
         "Joins every --room, then reads standard input line by line:\n"
         "  /join R                      join room R (text then goes to R)\n"
         "  /leave R                     leave room R\n"
         "  /assign TASK USER PRIORITY   assign TASK to USER (priority 0-4)\n"
         "  /task TASK STATUS PROGRESS   update TASK (progress 0-100)\n"
         "  /quit                        wait for acknowledgements (at most 5 s), close, exit\n"
         "  anything else                a text message to the most recently joined room\n"
         "\n"
         "Every envelope received goes to standard output, one per line (--json: exactly as\n"
         "received); connection events go to standard error. Reconnects with back-off.\n"
         "Exit status: 0 after end of input or /quit, 1 when the connection is lost for good\n"
         "(gave up reconnecting, authentication refused, closed by the server), 2 for a bad\n"
         "command line.\n";
}

bool parse(const std::vector<std::string>& args, command_line& out, std::string& error) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::string value;
    bool has_value = false;
    if (const auto eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
      has_value = true;
    }
    const auto take = [&](std::string& into) {
      if (!has_value) {
        if (i + 1 >= args.size()) {
          error = flag + " needs a value";
          return false;
        }
        value = args[++i];
      }
      into = value;
      return true;
    };
    if (flag == "--help" || flag == "-h") {
      out.help = true;
    } else if (flag == "--json" && !has_value) {
      out.json = true;
    } else if (flag == "--url") {
      if (!take(out.url)) return false;
    } else if (flag == "--token") {
      if (!take(out.token)) return false;
    } else if (flag == "--room") {
      std::string room;
      if (!take(room)) return false;
      if (room.empty()) {
        error = "--room needs a room id";
        return false;
      }
      out.rooms.push_back(room);
    } else {
      error = "unknown argument: " + args[i] + " (see --help)";
      return false;
    }
  }
  if (out.help) return true;
  if (out.url.empty()) {
    error = "--url is required (see --help)";
    return false;
  }
  if (out.url.rfind("ws://", 0) != 0 && out.url.rfind("wss://", 0) != 0) {
    error = "--url must start with ws:// or wss://";
    return false;
  }
  if (out.token.empty()) {
    error = "--token is required (see --help)";
    return false;
  }
  return true;
}

}  // namespace roomwire_chat
