#include "endpoint.hpp"

#include <charconv>
#include <stdexcept>

namespace roomwire::redis::detail {

namespace {

[[noreturn]] void reject(std::string_view url, std::string_view why) {
  throw std::invalid_argument("roomwire::redis: bad url \"" + std::string(url) +
                              "\": " + std::string(why));
}

// A whole decimal number in [0, max]; false for anything else (sign, spaces, overflow).
bool parse_number(std::string_view text, long max, long& out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && out >= 0 && out <= max;
}

}  // namespace

std::string endpoint::describe() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

endpoint parse_url(std::string_view url) {
  constexpr std::string_view scheme = "redis://";
  if (url.substr(0, scheme.size()) != scheme) reject(url, "it must start with redis://");
  std::string_view rest = url.substr(scheme.size());

  endpoint where;
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    long db = 0;
    const std::string_view path = rest.substr(slash + 1);
    if (!path.empty() && !parse_number(path, 1 << 20, db)) {
      reject(url, "the database after '/' must be a number");
    }
    where.db = static_cast<int>(db);
  }
  // Credentials would end up in log lines and the process list: not supported here.
  if (authority.find('@') != std::string_view::npos) reject(url, "credentials are not supported");
  if (authority.find_first_of("?#") != std::string_view::npos) {
    reject(url, "query strings are not supported");
  }

  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) reject(url, "an IPv6 address needs a closing ']'");
    where.host.assign(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') reject(url, "expected ':' after ']'");
    if (!after.empty()) port_text = after.substr(1);
    if (after == ":") reject(url, "the port is empty");
  } else {
    const std::size_t colon = authority.find(':');
    where.host.assign(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) reject(url, "the port is empty");
    }
  }
  if (where.host.empty()) reject(url, "the host is empty");
  if (!port_text.empty()) {
    long port = 0;
    if (!parse_number(port_text, 65535, port) || port == 0) {
      reject(url, "the port must be a number from 1 to 65535");
    }
    where.port = static_cast<std::uint16_t>(port);
  }
  // The resolver may list ::1 first, and hiredis gives up after the first refused address:
  // a server bound to 127.0.0.1 only would never be reached.
  if (where.host == "localhost") where.host = "127.0.0.1";
  return where;
}

}  // namespace roomwire::redis::detail
