#include "options.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <system_error>
#include <unordered_map>

namespace roomwire_server {

namespace {

using roomwire::core::identity;

std::vector<std::string> split_list(std::string_view text, char sep) {
  std::vector<std::string> out;
  while (true) {
    const auto at = text.find(sep);
    const std::string_view item = text.substr(0, at);
    if (!item.empty()) out.emplace_back(item);
    if (at == std::string_view::npos) break;
    text.remove_prefix(at + 1);
  }
  return out;
}

template <class T>
bool parse_integer(const std::string& text, T min, T max, T& out) {
  T value{};
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || value < min || value > max) return false;
  out = value;
  return true;
}

bool parse_number(const std::string& text, double min, double& out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text.c_str(), &end);
  if (errno != 0 || end != text.c_str() + text.size() || !std::isfinite(value) || value < min) {
    return false;
  }
  out = value;
  return true;
}

// "TOKEN USERID [ROLE ...]" per line; '#' starts a comment.
bool read_tokens(const std::string& file, std::unordered_map<std::string, identity>& tokens,
                 std::string& error) {
  std::ifstream in(file);
  if (!in) {
    error = "cannot read tokens file " + file + ": " + std::strerror(errno);
    return false;
  }
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::istringstream words(line);
    std::string token;
    if (!(words >> token)) continue;
    identity who;
    if (!(words >> who.user_id)) {
      error = file + ":" + std::to_string(number) + ": expected \"TOKEN USERID [ROLE ...]\"";
      return false;
    }
    for (std::string role; words >> role;) who.roles.push_back(role);
    if (!tokens.emplace(token, std::move(who)).second) {
      error = file + ":" + std::to_string(number) + ": the same token appears twice";
      return false;
    }
  }
  if (in.bad()) {
    error = "cannot read tokens file " + file;
    return false;
  }
  return true;
}

