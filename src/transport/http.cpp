#include "transport/http.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <sstream>
#include <system_error>

namespace roomwire::transport {

namespace fs = std::filesystem;

split_target split(std::string_view target) noexcept {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

http_reply plain(int status, std::string body) {
  http_reply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace

std::optional<std::string> request_head::field(std::string_view name) const {
  std::optional<std::string> value;
  for (const auto& [n, v] : fields) {
    if (!iequals(n, name)) continue;
    if (value) {
      value->append(", ");
      value->append(v);
    } else {
      value = v;
    }
  }
  return value;
}

bool request_head::field_has_token(std::string_view name, std::string_view token) const {
  for (const auto& [n, v] : fields) {
    if (!iequals(n, name)) continue;
    std::string_view rest = v;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      if (iequals(trim(rest.substr(0, comma)), token)) return true;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return false;
}

std::optional<request_head> parse_request_head(std::string_view head) {
  const auto line_end = [&](std::size_t from) { return head.find("\r\n", from); };
  request_head r;
  std::size_t eol = line_end(0);
  if (eol == std::string_view::npos) return std::nullopt;
  const std::string_view line = head.substr(0, eol);
  const auto sp1 = line.find(' ');
  const auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return std::nullopt;
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (method.empty() || target.empty() || target.find(' ') != std::string_view::npos) {
    return std::nullopt;
  }
  for (const char c : method) {
    if (c < 'A' || c > 'Z') return std::nullopt;
  }
  for (const char c : target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) return std::nullopt;
  }
  if (version.size() != 8 || version.substr(0, 7) != "HTTP/1." || version[7] < '0' ||
      version[7] > '9') {
    return std::nullopt;
  }
  r.method = std::string(method);
  r.target = std::string(target);
  r.minor_version = version[7] - '0';
  std::size_t at = eol + 2;
  for (;;) {
    eol = line_end(at);
    if (eol == std::string_view::npos) return std::nullopt;
    if (eol == at) break;  // the empty line
    const std::string_view field = head.substr(at, eol - at);
    at = eol + 2;
    const auto colon = field.find(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    const std::string_view name = field.substr(0, colon);
    for (const char c : name) {
      if (c <= 0x20 || c >= 0x7F || c == '(' || c == ')' || c == ',' || c == ';' || c == ':' ||
          c == '"' || c == '/' || c == '[' || c == ']' || c == '?' || c == '=' || c == '{' ||
          c == '}' || c == '\\') {
        return std::nullopt;
      }
    }
    const std::string_view value = trim(field.substr(colon + 1));
    for (const char c : value) {
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7F) return std::nullopt;
    }
    r.fields.emplace_back(std::string(name), std::string(value));
  }
  return r;
}

namespace {

const char* reason_phrase(int status) noexcept {
  switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

}  // namespace

std::string format_response(const http_reply& reply, bool close_connection) {
  std::string out;
  out.reserve(160 + reply.body.size());
  out += "HTTP/1.1 ";
  out += std::to_string(reply.status);
  out += ' ';
  out += reason_phrase(reply.status);
  out += "\r\nServer: roomwire\r\nContent-Type: ";
  out += reply.content_type;
  out += "\r\nContent-Length: ";
  out += std::to_string(reply.body.size());
  out += "\r\n";
  for (const auto& [name, value] : reply.headers) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  if (close_connection) out += "Connection: close\r\n";
  out += "\r\n";
  out += reply.body;
  return out;
}

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = hex_value(text[i + 1]);
      const int lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (c == '\0') return std::nullopt;
    out.push_back(c);
  }
  return out;
}

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const auto eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    const std::string_view value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    auto decoded_key = percent_decode(key, true);
    if (!decoded_key || *decoded_key != name) continue;
    return percent_decode(value, true);
  }
  return std::nullopt;
}

std::optional<std::string> bearer_token(std::string_view authorization) {
  authorization = trim(authorization);
  constexpr std::string_view scheme = "bearer";
  if (authorization.size() <= scheme.size() ||
      !iequals(authorization.substr(0, scheme.size()), scheme) ||
      (authorization[scheme.size()] != ' ' && authorization[scheme.size()] != '\t')) {
    return std::nullopt;
  }
  const std::string_view token = trim(authorization.substr(scheme.size()));
  if (token.empty()) return std::nullopt;
  return std::string(token);
}

std::optional<std::string> request_token(const request_info& request) {
  if (auto from_query = query_param(split(request.target).query, "token");
      from_query && !from_query->empty()) {
    return from_query;
  }
  if (request.authorization) return bearer_token(*request.authorization);
  return std::nullopt;
}

std::string_view content_type_for(const fs::path& file) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 14> types = {{
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".png", "image/png"},
      {".svg", "image/svg+xml"},
      {".txt", "text/plain; charset=utf-8"},
      {".ico", "image/x-icon"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".wasm", "application/wasm"},
  }};
  const std::string ext = file.extension().string();
  for (const auto& [suffix, type] : types) {
    if (iequals(ext, suffix)) return type;
  }
  return "application/octet-stream";
}

