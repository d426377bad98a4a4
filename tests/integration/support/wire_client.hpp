#pragma once

// A small, independent WebSocket and HTTP client for the integration tests: written from RFC
// 6455 directly (not websocketpp), so that the tests check the wire and can send what a correct
// client never would (unmasked frames, reserved opcodes, invalid UTF-8). Every call blocks for
// at most its timeout; nothing sleeps.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

namespace rwtest {

using namespace std::chrono_literals;
using millis = std::chrono::milliseconds;
inline constexpr millis default_timeout = 5000ms;

struct http_response {
  int status = 0;                              // 0: no answer (refused, timed out)
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

struct endpoint_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  bool tls = false;  // TLS without certificate verification (self-signed test certificates)
};

// One GET (or another method) over a fresh connection.
http_response http_request(const endpoint_options& at, std::string_view method,
                           std::string_view target,
                           const std::vector<std::pair<std::string, std::string>>& headers = {},
                           millis timeout = default_timeout);

struct ws_frame {
  int opcode = 0;
  bool fin = true;
  std::string payload;
};

struct close_result {
  int code = 0;  // 1005: a close frame without a code; 1006: TCP ended without one
  std::string reason;
};

class wire_client {
 public:
  explicit wire_client(endpoint_options at);
  ~wire_client();
  wire_client(const wire_client&) = delete;
  wire_client& operator=(const wire_client&) = delete;

  // Answer pings with pongs while reading (on by default).
  void auto_pong(bool on) { auto_pong_ = on; }
  // A small receive buffer (before connect): the server's writes back up sooner.
  void small_receive_buffer(int bytes) { receive_buffer_ = bytes; }

  // TCP connect + HTTP upgrade to `target`. Returns the HTTP status (101 when upgraded; 0 when
  // the connection failed). On a refusal, response() holds the HTTP answer.
  int connect(std::string_view target,
              const std::vector<std::pair<std::string, std::string>>& headers = {},
              millis timeout = default_timeout);
  const http_response& response() const { return response_; }

  // Primitives for hostile clients (tests/hostile/): the steps of connect() one by one.
  // TCP (and TLS) only, no HTTP: what follows is up to send_raw().
  bool connect_tcp(millis timeout = default_timeout);
  // The upgrade request connect() would send for `target` (to be sent in pieces).
  std::string upgrade_request(
      std::string_view target,
      const std::vector<std::pair<std::string, std::string>>& headers = {}) const;
  // Reads until the peer ends the connection: true, or the timeout: false (see unread()).
  bool wait_eof(millis timeout);
  // The bytes received and not yet consumed as frames (e.g. an HTTP answer before the end).
  const std::string& unread() const { return in_; }
  // What has reached this client and was not yet returned as frames: the bytes in its kernel's
  // receive queue plus unread() (plain connections; under TLS the kernel's count is ciphertext).
  std::size_t received_unread() const;

  // Frames, masked as a client must (unless told otherwise).
  void send_text(std::string_view text);
  void send_binary(std::string_view data);
  void send_frame(int opcode, std::string_view payload, bool fin = true, bool masked = true,
                  int rsv_bits = 0);
  // False when the write failed (the peer is gone) or timed out.
  bool send_raw(std::string_view bytes);
  // A frame header announcing `announced_length` payload bytes (any 64-bit value, in the
  // shortest length encoding), followed by `partial`. The masking key is zero, so that more of
  // the payload can follow, as it is, with send_raw().
  bool send_frame_prefix(int opcode, std::uint64_t announced_length, std::string_view partial,
                         bool fin = true, bool masked = true);
  void send_close(int code = 1000, std::string_view reason = {});

  // The next frame of any kind; nullopt on timeout or end of the connection.
  std::optional<ws_frame> next_frame(millis timeout = default_timeout);
  // The next text message; pings are answered (auto_pong) and counted, pongs skipped. A close
  // frame ends it (nullopt) and is recorded: see closed().
  std::optional<std::string> next_text(millis timeout = default_timeout);
  // The next envelope whose "type" is `type`, skipping others.
  std::optional<std::string> next_of_type(std::string_view type, millis timeout = default_timeout);
  // Reads until the server's close frame (answering it) or the end of the connection.
  std::optional<close_result> wait_close(millis timeout = default_timeout);

  const std::optional<close_result>& closed() const { return close_; }
  int pings_seen() const { return pings_; }
  bool eof() const { return eof_; }
  // Text messages seen by wait_close() and next_of_type() while looking for something else.
  const std::vector<std::string>& skipped() const { return skipped_; }

 private:
  struct io;
  bool read_more(std::chrono::steady_clock::time_point deadline);
  std::optional<ws_frame> parse_frame();

  std::unique_ptr<io> io_;
  endpoint_options at_;
  http_response response_;
  std::string in_;
  bool auto_pong_ = true;
  int receive_buffer_ = 0;
  int pings_ = 0;
  bool eof_ = false;
  bool close_sent_ = false;
  std::optional<close_result> close_;
  std::vector<std::string> skipped_;
};

// JSON helpers for assertions.
rapidjson::Document parse_json(const std::string& text);
std::string envelope(std::string_view type, std::string_view payload_json,
                     std::string_view message_id = {}, int priority = -1);

}  // namespace rwtest
