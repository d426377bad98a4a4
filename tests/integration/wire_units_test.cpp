// The transport's wire code on its own, without sockets: the RFC 6455 frame reader, UTF-8
// validation, server frame encoding, close payloads and the accept key (src/transport/ws_wire.hpp),
// and the HTTP request-head parser and response formatter (src/transport/http.hpp).

#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "transport/http.hpp"
#include "transport/ws_wire.hpp"

namespace rt = roomwire::transport;
namespace ws = roomwire::transport::ws;

namespace {

// ---- building client frames ---------------------------------------------------------------

constexpr std::uint8_t fin_bit = 0x80;
constexpr std::array<std::uint8_t, 4> default_mask = {0x37, 0xFA, 0x21, 0x3D};

std::string bytes(std::initializer_list<int> list) {
  std::string out;
  for (const int b : list) out.push_back(static_cast<char>(b));
  return out;
}

// The 7-bit length code and extended length bytes of `n`, in the minimal encoding.
std::string minimal_length(std::uint64_t n, bool masked) {
  const int mask_bit = masked ? 0x80 : 0;
  std::string out;
  if (n < 126) {
    out.push_back(static_cast<char>(mask_bit | static_cast<int>(n)));
  } else if (n <= 0xFFFF) {
    out.push_back(static_cast<char>(mask_bit | 126));
    out.push_back(static_cast<char>((n >> 8) & 0xFF));
    out.push_back(static_cast<char>(n & 0xFF));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8)
      out.push_back(static_cast<char>((n >> shift) & 0xFF));
  }
  return out;
}

std::string masked_payload(std::string_view payload, const std::array<std::uint8_t, 4>& mask) {
  std::string out(payload);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(out[i] ^ mask[i & 3]);
  return out;
}

std::string mask_bytes(const std::array<std::uint8_t, 4>& mask) {
  return std::string(reinterpret_cast<const char*>(mask.data()), mask.size());
}

// A masked client frame: first byte `b0` (FIN, RSV and opcode), minimal length encoding.
std::string frame(std::uint8_t b0, std::string_view payload,
                  const std::array<std::uint8_t, 4>& mask = default_mask) {
  std::string out(1, static_cast<char>(b0));
  out += minimal_length(payload.size(), true);
  out += mask_bytes(mask);
  out += masked_payload(payload, mask);
  return out;
}

// A masked frame whose length field is given as raw bytes (code byte without the mask bit, then
// any extended length), for non-minimal or absurd lengths.
std::string frame_with_length_bytes(std::uint8_t b0, const std::string& length_bytes,
                                    std::string_view payload) {
  std::string out(1, static_cast<char>(b0));
  std::string len = length_bytes;
  len[0] = static_cast<char>(static_cast<unsigned char>(len[0]) | 0x80);
  out += len;
  out += mask_bytes(default_mask);
  out += masked_payload(payload, default_mask);
  return out;
}

std::string unmasked_frame(std::uint8_t b0, std::string_view payload) {
  std::string out(1, static_cast<char>(b0));
  out += minimal_length(payload.size(), false);
  out += payload;
  return out;
}

std::string text(std::string_view payload, bool fin = true) {
  return frame(static_cast<std::uint8_t>((fin ? fin_bit : 0) | ws::text), payload);
}
std::string cont(std::string_view payload, bool fin) {
  return frame(static_cast<std::uint8_t>((fin ? fin_bit : 0) | ws::continuation), payload);
}
std::string ping(std::string_view payload) { return frame(fin_bit | ws::ping, payload); }
std::string pong(std::string_view payload) { return frame(fin_bit | ws::pong, payload); }
std::string close_frame(std::string_view payload) { return frame(fin_bit | ws::close, payload); }
std::string close_frame(int code, std::string_view reason = {}) {
  std::string p;
  p.push_back(static_cast<char>((code >> 8) & 0xFF));
  p.push_back(static_cast<char>(code & 0xFF));
  p += reason;
  return close_frame(p);
}

// ---- a recording sink ---------------------------------------------------------------------

struct event {
  enum kind_t { message, ping, pong, close, violation } kind;
  int code = 0;
  std::string data;
};

std::string describe(const event& e) {
  static const char* const names[] = {"message", "ping", "pong", "close", "violation"};
  return std::string(names[e.kind]) + "(" + std::to_string(e.code) + ", \"" + e.data + "\")";
}

struct recorder final : ws::frame_sink {
  std::vector<event> events;

  void on_message(std::string_view t) override {
    events.push_back({event::message, 0, std::string(t)});
  }
  void on_ping(std::string_view p) override { events.push_back({event::ping, 0, std::string(p)}); }
  void on_pong(std::string_view p) override { events.push_back({event::pong, 0, std::string(p)}); }
  void on_close(int code, std::string_view reason) override {
    events.push_back({event::close, code, std::string(reason)});
  }
  void on_violation(int code, const char* why) override {
    events.push_back({event::violation, code, why ? why : ""});
  }

  std::vector<std::string> messages() const {
    std::vector<std::string> out;
    for (const auto& e : events) {
      if (e.kind == event::message) out.push_back(e.data);
    }
    return out;
  }
  std::size_t count(event::kind_t k) const {
    std::size_t n = 0;
    for (const auto& e : events) n += e.kind == k ? 1 : 0;
    return n;
  }
  std::string log() const {
    std::string out;
    for (const auto& e : events) out += describe(e) + "\n";
    return out;
  }
};

// Feeds `data` in one call (through a mutable copy: the reader unmasks in place).
void feed(ws::frame_reader& r, recorder& s, std::string data) {
  r.consume(data.data(), data.size(), s);
}

void feed_bytewise(ws::frame_reader& r, recorder& s, const std::string& data) {
  for (const char c : data) {
    char b = c;
    r.consume(&b, 1, s);
  }
}

