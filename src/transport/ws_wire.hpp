#pragma once

// RFC 6455 on the server side, without sockets: the incremental reader of client frames (every
// check of PROTOCOL.md §5 and RFC 6455 §5-§8 that a frame can fail), UTF-8 validation across
// fragments, server frame encoding and the handshake's accept key. ws_plain.cpp drives it;
// tests/integration/wire_units_test.cpp feeds it bytes directly.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "roomwire/protocol/codes.hpp"

namespace roomwire::transport::ws {

enum opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

// Close codes this layer answers with: the contract's (protocol::close_code) as ints, and the
// two that never travel in a close frame (RFC 6455 §7.4.1).
constexpr int as_int(protocol::close_code c) noexcept { return static_cast<int>(c); }
inline constexpr int close_normal = as_int(protocol::close_code::normal);
inline constexpr int close_going_away = as_int(protocol::close_code::going_away);
inline constexpr int close_protocol_error = as_int(protocol::close_code::protocol_error);
inline constexpr int close_unsupported_data = as_int(protocol::close_code::unsupported_data);
inline constexpr int close_invalid_payload = as_int(protocol::close_code::invalid_payload);
inline constexpr int close_too_big = as_int(protocol::close_code::message_too_big);
inline constexpr int close_no_status = 1005;  // a close frame without a code
inline constexpr int close_abnormal = 1006;   // the connection ended without a close frame

// Incremental UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing above
// U+10FFFF), resumable at any byte boundary.
class utf8_validator {
 public:
  // False at the first byte that cannot be part of valid UTF-8; the state is then undefined.
  bool feed(const unsigned char* p, std::size_t n) noexcept;
  // True when the text so far ends on a complete character.
  bool complete() const noexcept { return need_ == 0; }
  void reset() noexcept {
    need_ = 0;
    lo_ = 0x80;
    hi_ = 0xBF;
  }

 private:
  std::uint8_t need_ = 0;   // continuation bytes still to come
  std::uint8_t lo_ = 0x80;  // allowed range of the next continuation byte
  std::uint8_t hi_ = 0xBF;
};

// Whether a close code may appear in a close frame on the wire (RFC 6455 §7.4).
bool valid_close_code(int code) noexcept;

// What a frame_reader reports. Implemented by the connection.
class frame_sink {
 public:
  virtual ~frame_sink() = default;
  // A complete text message (its bytes live until the call returns).
  virtual void on_message(std::string_view text) = 0;
  virtual void on_ping(std::string_view payload) = 0;
  virtual void on_pong(std::string_view payload) = 0;
  // A valid close frame; code is close_no_status when it carried none.
  virtual void on_close(int code, std::string_view reason) = 0;
  // The stream broke a rule: answer with close `code`; the reader reads nothing more.
  virtual void on_violation(int code, const char* why) = 0;
};

// Reads a client's frame stream. Holds only an unfinished frame's header (at most 14 bytes), an
// unfinished control frame (at most 125 bytes) and an unfinished message: a message that arrives
// whole in one buffer is passed on from that buffer, unmasked in place, without a copy.
class frame_reader {
 public:
  explicit frame_reader(std::size_t max_message_bytes) : max_message_(max_message_bytes) {}

  // Consumes all of `data` (unmasking it in place) unless a violation or a close frame stops the
  // reader first; afterwards it ignores everything.
  void consume(char* data, std::size_t n, frame_sink& sink);

  bool stopped() const noexcept { return stopped_; }
  // Memory held between reads (for the idle-memory budget: two empty strings when idle).
  std::size_t held_bytes() const noexcept { return message_.capacity() + control_.capacity(); }

 private:
  // Returns the header length once `hdr` holds a complete header, 0 when more is needed.
  static std::size_t header_length(const unsigned char* hdr, std::size_t have) noexcept;
  bool start_frame(const unsigned char* hdr, frame_sink& sink);
  void finish_frame(frame_sink& sink);
  void fail(frame_sink& sink, int code, const char* why);

  const std::size_t max_message_;
  bool stopped_ = false;
  // header being assembled
  unsigned char hdr_[14] = {};
  std::size_t hdr_have_ = 0;
  // the frame being read
  bool in_frame_ = false;
  bool fin_ = false;
  std::uint8_t op_ = 0;
  unsigned char mask_[4] = {};
  std::uint64_t remaining_ = 0;
  std::uint64_t length_ = 0;
  std::size_t mask_pos_ = 0;
  bool delivered_in_place_ = false;
  // the message being read (text only: a binary frame ends the connection)
  bool in_message_ = false;
  std::string message_;
  utf8_validator utf8_;
  std::string control_;
};

// One unmasked server frame, header and payload in one string.
std::string encode_frame(opcode op, std::string_view payload);
// A close frame's payload: the code, then the reason cut to fit 123 bytes on a UTF-8 boundary.
std::string close_payload(int code, std::string_view reason);

// Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2).
std::string accept_key(std::string_view key);

}  // namespace roomwire::transport::ws