http_reply serve_static(const fs::path& root, std::string_view method, std::string_view url_path) {
  if (method != "GET") {
    http_reply r = plain(405, "method not allowed\n");
    r.headers.emplace_back("Allow", "GET");
    return r;
  }
  auto decoded = percent_decode(url_path, false);
  if (!decoded || decoded->empty() || decoded->front() != '/' ||
      decoded->find('\\') != std::string::npos) {
    return plain(404, "not found\n");
  }
  // Reject any ".." segment outright, before touching the file system.
  std::string_view rest(*decoded);
  while (!rest.empty()) {
    rest.remove_prefix(1);  // the '/'
    const auto slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    if (segment == "..") return plain(404, "not found\n");
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  }

  fs::path candidate = root / fs::path(decoded->substr(1));
  std::error_code ec;
  if (decoded->back() == '/' || fs::is_directory(candidate, ec)) candidate /= "index.html";
  // The real path, symlinks resolved, must still be below root.
  const fs::path real = fs::canonical(candidate, ec);
  if (ec) return plain(404, "not found\n");
  const auto [root_end, real_it] =
      std::mismatch(root.begin(), root.end(), real.begin(), real.end());
  if (root_end != root.end() || !fs::is_regular_file(real, ec)) return plain(404, "not found\n");

  constexpr std::uintmax_t max_file_bytes = 64u << 20;
  const std::uintmax_t size = fs::file_size(real, ec);
  if (ec || size > max_file_bytes) return plain(404, "not found\n");
  std::ifstream in(real, std::ios::binary);
  if (!in) return plain(404, "not found\n");
  http_reply r;
  r.status = 200;
  r.content_type = std::string(content_type_for(real));
  r.body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return r;
}

namespace {

void escape_label(std::string& out, std::string_view value) {
  for (const char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, std::string_view name, std::uint64_t value) {
  out += name;
  out += ' ';
  out += std::to_string(value);
  out += '\n';
}

void by_type(std::string& out, std::string_view name, std::string_view help,
             const std::map<std::string, core::hub_metrics::per_priority, std::less<>>& counts) {
  header(out, name, "counter", help);
  for (const auto& [type, per_priority] : counts) {
    for (std::size_t p = 0; p < per_priority.size(); ++p) {
      if (per_priority[p] == 0) continue;
      out += name;
      out += "{type=\"";
      escape_label(out, type);
      out += "\",priority=\"";
      out += std::to_string(p);
      out += "\"} ";
      out += std::to_string(per_priority[p]);
      out += '\n';
    }
  }
}

}  // namespace

std::string prometheus_text(const core::hub_metrics& m) {
  std::string out;
  out.reserve(2048);
  header(out, "roomwire_connections", "gauge", "Open sessions.");
  sample(out, "roomwire_connections", m.connections);
  header(out, "roomwire_rooms", "gauge", "Rooms that exist.");
  sample(out, "roomwire_rooms", m.rooms);
  header(out, "roomwire_messages_in_all_total", "counter", "Envelopes received, all types.");
  sample(out, "roomwire_messages_in_all_total", m.messages_in);
  header(out, "roomwire_messages_out_all_total", "counter", "Envelopes written, all types.");
  sample(out, "roomwire_messages_out_all_total", m.messages_out);
  header(out, "roomwire_messages_dropped_all_total", "counter",
         "Envelopes shed by back-pressure, all types.");
  sample(out, "roomwire_messages_dropped_all_total", m.messages_dropped);
  by_type(out, "roomwire_messages_in_total", "Envelopes received, by type and priority.",
          m.in_by_type);
  by_type(out, "roomwire_messages_out_total", "Envelopes written, by type and priority.",
          m.out_by_type);
  by_type(out, "roomwire_messages_dropped_total",
          "Envelopes shed by back-pressure, by type and priority.", m.dropped_by_type);
  header(out, "roomwire_queue_bytes", "gauge", "Bytes queued for all sessions, not yet written.");
  sample(out, "roomwire_queue_bytes", m.queue_bytes);
  header(out, "roomwire_closes_total", "counter", "Closed sessions, by close code.");
  for (const auto& [code, count] : m.closes_by_code) {
    out += "roomwire_closes_total{code=\"";
    out += std::to_string(code);
    out += "\"} ";
    out += std::to_string(count);
    out += '\n';
  }
  header(out, "roomwire_handshake_failures_total", "counter",
         "Refused or failed WebSocket handshakes, rejected tokens included.");
  sample(out, "roomwire_handshake_failures_total", m.handshake_failures);
  header(out, "roomwire_handler_errors_total", "counter",
         "Exceptions thrown by host handlers or policies (caught).");
  sample(out, "roomwire_handler_errors_total", m.handler_errors);
  header(out, "roomwire_uptime_seconds", "gauge", "Seconds since the hub started.");
  sample(out, "roomwire_uptime_seconds",
         static_cast<std::uint64_t>(std::max<std::int64_t>(0, m.uptime_seconds)));
  header(out, "roomwire_health_status", "gauge", "0 ok, 1 degraded, 2 draining.");
  sample(out, "roomwire_health_status", static_cast<std::uint64_t>(m.status));
  return out;
}

}  // namespace roomwire::transport
