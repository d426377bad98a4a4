// RFC 6455 on the server side, without sockets (see ws_wire.hpp).

#include "transport/ws_wire.hpp"

#include <algorithm>

#include <openssl/evp.h>
#include <openssl/sha.h>

namespace roomwire::transport::ws {

namespace {

constexpr std::size_t max_control_payload = 125;

bool is_control(std::uint8_t op) noexcept { return (op & 0x8) != 0; }

bool known_opcode(std::uint8_t op) noexcept {
  return op == continuation || op == text || op == binary || op == close || op == ping ||
         op == pong;
}

// XORs `n` bytes with the mask, starting at mask position `pos`.
void unmask(char* p, std::size_t n, const unsigned char mask[4], std::size_t pos) noexcept {
  // Align to the mask so that whole words can be used.
  while (n > 0 && (pos & 3) != 0) {
    *p++ ^= static_cast<char>(mask[pos & 3]);
    ++pos;
    --n;
  }
  std::uint32_t m32;
  std::memcpy(&m32, mask, 4);
  const std::uint64_t m64 = (static_cast<std::uint64_t>(m32) << 32) | m32;
  while (n >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    w ^= m64;
    std::memcpy(p, &w, 8);
    p += 8;
    n -= 8;
  }
  for (std::size_t i = 0; i < n; ++i) p[i] ^= static_cast<char>(mask[i & 3]);
}

}  // namespace

bool utf8_validator::feed(const unsigned char* p, std::size_t n) noexcept {
  std::size_t i = 0;
  while (i < n) {
    if (need_ == 0) {
      // ASCII runs, eight bytes at a time
      while (i + 8 <= n) {
        std::uint64_t w;
        std::memcpy(&w, p + i, 8);
        if ((w & 0x8080808080808080ULL) != 0) break;
        i += 8;
      }
      if (i == n) break;
      const unsigned char b = p[i++];
      if (b < 0x80) continue;
      if (b >= 0xC2 && b <= 0xDF) {
        need_ = 1;
      } else if (b == 0xE0) {
        need_ = 2;
        lo_ = 0xA0;  // no overlong three-byte forms
      } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
        need_ = 2;
      } else if (b == 0xED) {
        need_ = 2;
        hi_ = 0x9F;  // no surrogates
      } else if (b == 0xF0) {
        need_ = 3;
        lo_ = 0x90;  // no overlong four-byte forms
      } else if (b >= 0xF1 && b <= 0xF3) {
        need_ = 3;
      } else if (b == 0xF4) {
        need_ = 3;
        hi_ = 0x8F;  // nothing above U+10FFFF
      } else {
        return false;
      }
      continue;
    }
    const unsigned char b = p[i++];
    if (b < lo_ || b > hi_) return false;
    --need_;
    lo_ = 0x80;
    hi_ = 0xBF;
  }
  return true;
}

bool valid_close_code(int code) noexcept {
  if (code < 1000 || code >= 5000) return false;
  if (code == 1004 || code == 1005 || code == 1006 || code == 1015) return false;
  if (code >= 1016 && code <= 2999) return false;
  return true;
}

std::size_t frame_reader::header_length(const unsigned char* hdr, std::size_t have) noexcept {
  if (have < 2) return 0;
  const std::uint8_t code = hdr[1] & 0x7F;
  const std::size_t extended = code == 126 ? 2 : code == 127 ? 8 : 0;
  const std::size_t mask = (hdr[1] & 0x80) != 0 ? 4 : 0;
  const std::size_t total = 2 + extended + mask;
  return have >= total ? total : 0;
}

void frame_reader::fail(frame_sink& sink, int code, const char* why) {
  stopped_ = true;
  message_.clear();
  message_.shrink_to_fit();
  control_.clear();
  control_.shrink_to_fit();
  sink.on_violation(code, why);
}

