#pragma once

// The HTTP side of the server, free of any WebSocket library: request targets, tokens, static
// files and the /metrics text.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "roomwire/core/hub.hpp"
#include "transport/endpoint.hpp"

namespace roomwire::transport {

// "/api/ws?token=x" → path "/api/ws", query "token=x".
struct split_target {
  std::string_view path;
  std::string_view query;
};
split_target split(std::string_view target) noexcept;

// %XX decoding; '+' becomes a space when `plus_is_space` (query strings). nullopt: a malformed
// escape or a NUL byte.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

// The decoded value of the first `name=` parameter of a query; nullopt when absent.
std::optional<std::string> query_param(std::string_view query, std::string_view name);

// "Bearer TOKEN" (scheme case-insensitive) → TOKEN; nullopt for any other value.
std::optional<std::string> bearer_token(std::string_view authorization);

// The token of an upgrade request: the `token` query parameter when present and non-empty,
// else the Bearer header (§1: the query wins when both are present).
std::optional<std::string> request_token(const request_info& request);

// An HTTP/1.1 request head (request line and header fields), as the server reads it before an
// upgrade or a plain HTTP answer.
struct request_head {
  std::string method;
  std::string target;
  int minor_version = 1;  // HTTP/1.x
  std::vector<std::pair<std::string, std::string>> fields;

  // The field's value; repeated fields are joined with ", " (RFC 9110 §5.3). nullopt: absent.
  std::optional<std::string> field(std::string_view name) const;
  // True when the comma-separated field `name` holds `token` (case-insensitive).
  bool field_has_token(std::string_view name, std::string_view token) const;
};

// Parses the head of a request: `head` ends with the empty line. nullopt: malformed.
std::optional<request_head> parse_request_head(std::string_view head);

// The longest request head the server reads (as websocketpp: 16,000 bytes).
inline constexpr std::size_t max_request_head_bytes = 16000;
// The longest request body a plain HTTP request may carry (read and ignored).
inline constexpr std::size_t max_request_body_bytes = 16 * 1024;

// A complete HTTP/1.1 response with Content-Length, `Server: roomwire` and the reply's fields.
std::string format_response(const http_reply& reply, bool close_connection);

// The Content-Type for a file name, by extension.
std::string_view content_type_for(const std::filesystem::path& file);

// Serves `url_path` from below `root` (which must be canonical): GET only; "/" and directories
// mean index.html; "..", NUL, backslashes and anything whose real path (symlinks resolved) is
// outside root get 404.
http_reply serve_static(const std::filesystem::path& root, std::string_view method,
                        std::string_view url_path);

// The Prometheus text exposition (format 0.0.4) of the hub's counters.
std::string prometheus_text(const core::hub_metrics& m);

}  // namespace roomwire::transport