bool readable_file(const std::string& file, std::string& error, const char* what) {
  std::ifstream in(file);
  if (!in) {
    error = std::string("cannot read ") + what + " " + file + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace

const char* usage() {
  return "usage: roomwire-server [--host 127.0.0.1] [--port 9002] [--path /api/ws]\n"
         "  [--tokens FILE]          lines \"TOKEN USERID [ROLE ...]\"; '#' starts a comment.\n"
         "                           Without it, demo mode: any token of 1-64 chars\n"
         "                           [A-Za-z0-9_.-] is its own userId\n"
         "  [--rooms a,b,c]          pre-declared rooms; without it rooms are created on join\n"
         "  [--acl ROOM=USER,USER]   who may join ROOM (repeatable); 'system' messages need\n"
         "                           role admin\n"
         "  [--rate N] [--burst M]   per-session rate limit (messages/s, bucket size)\n"
         "  [--max-message-bytes N] [--health-interval-ms N] [--ping-interval-ms N]\n"
         "  [--pong-timeout-ms N] [--queue-soft-bytes N] [--queue-hard-bytes N] [--threads N]\n"
         "  [--static DIR]           serve the files below DIR over HTTP GET\n"
         "  [--tls-cert FILE --tls-key FILE]  wss:// with this PEM certificate chain and key\n"
         "  [--allow-origin ORIGIN]  accept browser handshakes only from ORIGIN (repeatable)\n"
         "  [--max-connections N]    refuse handshakes past N open connections (HTTP 503)\n"
         "  [--handshake-timeout-ms N]  drop a connection whose upgrade takes longer (5000)\n"
         "  [--pace-readers]         pace a client that is behind by its pongs, so that\n"
         "                           priority 0 overtakes more of its backlog\n"
         "  [--room-history N]       messages each room keeps for rejoins with since (256;\n"
         "                           0 keeps none)\n"
         "  [--redis URL]            share rooms and tasks with other nodes through Redis\n"
         "                           (redis://HOST:PORT[/DB])\n"
         "  [--node NAME]            this node's name in the cluster view (default: random)\n"
         "  [--log-level debug|info|warning|error]\n";
}

bool parse(const std::vector<std::string>& args, command_line& out, std::string& error) {
  roomwire::server_options& o = out.server;
  std::string tokens_file;
  std::map<std::string, std::set<std::string, std::less<>>, std::less<>> acl;
  std::optional<std::set<std::string, std::less<>>> rooms;
  std::string tls_cert;
  std::string tls_key;

  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::optional<std::string> inline_value;
    if (const auto eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = flag.substr(eq + 1);
      flag.erase(eq);
    }
    if (flag == "--help" || flag == "-h") {
      out.help = true;
      return true;
    }
    const auto value = [&](std::string& v) {
      if (inline_value) {
        v = *inline_value;
        return true;
      }
      if (i + 1 >= args.size()) {
        error = flag + " needs a value";
        return false;
      }
      v = args[++i];
      return true;
    };
    const auto bad = [&](const std::string& v, const char* expected) {
      error = flag + ": expected " + expected + ", got \"" + v + "\"";
      return false;
    };
    std::string v;
    if (flag == "--host") {
      if (!value(v)) return false;
      if (v.empty()) return bad(v, "a host name or address");
      o.host = v;
    } else if (flag == "--port") {
      if (!value(v)) return false;
      if (!parse_integer<std::uint16_t>(v, 0, 65535, o.port)) return bad(v, "a port 0-65535");
    } else if (flag == "--path") {
      if (!value(v)) return false;
      if (v.empty() || v.front() != '/' || v.find('?') != std::string::npos) {
        return bad(v, "a path starting with '/'");
      }
      o.path = v;
    } else if (flag == "--tokens") {
      if (!value(v)) return false;
      tokens_file = v;
    } else if (flag == "--rooms") {
      if (!value(v)) return false;
      rooms.emplace();
      for (auto& room : split_list(v, ',')) rooms->insert(std::move(room));
    } else if (flag == "--acl") {
      if (!value(v)) return false;
      const auto eq = v.find('=');
      if (eq == std::string::npos || eq == 0) return bad(v, "ROOM=USER,USER");
      auto& users = acl[v.substr(0, eq)];
      for (auto& user : split_list(std::string_view(v).substr(eq + 1), ',')) {
        users.insert(std::move(user));
      }
    } else if (flag == "--rate") {
      if (!value(v)) return false;
      if (!parse_number(v, 0, o.hub.rate_per_second) || o.hub.rate_per_second <= 0) {
        return bad(v, "a positive number");
      }
    } else if (flag == "--burst") {
      if (!value(v)) return false;
      if (!parse_number(v, 1, o.hub.burst)) return bad(v, "a number >= 1");
    } else if (flag == "--max-message-bytes") {
      if (!value(v)) return false;
      if (!parse_integer<std::size_t>(v, 1, std::size_t(1) << 30, o.max_message_bytes)) {
        return bad(v, "a byte count >= 1");
      }
    } else if (flag == "--health-interval-ms") {
      if (!value(v)) return false;
      if (!parse_integer<std::int64_t>(v, 1, INT64_C(1) << 40, o.hub.health_interval_ms)) {
        return bad(v, "milliseconds >= 1");
      }
    } else if (flag == "--ping-interval-ms") {
      if (!value(v)) return false;
      if (!parse_integer<std::int64_t>(v, 1, INT64_C(1) << 31, o.ping_interval_ms)) {
        return bad(v, "milliseconds >= 1");
      }
    } else if (flag == "--pong-timeout-ms") {
      if (!value(v)) return false;
      if (!parse_integer<std::int64_t>(v, 1, INT64_C(1) << 31, o.pong_timeout_ms)) {
        return bad(v, "milliseconds >= 1");
      }
    } else if (flag == "--pace-readers") {
      o.pace_readers = true;
    } else if (flag == "--handshake-timeout-ms") {
      if (!value(v)) return false;
      if (!parse_integer<std::int64_t>(v, 1, INT64_C(1) << 31, o.handshake_timeout_ms)) {
        return bad(v, "milliseconds >= 1");
      }
    } else if (flag == "--queue-soft-bytes") {
      if (!value(v)) return false;
      if (!parse_integer<std::size_t>(v, 1, SIZE_MAX, o.hub.queue_soft_bytes)) {
        return bad(v, "a byte count >= 1");
      }
    } else if (flag == "--room-history") {
      if (!value(v)) return false;
      if (!parse_integer<std::size_t>(v, 0, 1000000, o.hub.room_history)) {
        return bad(v, "a message count from 0 to 1000000");
      }
    } else if (flag == "--queue-hard-bytes") {
      if (!value(v)) return false;
      if (!parse_integer<std::size_t>(v, 1, SIZE_MAX, o.hub.queue_hard_bytes)) {
        return bad(v, "a byte count >= 1");
      }
    } else if (flag == "--threads") {
      if (!value(v)) return false;
      if (!parse_integer<int>(v, 1, 256, o.threads)) return bad(v, "1-256 threads");
    } else if (flag == "--static") {
      if (!value(v)) return false;
      std::error_code ec;
      if (!std::filesystem::is_directory(v, ec)) {
        error = "--static: " + v + " is not a readable directory";
        return false;
      }
      o.static_dir = v;
    } else if (flag == "--tls-cert") {
      if (!value(v)) return false;
      if (!readable_file(v, error, "certificate")) return false;
      tls_cert = v;
    } else if (flag == "--tls-key") {
      if (!value(v)) return false;
      if (!readable_file(v, error, "key")) return false;
      tls_key = v;
    } else if (flag == "--allow-origin") {
      if (!value(v)) return false;
      if (v.empty()) return bad(v, "an origin such as https://example.com");
      o.allowed_origins.push_back(v);
    } else if (flag == "--max-connections") {
      if (!value(v)) return false;
      if (!parse_integer<std::size_t>(v, 1, SIZE_MAX, o.max_connections)) {
        return bad(v, "a count >= 1");
      }
    } else if (flag == "--redis") {
      if (!value(v)) return false;
      if (v.rfind("redis://", 0) != 0) return bad(v, "a redis://HOST:PORT[/DB] URL");
      out.redis_url = v;
    } else if (flag == "--node") {
      if (!value(v)) return false;
      out.node_id = v;
    } else if (flag == "--log-level") {
      if (!value(v)) return false;
      if (v == "debug") {
        o.min_log_level = roomwire::log_level::debug;
      } else if (v == "info") {
        o.min_log_level = roomwire::log_level::info;
      } else if (v == "warning") {
        o.min_log_level = roomwire::log_level::warning;
      } else if (v == "error") {
        o.min_log_level = roomwire::log_level::error;
      } else {
        return bad(v, "debug, info, warning or error");
      }
    } else {
      error = "unknown flag \"" + flag + "\" (see --help)";
      return false;
    }
  }

  if (o.hub.queue_soft_bytes > o.hub.queue_hard_bytes) {
    error = "--queue-soft-bytes must not exceed --queue-hard-bytes";
    return false;
  }
  if (tls_cert.empty() != tls_key.empty()) {
    error = "--tls-cert and --tls-key go together";
    return false;
  }
  if (!tls_cert.empty()) o.tls = roomwire::tls_options{tls_cert, tls_key};

  if (tokens_file.empty()) {
    out.demo_mode = true;
    o.authenticate = roomwire::demo_authenticate;
  } else {
    auto tokens = std::make_shared<std::unordered_map<std::string, identity>>();
    if (!read_tokens(tokens_file, *tokens, error)) return false;
    out.demo_mode = false;
    o.authenticate = [tokens](std::string_view token) -> std::optional<identity> {
      const auto it = tokens->find(std::string(token));
      if (it == tokens->end()) return std::nullopt;
      return it->second;
    };
  }
  if (rooms) o.policies.declared_rooms = std::move(rooms);
  if (!acl.empty()) {
    o.policies.may_join = [acl = std::move(acl)](const identity& who, std::string_view room) {
      const auto it = acl.find(room);
      return it == acl.end() || it->second.count(who.user_id) != 0;
    };
  }
  return true;
}

}  // namespace roomwire_server