// Checks a complete header (at most 14 bytes): its flags, opcode and mask, then its length, so
// that a frame is refused before any of its payload is read or reserved.
bool frame_reader::start_frame(const unsigned char* hdr, frame_sink& sink) {
  const bool fin = (hdr[0] & 0x80) != 0;
  const std::uint8_t rsv = hdr[0] & 0x70;
  const std::uint8_t op = hdr[0] & 0x0F;
  const bool masked = (hdr[1] & 0x80) != 0;
  const std::uint8_t code = hdr[1] & 0x7F;
  if (rsv != 0) {
    fail(sink, close_protocol_error, "reserved bits set without an extension");
    return false;
  }
  if (!known_opcode(op)) {
    fail(sink, close_protocol_error, "reserved opcode");
    return false;
  }
  if (is_control(op)) {
    if (!fin) {
      fail(sink, close_protocol_error, "fragmented control frame");
      return false;
    }
    if (code > max_control_payload) {
      fail(sink, close_protocol_error, "control frame over 125 bytes");
      return false;
    }
  } else if (op == continuation && !in_message_) {
    fail(sink, close_protocol_error, "continuation with nothing to continue");
    return false;
  } else if (op != continuation && in_message_) {
    fail(sink, close_protocol_error, "a new message inside a fragmented one");
    return false;
  }
  if (!masked) {
    fail(sink, close_protocol_error, "unmasked client frame");
    return false;
  }

  std::uint64_t length = code;
  if (code == 126) {
    length = (static_cast<std::uint64_t>(hdr[2]) << 8) | hdr[3];
    if (length < 126) {
      fail(sink, close_protocol_error, "non-minimal length encoding");
      return false;
    }
  } else if (code == 127) {
    length = 0;
    for (int i = 0; i < 8; ++i) length = (length << 8) | hdr[2 + i];
    if ((length >> 63) != 0) {
      fail(sink, close_too_big, "frame length with the top bit set");
      return false;
    }
    if (length <= 0xFFFF) {
      fail(sink, close_protocol_error, "non-minimal length encoding");
      return false;
    }
  }
  if (!is_control(op)) {
    // counted without overflow: message so far + this frame > limit
    const std::size_t so_far = message_.size();
    if (length > max_message_ - std::min(max_message_, so_far)) {
      fail(sink, close_too_big, "message over the size limit");
      return false;
    }
    if (op == binary) {
      fail(sink, close_unsupported_data, "binary frames are not supported");
      return false;
    }
  }
  const std::size_t mask_at = code == 126 ? 4 : code == 127 ? 10 : 2;
  std::memcpy(mask_, hdr + mask_at, 4);
  fin_ = fin;
  op_ = op;
  remaining_ = length;
  length_ = length;
  mask_pos_ = 0;
  delivered_in_place_ = false;
  in_frame_ = true;
  if (op == text) {
    in_message_ = true;
    utf8_.reset();
  }
  return true;
}

void frame_reader::finish_frame(frame_sink& sink) {
  in_frame_ = false;
  if (is_control(op_)) {
    std::string payload;
    payload.swap(control_);
    switch (op_) {
      case ping:
        sink.on_ping(payload);
        break;
      case pong:
        sink.on_pong(payload);
        break;
      default: {  // close
        if (payload.size() == 1) {
          fail(sink, close_protocol_error, "close payload of one byte");
          return;
        }
        int code = close_no_status;
        std::string_view reason;
        if (payload.size() >= 2) {
          code = (static_cast<unsigned char>(payload[0]) << 8) |
                 static_cast<unsigned char>(payload[1]);
          reason = std::string_view(payload).substr(2);
          utf8_validator v;
          if (!valid_close_code(code)) {
            fail(sink, close_protocol_error, "invalid close code");
            return;
          }
          if (!v.feed(reinterpret_cast<const unsigned char*>(reason.data()), reason.size()) ||
              !v.complete()) {
            fail(sink, close_protocol_error, "close reason is not UTF-8");
            return;
          }
        }
        stopped_ = true;  // nothing after a close frame counts
        sink.on_close(code, reason);
        return;
      }
    }
    return;
  }
  if (!fin_) return;  // more fragments to come
  in_message_ = false;
  if (!utf8_.complete()) {
    fail(sink, close_invalid_payload, "text ends inside a UTF-8 sequence");
    return;
  }
  if (delivered_in_place_) return;
  sink.on_message(message_);
  message_.clear();
  // A large message's buffer is not kept for an idle connection.
  if (message_.capacity() > 4096) message_.shrink_to_fit();
}

