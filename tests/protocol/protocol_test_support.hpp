#pragma once

// Helpers shared by the protocol tests: golden files, frame building, and decode assertions.

#include <catch2/catch.hpp>

#include <cstddef>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "roomwire/protocol.hpp"

namespace roomwire_test {

namespace rp = roomwire::protocol;

// The wire form of every message type, one file each (tests/protocol/golden/*.json).
inline const char* const golden_files[] = {
    "joinRoom.json",
    "joinRoom.since.json",
    "leaveRoom.json",
    "message.client.json",
    "message.client.file.json",
    "message.delivered.json",
    "messageReceived.json",
    "messageReceived.task.json",
    "messageReceived.recovered.json",
    "taskAssign.client.json",
    "taskAssign.delivered.json",
    "taskUpdate.client.json",
    "taskUpdate.delivered.json",
    "error.json",
    "error.rateLimited.json",
    "healthUpdate.json",
    "healthUpdate.draining.json",
};

inline std::string golden_dir() { return ROOMWIRE_GOLDEN_DIR; }

// A golden file's content without its trailing newline.
inline std::string read_golden(const std::string& name) {
  std::ifstream in(golden_dir() + "/" + name, std::ios::binary);
  INFO("golden file " << name);
  REQUIRE(in.good());
  std::ostringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// `{"type":TYPE,"payload":PAYLOAD}` plus any further envelope members (",\"priority\":1").
inline std::string frame(std::string_view type, std::string_view payload,
                         std::string_view extra = {}) {
  std::string s = "{\"type\":\"";
  s += type;
  s += "\",\"payload\":";
  s += payload;
  s += extra;
  s += '}';
  return s;
}

inline std::string repeat(std::string_view unit, std::size_t n) {
  std::string s;
  s.reserve(unit.size() * n);
  for (std::size_t i = 0; i < n; ++i) s += unit;
  return s;
}

// A JSON string literal of `n` copies of `unit` (unit is already JSON-escaped text).
inline std::string json_string(std::string_view unit, std::size_t n) {
  return "\"" + repeat(unit, n) + "\"";
}

// Decodes `json` as P and requires success.
template <class P>
rp::envelope<P> decodes(const std::string& json) {
  auto r = rp::decode<P>(json);
  INFO("frame: " << json.substr(0, 300));
  INFO("refused at \"" << r.error.path << "\": " << r.error.reason);
  REQUIRE(r);
  return *r;
}

// Decodes `json` as P and requires the refusal `path` + `reason`, exactly.
template <class P>
rp::decode_error refused(const std::string& json, const std::string& path,
                         const std::string& reason) {
  const auto r = rp::decode<P>(json);
  INFO("frame: " << json.substr(0, 300));
  REQUIRE_FALSE(r);
  CHECK(r.error.path == path);
  CHECK(r.error.reason == reason);
  return r.error;
}

// True when `s` is well-formed UTF-8 with no surrogate code points.
inline bool is_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    unsigned cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07u;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated sequence
    for (std::size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

// True when `p` is "" or a syntactically valid JSON Pointer (RFC 6901).
inline bool is_json_pointer(std::string_view p) {
  if (p.empty()) return true;
  if (p.front() != '/') return false;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '~' && (i + 1 == p.size() || (p[i + 1] != '0' && p[i + 1] != '1'))) return false;
  }
  return is_utf8(p);
}

}  // namespace roomwire_test
