#pragma once

// One line of roomwire-chat's standard input, as a command (PROTOCOL.md §9).

#include <string>
#include <string_view>

namespace roomwire_chat {

struct command {
  enum class kind { join, leave, assign, task, quit, text, invalid };
  kind what = kind::text;
  std::string room;     // join, leave
  std::string task;     // assign, task
  std::string user;     // assign
  int priority = 2;     // assign, 0-4
  std::string status;   // task
  double progress = 0;  // task, 0-100
  std::string text;     // text: the line; invalid: what is wrong (a usage line)
};

// `line` has no line terminator (a trailing '\r' is ignored).
command parse_line(std::string_view line);

}  // namespace roomwire_chat
