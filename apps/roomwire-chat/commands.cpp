#include "commands.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <vector>

namespace roomwire_chat {

namespace {

std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    std::size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t') ++j;
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

command invalid(std::string usage) {
  command c;
  c.what = command::kind::invalid;
  c.text = "usage: " + std::move(usage);
  return c;
}

bool parse_number(const std::string& s, double& out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return errno == 0 && end == s.c_str() + s.size() && std::isfinite(out);
}

}  // namespace

command parse_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  command c;
  if (line.empty() || line.front() != '/') {
    c.text = std::string(line);
    return c;
  }
  const auto w = words(line);
  const std::string& verb = w.front();
  if (verb == "/join" || verb == "/leave") {
    if (w.size() != 2) return invalid(verb + " ROOM");
    c.what = verb == "/join" ? command::kind::join : command::kind::leave;
    c.room = w[1];
    return c;
  }
  if (verb == "/assign") {
    double p = 0;
    if (w.size() != 4 || !parse_number(w[3], p) || p != std::floor(p) || p < 0 || p > 4) {
      return invalid("/assign TASK USER PRIORITY (priority 0-4)");
    }
    c.what = command::kind::assign;
    c.task = w[1];
    c.user = w[2];
    c.priority = static_cast<int>(p);
    return c;
  }
  if (verb == "/task") {
    double p = 0;
    if (w.size() != 4 || !parse_number(w[3], p) || p < 0 || p > 100) {
      return invalid("/task TASK STATUS PROGRESS (progress 0-100)");
    }
    c.what = command::kind::task;
    c.task = w[1];
    c.status = w[2];
    c.progress = p;
    return c;
  }
  if (verb == "/quit" && w.size() == 1) {
    c.what = command::kind::quit;
    return c;
  }
  // Any other line, slash or not, is text (§9).
  c.text = std::string(line);
  return c;
}

}  // namespace roomwire_chat