// Feeds `data` and expects exactly one event: a violation with `code`, and the reader stopped.
void expect_violation(std::size_t max_message, const std::string& data, int code) {
  ws::frame_reader r(max_message);
  recorder s;
  feed(r, s, data);
  INFO(s.log());
  REQUIRE(s.events.size() == 1);
  CHECK(s.events[0].kind == event::violation);
  CHECK(s.events[0].code == code);
  CHECK(r.stopped());
  // Nothing counts afterwards.
  feed(r, s, text("after"));
  CHECK(s.events.size() == 1);
}

constexpr std::size_t big_limit = 1 << 20;

}  // namespace

// ---- accept key, encoding, close payloads, close codes --------------------------------------

TEST_CASE("ws wire: the accept key of RFC 6455 §1.3") {
  CHECK(ws::accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  // Another key (value checked with Python's hashlib and base64).
  CHECK(ws::accept_key("x3JJHMbDL1EzLkh9GBhXDw==") == "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

TEST_CASE("ws wire: encode_frame picks the header form by payload size") {
  SECTION("0 bytes: two-byte header") {
    const std::string f = ws::encode_frame(ws::text, "");
    CHECK(f == bytes({0x81, 0x00}));
  }
  SECTION("125 bytes: 7-bit length") {
    const std::string payload(125, 'a');
    const std::string f = ws::encode_frame(ws::text, payload);
    REQUIRE(f.size() == 2 + 125);
    CHECK(f.substr(0, 2) == bytes({0x81, 125}));
    CHECK(f.substr(2) == payload);
  }
  SECTION("126 bytes: 16-bit length") {
    const std::string payload(126, 'b');
    const std::string f = ws::encode_frame(ws::text, payload);
    REQUIRE(f.size() == 4 + 126);
    CHECK(f.substr(0, 4) == bytes({0x81, 126, 0x00, 0x7E}));
    CHECK(f.substr(4) == payload);
  }
  SECTION("65535 bytes: 16-bit length") {
    const std::string payload(65535, 'c');
    const std::string f = ws::encode_frame(ws::text, payload);
    REQUIRE(f.size() == 4 + 65535);
    CHECK(f.substr(0, 4) == bytes({0x81, 126, 0xFF, 0xFF}));
    CHECK(f.substr(4) == payload);
  }
  SECTION("65536 bytes: 64-bit length") {
    const std::string payload(65536, 'd');
    const std::string f = ws::encode_frame(ws::text, payload);
    REQUIRE(f.size() == 10 + 65536);
    CHECK(f.substr(0, 10) == bytes({0x81, 127, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}));
    CHECK(f.substr(10) == payload);
  }
  SECTION("other opcodes, never masked") {
    CHECK(ws::encode_frame(ws::ping, "hi") == bytes({0x89, 0x02, 'h', 'i'}));
    CHECK(ws::encode_frame(ws::pong, "") == bytes({0x8A, 0x00}));
    CHECK(ws::encode_frame(ws::close, bytes({0x03, 0xE8})) == bytes({0x88, 0x02, 0x03, 0xE8}));
  }
}

TEST_CASE("ws wire: close_payload is the code then the reason, cut to 125 bytes on a character") {
  CHECK(ws::close_payload(1000, "") == bytes({0x03, 0xE8}));
  CHECK(ws::close_payload(4001, "slow down") == bytes({0x0F, 0xA1}) + "slow down");

  // Exactly 123 bytes of reason fit untouched.
  const std::string fits = "a" + std::string(122, 'b');
  CHECK(ws::close_payload(1008, fits) == bytes({0x03, 0xF0}) + fits);

  // ASCII: cut to 123.
  const std::string ascii(300, 'x');
  const std::string p1 = ws::close_payload(1008, ascii);
  CHECK(p1.size() == 125);
  CHECK(p1.substr(2) == ascii.substr(0, 123));

  auto check_cut = [](const std::string& reason) {
    INFO("reason of " << reason.size() << " bytes");
    const std::string p = ws::close_payload(1001, reason);
    REQUIRE(p.size() >= 2);
    CHECK(p.size() <= 125);
    CHECK(p.substr(0, 2) == bytes({0x03, 0xE9}));
    const std::string kept = p.substr(2);
    // a prefix of the reason, valid and complete UTF-8
    CHECK(reason.compare(0, kept.size(), kept) == 0);
    ws::utf8_validator v;
    CHECK(v.feed(reinterpret_cast<const unsigned char*>(kept.data()), kept.size()));
    CHECK(v.complete());
    return kept.size();
  };
  std::string two_byte;  // "é" × 62 = 124 bytes: byte 123 is the middle of the 62nd character
  for (int i = 0; i < 62; ++i) two_byte += "\xC3\xA9";
  CHECK(check_cut(two_byte) == 122);
  std::string three_byte = "a";  // "a" + "€" × 41 = 124 bytes: byte 123 splits the last euro
  for (int i = 0; i < 41; ++i) three_byte += "\xE2\x82\xAC";
  CHECK(check_cut(three_byte) == 121);
  std::string four_byte;  // "😀" × 31 = 124 bytes
  for (int i = 0; i < 31; ++i) four_byte += "\xF0\x9F\x98\x80";
  CHECK(check_cut(four_byte) == 120);
  for (int pad = 0; pad < 4; ++pad) {
    std::string mixed(static_cast<std::size_t>(pad), 'p');
    for (int i = 0; i < 40; ++i) mixed += "\xF0\x9F\x98\x80";
    CHECK(check_cut(mixed) >= 120);
  }

  // What close_payload builds is a valid close frame for the reader too.
  ws::frame_reader r(big_limit);
  recorder s;
  feed(r, s, close_frame(ws::close_payload(1001, two_byte)));
  REQUIRE(s.events.size() == 1);
  CHECK(s.events[0].kind == event::close);
  CHECK(s.events[0].code == 1001);
  CHECK(s.events[0].data == two_byte.substr(0, 122));
}

TEST_CASE("ws wire: valid_close_code follows RFC 6455 §7.4") {
  for (const int code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
                         3000, 3999, 4000, 4999}) {
    CAPTURE(code);
    CHECK(ws::valid_close_code(code));
  }
  for (const int code : {-1, 0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535}) {
    CAPTURE(code);
    CHECK_FALSE(ws::valid_close_code(code));
  }
}

// ---- utf8_validator -----------------------------------------------------------------------

namespace {

bool utf8_ok(const std::string& s) {
  ws::utf8_validator v;
  return v.feed(reinterpret_cast<const unsigned char*>(s.data()), s.size()) && v.complete();
}

bool utf8_feed_ok(const std::string& s) {
  ws::utf8_validator v;
  return v.feed(reinterpret_cast<const unsigned char*>(s.data()), s.size());
}

}  // namespace

TEST_CASE("ws wire: utf8_validator accepts UTF-8 and refuses what RFC 3629 forbids") {
  CHECK(utf8_ok(""));
  CHECK(utf8_ok("plain ASCII, longer than eight bytes"));
  CHECK(utf8_ok("\xC3\xA9"));                   // é
  CHECK(utf8_ok("\xE2\x82\xAC"));               // €
  CHECK(utf8_ok("\xF0\x9F\x98\x80"));           // 😀, valid 4-byte
  CHECK(utf8_ok("\xED\x9F\xBF"));               // U+D7FF, just below the surrogates
  CHECK(utf8_ok("\xEE\x80\x80"));               // U+E000, just above them
  CHECK(utf8_ok("\xF4\x8F\xBF\xBF"));           // U+10FFFF
  CHECK(utf8_ok("\xE0\xA0\x80"));               // U+0800, smallest 3-byte
  CHECK(utf8_ok("\xF0\x90\x80\x80"));           // U+10000, smallest 4-byte
  CHECK(utf8_ok("abcdefgh\xC3\xA9ijklmnopq"));  // non-ASCII after a full ASCII word

  CHECK_FALSE(utf8_feed_ok("\xC0\x80"));          // overlong NUL
  CHECK_FALSE(utf8_feed_ok("\xC1\xBF"));          // overlong 2-byte
  CHECK_FALSE(utf8_feed_ok("\xE0\x80\x80"));      // overlong 3-byte
  CHECK_FALSE(utf8_feed_ok("\xE0\x9F\xBF"));      // overlong 3-byte (U+07FF)
  CHECK_FALSE(utf8_feed_ok("\xF0\x80\x80\x80"));  // overlong 4-byte
  CHECK_FALSE(utf8_feed_ok("\xF0\x8F\xBF\xBF"));  // overlong 4-byte (U+FFFF)
  CHECK_FALSE(utf8_feed_ok("\xED\xA0\x80"));      // surrogate U+D800
  CHECK_FALSE(utf8_feed_ok("\xED\xBF\xBF"));      // surrogate U+DFFF
  CHECK_FALSE(utf8_feed_ok("\xF4\x90\x80\x80"));  // U+110000
  CHECK_FALSE(utf8_feed_ok("\xF5\x80\x80\x80"));  // no such lead byte
  CHECK_FALSE(utf8_feed_ok("\xFF"));
  CHECK_FALSE(utf8_feed_ok("\x80"));    // lone continuation
  CHECK_FALSE(utf8_feed_ok("a\xC3z"));  // lead byte, then no continuation
  CHECK_FALSE(utf8_feed_ok("\xE2\x82z"));
  CHECK_FALSE(utf8_feed_ok("abcdefghijk\xFE"));
}

TEST_CASE("ws wire: utf8_validator is resumable and knows when a character is complete") {
  const std::string s = "a\xF0\x9F\x98\x80z\xE2\x82\xAC\xC3\xA9";
  // Every split point, in two feeds.
  for (std::size_t k = 0; k <= s.size(); ++k) {
    CAPTURE(k);
    ws::utf8_validator v;
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    REQUIRE(v.feed(p, k));
    REQUIRE(v.feed(p + k, s.size() - k));
    CHECK(v.complete());
  }
  ws::utf8_validator v;
  CHECK(v.complete());
  const auto* p = reinterpret_cast<const unsigned char*>("\xF0\x9F\x98\x80");
  CHECK(v.feed(p, 1));
  CHECK_FALSE(v.complete());
  CHECK(v.feed(p + 1, 2));
  CHECK_FALSE(v.complete());
  CHECK(v.feed(p + 3, 1));
  CHECK(v.complete());

  // A surrogate split across feeds is still refused; the restriction survives the split.
  ws::utf8_validator w;
  const auto* q = reinterpret_cast<const unsigned char*>("\xED\xA0\x80");
  CHECK(w.feed(q, 1));
  CHECK_FALSE(w.feed(q + 1, 2));

  // reset() forgets an unfinished character.
  ws::utf8_validator x;
  CHECK(x.feed(p, 2));
  x.reset();
  CHECK(x.complete());
  const auto* a = reinterpret_cast<const unsigned char*>("a");
  CHECK(x.feed(a, 1));
  CHECK(x.complete());
}

// ---- frame_reader: what it delivers -------------------------------------------------------

TEST_CASE("ws wire: a masked text frame delivered whole") {
  const std::string msg = "The quick brown fox jumps over the lazy dog: caf\xC3\xA9";
  ws::frame_reader r(big_limit);
  recorder s;
  feed(r, s, text(msg));
  INFO(s.log());
  REQUIRE(s.events.size() == 1);
  CHECK(s.events[0].kind == event::message);
  CHECK(s.events[0].data == msg);
  CHECK_FALSE(r.stopped());

  // Several frames in one buffer, each with its own mask.
  feed(r, s,
       text("one") + frame(fin_bit | ws::text, "two", {0x01, 0x02, 0x03, 0x04}) +
           frame(fin_bit | ws::text, "three", {0x00, 0x00, 0x00, 0x00}));
  CHECK(s.messages() == std::vector<std::string>{msg, "one", "two", "three"});
}

TEST_CASE("ws wire: a frame fed one byte at a time, and split at every point") {
  const std::string msg = "hello, byte by byte \xF0\x9F\x98\x80 and a bit more text";
  for (const std::size_t size : {msg.size(), std::size_t{200}, std::size_t{70000}}) {
    std::string payload = msg;
    while (payload.size() < size) payload += 'x';
    CAPTURE(payload.size());
    const std::string f = text(payload);
    {
      ws::frame_reader r(big_limit);
      recorder s;
      feed_bytewise(r, s, f);
      INFO(s.log().substr(0, 200));
      CHECK(s.messages() == std::vector<std::string>{payload});
      CHECK(s.events.size() == 1);
    }
    if (size > 300) continue;  // every split point only for the smaller ones
    for (std::size_t k = 0; k <= f.size(); ++k) {
      CAPTURE(k);
      ws::frame_reader r(big_limit);
      recorder s;
      feed(r, s, f.substr(0, k));
      feed(r, s, f.substr(k));
      CHECK(s.messages() == std::vector<std::string>{payload});
      CHECK(s.events.size() == 1);
    }
  }
}

TEST_CASE("ws wire: a control frame fed one byte at a time") {
  ws::frame_reader r(big_limit);
  recorder s;
  feed_bytewise(r, s, ping("are you there?") + pong("yes") + text("ok"));
  INFO(s.log());
  REQUIRE(s.events.size() == 3);
  CHECK(s.events[0].kind == event::ping);
  CHECK(s.events[0].data == "are you there?");
  CHECK(s.events[1].kind == event::pong);
  CHECK(s.events[1].data == "yes");
  CHECK(s.events[2].kind == event::message);
  CHECK(s.events[2].data == "ok");
}

TEST_CASE("ws wire: a fragmented message with a ping in between") {
  const std::string stream =
      text("Hello, ", false) + cont("fragmented ", false) + ping("p1") + cont("world", true);
  SECTION("in one buffer") {
    ws::frame_reader r(big_limit);
    recorder s;
    feed(r, s, stream);
    INFO(s.log());
    REQUIRE(s.events.size() == 2);
    CHECK(s.events[0].kind == event::ping);
    CHECK(s.events[0].data == "p1");
    CHECK(s.events[1].kind == event::message);
    CHECK(s.events[1].data == "Hello, fragmented world");
  }
  SECTION("one byte at a time") {
    ws::frame_reader r(big_limit);
    recorder s;
    feed_bytewise(r, s, stream);
    INFO(s.log());
    REQUIRE(s.events.size() == 2);
    CHECK(s.events[0].kind == event::ping);
    CHECK(s.events[0].data == "p1");
    CHECK(s.events[1].data == "Hello, fragmented world");
  }
  SECTION("a ping with an empty payload, and another message afterwards") {
    ws::frame_reader r(big_limit);
    recorder s;
    feed(r, s, text("a", false) + ping("") + pong("") + cont("b", true) + text("c"));
    INFO(s.log());
    REQUIRE(s.events.size() == 4);
    CHECK(s.events[0].kind == event::ping);
    CHECK(s.events[0].data.empty());
    CHECK(s.events[1].kind == event::pong);
    CHECK(s.events[2].data == "ab");
    CHECK(s.events[3].data == "c");
  }
  SECTION("empty fragments") {
    ws::frame_reader r(big_limit);
    recorder s;
    feed(r, s, text("", false) + cont("x", false) + cont("", false) + cont("", true));
    CHECK(s.messages() == std::vector<std::string>{"x"});
  }
}

TEST_CASE("ws wire: UTF-8 split across fragments and across feed calls") {
  SECTION("across fragments") {
    ws::frame_reader r(big_limit);
    recorder s;
    // é = C3 A9; 😀 = F0 9F 98 80
    feed(r, s,
         text("caf\xC3", false) + cont("\xA9 \xF0\x9F", false) + ping("z") + cont("\x98", false) +
             cont("\x80!", true));
    INFO(s.log());
    CHECK(s.messages() == std::vector<std::string>{"caf\xC3\xA9 \xF0\x9F\x98\x80!"});
    CHECK(s.count(event::violation) == 0);
  }
  SECTION("across feed calls, inside one frame") {
    const std::string msg = "\xE2\x82\xAC\xF0\x9F\x98\x80\xC3\xA9";
    const std::string f = text(msg);
    for (std::size_t k = 0; k <= f.size(); ++k) {
      CAPTURE(k);
      ws::frame_reader r(big_limit);
      recorder s;
      feed(r, s, f.substr(0, k));
      feed(r, s, f.substr(k));
      CHECK(s.messages() == std::vector<std::string>{msg});
      CHECK(s.events.size() == 1);
    }
  }
}

TEST_CASE("ws wire: an empty text message is delivered as \"\"") {
  ws::frame_reader r(big_limit);
  recorder s;
  feed(r, s, text(""));
  REQUIRE(s.events.size() == 1);
  CHECK(s.events[0].kind == event::message);
  CHECK(s.events[0].data.empty());
  feed(r, s, text("next"));
  CHECK(s.messages() == std::vector<std::string>{"", "next"});
}

TEST_CASE("ws wire: a message of exactly max_message_bytes is delivered") {
  const std::size_t limit = 300;
  const std::string payload(limit, 'm');
  SECTION("in one frame") {
    ws::frame_reader r(limit);
    recorder s;
    feed(r, s, text(payload));
    CHECK(s.messages() == std::vector<std::string>{payload});
  }
  SECTION("in one frame, fed in two parts") {
    ws::frame_reader r(limit);
    recorder s;
    const std::string f = text(payload);
    feed(r, s, f.substr(0, 100));
    feed(r, s, f.substr(100));
    CHECK(s.messages() == std::vector<std::string>{payload});
  }
  SECTION("in fragments") {
    ws::frame_reader r(limit);
    recorder s;
    feed(r, s,
         text(payload.substr(0, 100), false) + cont(payload.substr(100, 150), false) +
             cont(payload.substr(250), true));
    CHECK(s.messages() == std::vector<std::string>{payload});
    // The limit is per message: the next one starts from zero.
    feed(r, s, text(payload));
    CHECK(s.messages().size() == 2);
    CHECK(s.count(event::violation) == 0);
  }
}

TEST_CASE("ws wire: a large fragmented message leaves no large buffer behind") {
  ws::frame_reader r(big_limit);
  recorder s;
  const std::string part(50000, 'q');
  feed(r, s, text(part, false) + cont(part, true));
  REQUIRE(s.messages().size() == 1);
  CHECK(s.messages()[0].size() == 100000);
  CHECK(r.held_bytes() <= 4096 * 2);
}

// ---- frame_reader: close frames ---------------------------------------------------------

TEST_CASE("ws wire: a close frame with a code and a reason stops the reader") {
  ws::frame_reader r(big_limit);
  recorder s;
  feed(r, s, text("before") + close_frame(1000, "bye \xC3\xA9") + text("after") + ping("x"));
  INFO(s.log());
  REQUIRE(s.events.size() == 2);
  CHECK(s.events[0].data == "before");
  CHECK(s.events[1].kind == event::close);
  CHECK(s.events[1].code == 1000);
  CHECK(s.events[1].data == "bye \xC3\xA9");
  CHECK(r.stopped());
  feed(r, s, text("later"));
  CHECK(s.events.size() == 2);
}

TEST_CASE("ws wire: a close frame inside a fragmented message, fed byte by byte") {
  ws::frame_reader r(big_limit);
  recorder s;
  feed_bytewise(r, s, text("partial", false) + close_frame(1001, "going") + cont("x", true));
  INFO(s.log());
  REQUIRE(s.events.size() == 1);
  CHECK(s.events[0].kind == event::close);
  CHECK(s.events[0].code == 1001);
  CHECK(s.events[0].data == "going");
  CHECK(r.stopped());
}

TEST_CASE("ws wire: an empty close frame reports 1005") {
  ws::frame_reader r(big_limit);
  recorder s;
  feed(r, s, close_frame(std::string_view{}) + text("ignored"));
  REQUIRE(s.events.size() == 1);
  CHECK(s.events[0].kind == event::close);
  CHECK(s.events[0].code == ws::close_no_status);
  CHECK(s.events[0].code == 1005);
  CHECK(s.events[0].data.empty());
  CHECK(r.stopped());
}

TEST_CASE("ws wire: a close payload of one byte is a protocol error") {
  expect_violation(big_limit, close_frame(bytes({0x03})), 1002);
}

TEST_CASE("ws wire: invalid close codes are protocol errors") {
  for (const int code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535}) {
    CAPTURE(code);
    expect_violation(big_limit, close_frame(code), 1002);
    expect_violation(big_limit, close_frame(code, "with reason"), 1002);
  }
}

TEST_CASE("ws wire: valid close codes are accepted") {
  for (const int code : {1000, 1001, 1002, 1003, 1007, 1008, 1011, 1012, 3000, 4000, 4999}) {
    CAPTURE(code);
    ws::frame_reader r(big_limit);
    recorder s;
    feed(r, s, close_frame(code, "r"));
    INFO(s.log());
    REQUIRE(s.events.size() == 1);
    CHECK(s.events[0].kind == event::close);
    CHECK(s.events[0].code == code);
    CHECK(s.events[0].data == "r");
    CHECK(r.stopped());
  }
}

TEST_CASE("ws wire: a close reason that is not UTF-8 is a protocol error") {
  expect_violation(big_limit, close_frame(1000, "bad \xFF"), 1002);
  expect_violation(big_limit, close_frame(1000, "cut \xC3"), 1002);      // incomplete
  expect_violation(big_limit, close_frame(1000, "\xED\xA0\x80"), 1002);  // surrogate
}

// ---- frame_reader: violations -------------------------------------------------------------

TEST_CASE("ws wire: invalid UTF-8 in a text message is 1007 and nothing is delivered after") {
  SECTION("in a single frame") { expect_violation(big_limit, text("abc\xFFxyz"), 1007); }
  SECTION("in a fragment, before the message ends") {
    ws::frame_reader r(big_limit);
    recorder s;
    feed(r, s,
         text("ok so far ", false) + cont("then \xC0\x80 overlong", false) + cont(" end", true) +
             text("next"));
    INFO(s.log());
    REQUIRE(s.events.size() == 1);
    CHECK(s.events[0].kind == event::violation);
    CHECK(s.events[0].code == 1007);
    CHECK(r.stopped());
  }
  SECTION("a surrogate split across fragments") {
    expect_violation(big_limit, text("x\xED", false) + cont("\xA0\x80", true), 1007);
  }
  SECTION("fed one byte at a time") {
    ws::frame_reader r(big_limit);
    recorder s;
    feed_bytewise(r, s, text("abc\xF4\x90\x80\x80") + text("next"));
    INFO(s.log());
    REQUIRE(s.events.size() == 1);
    CHECK(s.events[0].kind == event::violation);
    CHECK(s.events[0].code == 1007);
  }
}

TEST_CASE("ws wire: a message that ends inside a UTF-8 sequence is 1007") {
  SECTION("a single frame") { expect_violation(big_limit, text("abc\xE2\x82"), 1007); }
  SECTION("a single frame fed in parts") {
    ws::frame_reader r(big_limit);
    recorder s;
    const std::string f = text("abc\xF0\x9F\x98");
    feed(r, s, f.substr(0, 7));
    feed(r, s, f.substr(7));
    INFO(s.log());
    REQUIRE(s.events.size() == 1);
    CHECK(s.events[0].kind == event::violation);
    CHECK(s.events[0].code == 1007);
  }
  SECTION("the last fragment") {
    expect_violation(big_limit, text("abc", false) + cont("\xE2\x82", true), 1007);
  }
  SECTION("an empty last fragment after an unfinished character") {
    expect_violation(big_limit, text("abc\xC3", false) + cont("", true), 1007);
  }
}

TEST_CASE("ws wire: an unmasked client frame is 1002") {
  expect_violation(big_limit, unmasked_frame(fin_bit | ws::text, "hello"), 1002);
  expect_violation(big_limit, unmasked_frame(fin_bit | ws::ping, ""), 1002);
  expect_violation(big_limit, unmasked_frame(fin_bit | ws::text, std::string(200, 'u')), 1002);
}

TEST_CASE("ws wire: RSV bits without an extension are 1002") {
  for (const int rsv : {0x40, 0x20, 0x10, 0x70}) {
    CAPTURE(rsv);
    expect_violation(big_limit, frame(static_cast<std::uint8_t>(fin_bit | rsv | ws::text), "x"),
                     1002);
    expect_violation(big_limit, frame(static_cast<std::uint8_t>(fin_bit | rsv | ws::ping), ""),
                     1002);
  }
}

TEST_CASE("ws wire: reserved opcodes are 1002") {
  for (const int op : {0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    CAPTURE(op);
    expect_violation(big_limit, frame(static_cast<std::uint8_t>(fin_bit | op), "x"), 1002);
  }
}

TEST_CASE("ws wire: a control frame over 125 bytes is 1002") {
  expect_violation(big_limit, ping(std::string(126, 'p')), 1002);
  expect_violation(big_limit, pong(std::string(200, 'p')), 1002);
  expect_violation(big_limit, close_frame(1000, std::string(124, 'c')), 1002);
  // 125 is fine
  ws::frame_reader r(big_limit);
  recorder s;
  feed(r, s, ping(std::string(125, 'p')) + close_frame(1000, std::string(123, 'c')));
  INFO(s.log());
  REQUIRE(s.events.size() == 2);
  CHECK(s.events[0].kind == event::ping);
  CHECK(s.events[0].data == std::string(125, 'p'));
  CHECK(s.events[1].kind == event::close);
  CHECK(s.events[1].data == std::string(123, 'c'));
}

TEST_CASE("ws wire: a fragmented control frame is 1002") {
  expect_violation(big_limit, frame(ws::ping, "p"), 1002);
  expect_violation(big_limit, frame(ws::pong, ""), 1002);
  expect_violation(big_limit, frame(ws::close, bytes({0x03, 0xE8})), 1002);
}

TEST_CASE("ws wire: a continuation with nothing to continue is 1002") {
  expect_violation(big_limit, cont("x", true), 1002);
  expect_violation(big_limit, cont("x", false), 1002);
  // also after a complete message
  ws::frame_reader r(big_limit);
  recorder s;
  feed(r, s, text("done") + cont("more", true));
  INFO(s.log());
  REQUIRE(s.events.size() == 2);
  CHECK(s.events[0].data == "done");
  CHECK(s.events[1].kind == event::violation);
  CHECK(s.events[1].code == 1002);
}

TEST_CASE("ws wire: a new text frame inside a fragmented message is 1002") {
  expect_violation(big_limit, text("a", false) + text("b", true), 1002);
  expect_violation(big_limit, text("a", false) + text("b", false), 1002);
  expect_violation(big_limit, text("a", false) + frame(fin_bit | ws::binary, "b"), 1002);
}

TEST_CASE("ws wire: a binary frame is 1003") {
  expect_violation(big_limit, frame(fin_bit | ws::binary, "\x01\x02"), 1003);
  expect_violation(big_limit, frame(ws::binary, "\x01\x02"), 1003);
  expect_violation(big_limit, frame(fin_bit | ws::binary, ""), 1003);
}

TEST_CASE("ws wire: a frame over max_message_bytes is 1009, as soon as its header is read") {
  const std::size_t limit = 100;
  expect_violation(limit, text(std::string(101, 'x')), 1009);
  expect_violation(limit, text(std::string(101, 'x'), false), 1009);
  // Only the header and a few payload bytes: the violation does not wait for the payload.
  const std::string header_only =
      frame_with_length_bytes(fin_bit | ws::text, bytes({126, 0x10, 0x00}), "abcd");
  expect_violation(limit, header_only, 1009);
  const std::string huge = frame_with_length_bytes(
      fin_bit | ws::text, bytes({127, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00}), "");
  expect_violation(limit, huge, 1009);
}

TEST_CASE("ws wire: a message whose fragments together exceed the limit is 1009") {
  const std::size_t limit = 10;
  expect_violation(limit, text("hello", false) + cont("world!", true), 1009);
  expect_violation(limit, text("hello", false) + cont("world", false) + cont("!", true), 1009);
  // With a ping in between: the ping is reported, then the violation.
  ws::frame_reader r(limit);
  recorder s;
  feed(r, s, text("hello", false) + cont("wor", false) + ping("p") + cont("ld!", true));
  INFO(s.log());
  REQUIRE(s.events.size() == 2);
  CHECK(s.events[0].kind == event::ping);
  CHECK(s.events[1].kind == event::violation);
  CHECK(s.events[1].code == 1009);
}

TEST_CASE("ws wire: a 64-bit length with the top bit set is 1009") {
  // Even when no size limit would refuse it (RFC 6455 §5.2: the most significant bit is 0).
  expect_violation(std::numeric_limits<std::size_t>::max(),
                   frame_with_length_bytes(fin_bit | ws::text,
                                           bytes({127, 0x80, 0, 0, 0, 0, 0, 0, 0x05}), "hello"),
                   1009);
  expect_violation(big_limit,
                   frame_with_length_bytes(fin_bit | ws::text,
                                           bytes({127, 0x80, 0, 0, 0, 0, 0, 0, 0x05}), "hello"),
                   1009);
  expect_violation(
      big_limit,
      frame_with_length_bytes(fin_bit | ws::text,
                              bytes({127, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}), ""),
      1009);
}

TEST_CASE("ws wire: a non-minimal length encoding is 1002") {
  // 100 in the 16-bit form
  expect_violation(
      big_limit,
      frame_with_length_bytes(fin_bit | ws::text, bytes({126, 0x00, 100}), std::string(100, 'n')),
      1002);
  // 0 in the 16-bit form
  expect_violation(big_limit, frame_with_length_bytes(fin_bit | ws::text, bytes({126, 0, 0}), ""),
                   1002);
  // 200 in the 64-bit form
  expect_violation(
      big_limit,
      frame_with_length_bytes(fin_bit | ws::text, bytes({127, 0, 0, 0, 0, 0, 0, 0, 200}),
                              std::string(200, 'n')),
      1002);
  // 65535 in the 64-bit form
  expect_violation(
      big_limit,
      frame_with_length_bytes(fin_bit | ws::text, bytes({127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF}),
                              std::string(65535, 'n')),
      1002);
  // The minimal forms at the edges are fine.
  ws::frame_reader r(big_limit);
  recorder s;
  feed(r, s, text(std::string(126, 'a')) + text(std::string(65536, 'b')));
  INFO(s.log().substr(0, 200));
  REQUIRE(s.messages().size() == 2);
  CHECK(s.messages()[0] == std::string(126, 'a'));
  CHECK(s.messages()[1] == std::string(65536, 'b'));
}

TEST_CASE("ws wire: a violation in a header fed byte by byte stops the reader") {
  ws::frame_reader r(big_limit);
  recorder s;
  feed_bytewise(r, s, text("fine") + unmasked_frame(fin_bit | ws::text, "bad") + text("never"));
  INFO(s.log());
  REQUIRE(s.events.size() == 2);
  CHECK(s.events[0].data == "fine");
  CHECK(s.events[1].kind == event::violation);
  CHECK(s.events[1].code == 1002);
  CHECK(r.stopped());
}

// ---- HTTP request heads -------------------------------------------------------------------

namespace {

const char* const upgrade_request =
    "GET /api/ws?token=abc HTTP/1.1\r\n"
    "Host: example.com:8080\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Origin: https://example.com\r\n"
    "\r\n";

}  // namespace

TEST_CASE("http head: a normal upgrade request") {
  const auto h = rt::parse_request_head(upgrade_request);
  REQUIRE(h);
  CHECK(h->method == "GET");
  CHECK(h->target == "/api/ws?token=abc");
  CHECK(h->minor_version == 1);
  REQUIRE(h->fields.size() == 6);
  CHECK(h->fields[0] == std::pair<std::string, std::string>{"Host", "example.com:8080"});
  CHECK(h->fields[5] == std::pair<std::string, std::string>{"Origin", "https://example.com"});
  CHECK(h->field("Upgrade") == "websocket");
  CHECK(h->field("Sec-WebSocket-Key") == "dGhlIHNhbXBsZSBub25jZQ==");
  CHECK(h->field("Sec-WebSocket-Version") == "13");
  CHECK(h->field("Authorization") == std::nullopt);
  CHECK(h->field_has_token("Connection", "upgrade"));
  CHECK(h->field_has_token("Upgrade", "WebSocket"));

  const auto h10 = rt::parse_request_head("GET / HTTP/1.0\r\n\r\n");
  REQUIRE(h10);
  CHECK(h10->minor_version == 0);
  CHECK(h10->fields.empty());
}

TEST_CASE("http head: field lookup is case-insensitive and joins repeated fields") {
  const auto h = rt::parse_request_head(
      "GET / HTTP/1.1\r\n"
      "Accept: text/html\r\n"
      "X-Other: 1\r\n"
      "accept: application/json\r\n"
      "ACCEPT: */*\r\n"
      "\r\n");
  REQUIRE(h);
  CHECK(h->field("Accept") == "text/html, application/json, */*");
  CHECK(h->field("aCcEpT") == "text/html, application/json, */*");
  CHECK(h->field("x-other") == "1");
  CHECK(h->field("X-Othe") == std::nullopt);
  CHECK(h->field("X-Other2") == std::nullopt);
}

TEST_CASE("http head: field_has_token reads comma-separated lists") {
  const auto h = rt::parse_request_head(
      "GET / HTTP/1.1\r\n"
      "Connection: keep-alive, Upgrade\r\n"
      "upgrade: websocket\r\n"
      "X-List: a ,\tb,,c  \r\n"
      "X-Split: first\r\n"
      "x-split: second\r\n"
      "X-Near: Upgrades, upgrad\r\n"
      "\r\n");
  REQUIRE(h);
  CHECK(h->field_has_token("Connection", "Upgrade"));
  CHECK(h->field_has_token("connection", "upgrade"));
  CHECK(h->field_has_token("CONNECTION", "Keep-Alive"));
  CHECK_FALSE(h->field_has_token("Connection", "close"));
  CHECK(h->field_has_token("Upgrade", "websocket"));
  CHECK(h->field_has_token("X-List", "a"));
  CHECK(h->field_has_token("X-List", "b"));
  CHECK(h->field_has_token("X-List", "c"));
  CHECK(h->field_has_token("X-Split", "first"));
  CHECK(h->field_has_token("X-Split", "second"));
  CHECK_FALSE(h->field_has_token("X-Near", "upgrade"));
  CHECK_FALSE(h->field_has_token("Missing", "upgrade"));
}

TEST_CASE("http head: optional whitespace around field values is trimmed") {
  const auto h = rt::parse_request_head(
      "GET / HTTP/1.1\r\n"
      "Host:example.com\r\n"
      "Upgrade:   websocket  \r\n"
      "X-Tabs:\t inner  space \t\r\n"
      "X-Empty:   \r\n"
      "\r\n");
  REQUIRE(h);
  CHECK(h->field("Host") == "example.com");
  CHECK(h->field("Upgrade") == "websocket");
  CHECK(h->field("X-Tabs") == "inner  space");
  CHECK(h->field("X-Empty") == "");
}

TEST_CASE("http head: malformed request heads are refused") {
  const char* const bad[] = {
      "GET /\r\n\r\n",           // missing version
      "GET\r\n\r\n",             // method only
      "get / HTTP/1.1\r\n\r\n",  // lowercase method
      "G3T / HTTP/1.1\r\n\r\n",
      "GET / HTTP/2.0\r\n\r\n",  // not HTTP/1.x
      "GET / HTTP/1.10\r\n\r\n",
      "GET / HTTP/1.\r\n\r\n",
      "GET / http/1.1\r\n\r\n",
      "GET /a\x01z HTTP/1.1\r\n\r\n",  // control character in the target
      "GET /a\x7Fz HTTP/1.1\r\n\r\n",
      "GET /a\tb HTTP/1.1\r\n\r\n",
      "GET /a b HTTP/1.1\r\n\r\n",  // space in the target
      "GET  / HTTP/1.1\r\n\r\n",    // two spaces
      " GET / HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1\r\nHost example.com\r\n\r\n",  // header line without a colon
      "GET / HTTP/1.1\r\n: no name\r\n\r\n",         // empty field name
      "GET / HTTP/1.1\r\nHost : x\r\n\r\n",          // whitespace before the colon
      "GET / HTTP/1.1\r\nBad(Name): x\r\n\r\n",      // not a token
      "GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n",         // control character in a value
      "GET / HTTP/1.1\r\nHost: x\r\n",               // no empty line
      "GET / HTTP/1.1\r\n",
      "GET / HTTP/1.1",
      "",
  };
  for (const char* head : bad) {
    CAPTURE(head);
    CHECK_FALSE(rt::parse_request_head(head));
  }
}

// ---- HTTP responses -----------------------------------------------------------------------

namespace {

struct parsed_response {
  std::string status_line;
  std::vector<std::string> lines;  // header lines
  std::string body;
  bool has(const std::string& line) const {
    for (const auto& l : lines) {
      if (l == line) return true;
    }
    return false;
  }
  std::size_t count_prefix(const std::string& prefix) const {
    std::size_t n = 0;
    for (const auto& l : lines) n += l.compare(0, prefix.size(), prefix) == 0 ? 1 : 0;
    return n;
  }
};

parsed_response parse_response(const std::string& text) {
  parsed_response r;
  const auto end = text.find("\r\n\r\n");
  REQUIRE(end != std::string::npos);
  r.body = text.substr(end + 4);
  const std::string head = text.substr(0, end + 2);
  std::size_t at = 0;
  bool first = true;
  while (at < head.size()) {
    const auto eol = head.find("\r\n", at);
    REQUIRE(eol != std::string::npos);
    const std::string line = head.substr(at, eol - at);
    if (first) {
      r.status_line = line;
      first = false;
    } else {
      r.lines.push_back(line);
    }
    at = eol + 2;
  }
  return r;
}

}  // namespace

TEST_CASE("http response: status line, length, server, headers, connection") {
  rt::http_reply reply;
  reply.status = 404;
  reply.content_type = "text/plain; charset=utf-8";
  reply.body = "not found: caf\xC3\xA9\n";
  reply.headers = {{"Cache-Control", "no-store"}, {"X-Extra", "1"}};

  const parsed_response keep = parse_response(rt::format_response(reply, false));
  CHECK(keep.status_line == "HTTP/1.1 404 Not Found");
  CHECK(keep.has("Content-Length: " + std::to_string(reply.body.size())));
  CHECK(keep.count_prefix("Content-Length:") == 1);
  CHECK(keep.has("Server: roomwire"));
  CHECK(keep.has("Content-Type: text/plain; charset=utf-8"));
  CHECK(keep.has("Cache-Control: no-store"));
  CHECK(keep.has("X-Extra: 1"));
  CHECK(keep.count_prefix("Connection:") == 0);
  CHECK(keep.body == reply.body);

  const parsed_response closing = parse_response(rt::format_response(reply, true));
  CHECK(closing.status_line == "HTTP/1.1 404 Not Found");
  CHECK(closing.has("Connection: close"));
  CHECK(closing.count_prefix("Connection:") == 1);
  CHECK(closing.body == reply.body);
}

TEST_CASE("http response: reason phrases and an empty body") {
  const std::pair<int, const char*> cases[] = {
      {200, "OK"},
      {101, "Switching Protocols"},
      {400, "Bad Request"},
      {403, "Forbidden"},
      {405, "Method Not Allowed"},
      {426, "Upgrade Required"},
      {431, "Request Header Fields Too Large"},
      {503, "Service Unavailable"},
  };
  for (const auto& [status, phrase] : cases) {
    CAPTURE(status);
    rt::http_reply reply;
    reply.status = status;
    const std::string text = rt::format_response(reply, false);
    const parsed_response r = parse_response(text);
    CHECK(r.status_line == "HTTP/1.1 " + std::to_string(status) + " " + phrase);
    CHECK(r.has("Content-Length: 0"));
    CHECK(r.has("Server: roomwire"));
    CHECK(r.body.empty());
    // the head ends with exactly one empty line
    CHECK(text.size() >= 4);
    CHECK(text.compare(text.size() - 4, 4, "\r\n\r\n") == 0);
  }

  rt::http_reply big;
  big.body = std::string(70000, 'z');
  const parsed_response r = parse_response(rt::format_response(big, true));
  CHECK(r.status_line == "HTTP/1.1 200 OK");
  CHECK(r.has("Content-Length: 70000"));
  CHECK(r.body.size() == 70000);
}
