#pragma once

// The HTTP side of the server, free of any WebSocket library: request targets, tokens, static
// files and the /metrics text.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

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