void frame_reader::consume(char* data, std::size_t n, frame_sink& sink) {
  while (!stopped_) {
    if (!in_frame_) {
      if (n == 0) return;
      // The header: straight from the buffer when it is all there, else assembled in hdr_.
      const unsigned char* hdr = reinterpret_cast<unsigned char*>(data);
      std::size_t hlen = hdr_have_ == 0 ? header_length(hdr, n) : 0;
      if (hlen == 0) {
        while (n > 0 && header_length(hdr_, hdr_have_) == 0) {
          hdr_[hdr_have_++] = static_cast<unsigned char>(*data++);
          --n;
        }
        if (header_length(hdr_, hdr_have_) == 0) return;  // more header to come
        hdr = hdr_;
      }
      if (!start_frame(hdr, sink)) return;
      if (hlen == 0) {
        hdr_have_ = 0;
      } else {
        data += hlen;
        n -= hlen;
      }
      if (remaining_ == 0) finish_frame(sink);
      continue;
    }
    if (n == 0) return;
    const std::size_t take =
        static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, static_cast<std::uint64_t>(n)));
    unmask(data, take, mask_, mask_pos_);
    if (is_control(op_)) {
      control_.append(data, take);
    } else {
      if (!utf8_.feed(reinterpret_cast<const unsigned char*>(data), take)) {
        fail(sink, close_invalid_payload, "invalid UTF-8 in a text message");
        return;
      }
      if (fin_ && op_ == text && take == length_ && message_.empty()) {
        // The whole message is in this buffer: pass it on from there.
        if (!utf8_.complete()) {
          fail(sink, close_invalid_payload, "text ends inside a UTF-8 sequence");
          return;
        }
        delivered_in_place_ = true;
        sink.on_message(std::string_view(data, take));
      } else {
        message_.append(data, take);
      }
    }
    remaining_ -= take;
    mask_pos_ += take;
    data += take;
    n -= take;
    if (remaining_ == 0) finish_frame(sink);
  }
}

std::string encode_frame(opcode op, std::string_view payload) {
  std::string out;
  const std::size_t n = payload.size();
  out.reserve(n + 10);
  out.push_back(static_cast<char>(0x80 | op));
  if (n < 126) {
    out.push_back(static_cast<char>(n));
  } else if (n <= 0xFFFF) {
    out.push_back(static_cast<char>(126));
    out.push_back(static_cast<char>((n >> 8) & 0xFF));
    out.push_back(static_cast<char>(n & 0xFF));
  } else {
    out.push_back(static_cast<char>(127));
    for (int shift = 56; shift >= 0; shift -= 8) {
      out.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> shift) & 0xFF));
    }
  }
  out.append(payload);
  return out;
}

std::string close_payload(int code, std::string_view reason) {
  std::string p;
  p.push_back(static_cast<char>((code >> 8) & 0xFF));
  p.push_back(static_cast<char>(code & 0xFF));
  std::size_t keep = std::min<std::size_t>(reason.size(), max_control_payload - 2);
  // never cut a character in two
  while (keep < reason.size() && keep > 0 &&
         (static_cast<unsigned char>(reason[keep]) & 0xC0) == 0x80) {
    --keep;
  }
  p.append(reason.substr(0, keep));
  return p;
}

std::string accept_key(std::string_view key) {
  static constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string input;
  input.reserve(key.size() + guid.size());
  input.append(key);
  input.append(guid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  unsigned char encoded[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(encoded, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<const char*>(encoded), static_cast<std::size_t>(n));
}

}  // namespace roomwire::transport::ws
