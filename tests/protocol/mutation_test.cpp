// Randomised mutation of the golden frames (deterministic seed): every mutant is parsed and
// decoded as every type its `type` names. Each must decode, or be refused with a reason and a
// JSON Pointer; whatever decodes must encode and decode again to the same value. Runs under
// ASan + UBSan in CI, where a crash or an invalid read fails it.

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

#include "protocol_test_support.hpp"
#include "roomwire/protocol.hpp"

namespace rp = roomwire::protocol;

namespace {

constexpr int total_mutants = 20000;

struct stats {
  int parsed = 0;
  int refused_frame = 0;
  int decoded = 0;
  int refused_payload = 0;
  int violations = 0;
  std::string first_violation;
};

std::string escape_for_report(std::string_view s) {
  std::ostringstream out;
  for (const char c : s.substr(0, 400)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7F || c == '\\') {
      const char* hex = "0123456789abcdef";
      out << "\\x" << hex[u >> 4] << hex[u & 15];
    } else {
      out << c;
    }
  }
  if (s.size() > 400) out << "... (" << s.size() << " bytes)";
  return out.str();
}

void violation(stats& st, std::string_view input, const std::string& what) {
  if (st.violations++ == 0) st.first_violation = what + "\n  input: " + escape_for_report(input);
}

// The shape every refusal must have.
void check_refusal(stats& st, std::string_view input, const rp::decode_error& err,
                   bool after_parse) {
  if (err.reason.empty()) violation(st, input, "empty reason");
  if (!roomwire_test::is_utf8(err.reason)) violation(st, input, "reason is not UTF-8");
  if (!roomwire_test::is_json_pointer(err.path)) {
    violation(st, input, "path is not a JSON Pointer: " + escape_for_report(err.path));
  }
  // A payload refusal points into the payload.
  if (after_parse && err.path.compare(0, 8, "/payload") != 0) {
    violation(st, input, "payload refusal outside /payload: " + err.path);
  }
}

template <class P>
void decode_as(stats& st, std::string_view input, rp::inbound_frame& frame) {
  rp::envelope<P> env;
  if (!frame.decode(env)) {
    ++st.refused_payload;
    check_refusal(st, input, frame.error(), true);
    return;
  }
  ++st.decoded;
  // What decoded encodes, and decodes again to the same value and the same bytes. (A client
  // may leave messageId out; the server assigns one before anything is encoded.)
  if (env.message_id.empty()) env.message_id = "assigned";
  const std::string wire = rp::encode(env);
  const auto again = rp::decode<P>(wire);
  if (!again) {
    violation(st, input,
              "re-encoded frame refused at \"" + again.error.path + "\": " + again.error.reason +
                  "\n  re-encoded: " + escape_for_report(wire));
    return;
  }
  if (!(again->payload == env.payload) || again->timestamp != env.timestamp ||
      again->message_id != env.message_id || again->priority != env.priority) {
    violation(st, input, "re-encoded frame decodes to another value: " + escape_for_report(wire));
  }
  if (rp::encode(*again) != wire) violation(st, input, "encoding is not stable");
}

void feed(stats& st, std::string_view input, rp::inbound_frame& frame) {
  if (!frame.parse(input)) {
    ++st.refused_frame;
    check_refusal(st, input, frame.error(), false);
    // Decoding after a refused frame must refuse too, never read the previous frame.
    rp::envelope<rp::join_room> env;
    if (frame.decode(env)) violation(st, input, "decode succeeded after a refused parse");
    return;
  }
  ++st.parsed;
  const std::string_view type = frame.type();
  if (type == "joinRoom") decode_as<rp::join_room>(st, input, frame);
  if (type == "leaveRoom") decode_as<rp::leave_room>(st, input, frame);
  if (type == "message") {
    decode_as<rp::chat_message>(st, input, frame);
    decode_as<rp::chat_delivery>(st, input, frame);
  }
  if (type == "messageReceived") decode_as<rp::message_received>(st, input, frame);
  if (type == "taskAssign") {
    decode_as<rp::task_assign>(st, input, frame);
    decode_as<rp::task_assign_delivery>(st, input, frame);
  }
  if (type == "taskUpdate") {
    decode_as<rp::task_update>(st, input, frame);
    decode_as<rp::task_update_delivery>(st, input, frame);
  }
  if (type == "error") decode_as<rp::error_payload>(st, input, frame);
  if (type == "healthUpdate") decode_as<rp::health_update>(st, input, frame);
}

// Mutations, drawn from std::mt19937's raw output (its sequence is fixed by the standard;
// the <random> distributions are not).
class mutator {
 public:
  explicit mutator(std::uint32_t seed) : rng_(seed) {}

  std::string mutate(std::string s) {
    const unsigned steps = 1 + below(3);
    for (unsigned i = 0; i < steps; ++i) step(s);
    return s;
  }

 private:
  unsigned below(std::size_t n) { return n == 0 ? 0 : static_cast<unsigned>(rng_() % n); }
  std::size_t pos(const std::string& s) { return below(s.size() + 1); }

  void step(std::string& s) {
    static const char* const tokens[] = {"\\udc00",
                                         "\\ud800",
                                         "\\ud83d\\ude00",
                                         "\\u0000",
                                         "\\",
                                         "\"",
                                         "null",
                                         "true",
                                         "{}",
                                         "[]",
                                         ",",
                                         ":",
                                         "1e400",
                                         "-1e400",
                                         "9223372036854775808",
                                         "18446744073709551616",
                                         "-0",
                                         "0.5",
                                         "1e-400",
                                         "-1",
                                         "\xFF",
                                         "\xC0\xAF",
                                         "\xED\xA0\x80",
                                         "\xF0\x9F\x98\x80",
                                         "\xC3\xA9",
                                         "" /* a NUL byte */,
                                         "\"type\":\"joinRoom\",",
                                         "\"payload\":{},",
                                         "\"metadata\":{\"type\":\"file\"},",
                                         "~1",
                                         "/"};
    switch (below(9)) {
      case 0:  // flip a bit
        if (!s.empty()) s[below(s.size())] ^= static_cast<char>(1u << below(8));
        break;
      case 1:  // overwrite a byte
        if (!s.empty()) s[below(s.size())] = static_cast<char>(below(256));
        break;
      case 2:  // insert a byte
        s.insert(pos(s), 1, static_cast<char>(below(256)));
        break;
      case 3: {  // delete a span
        if (s.empty()) break;
        const std::size_t at = below(s.size());
        s.erase(at, 1 + below(16));
        break;
      }
      case 4: {  // duplicate a span elsewhere
        if (s.empty()) break;
        const std::size_t at = below(s.size());
        const std::string span = s.substr(at, 1 + below(24));
        s.insert(pos(s), span);
        break;
      }
      case 5: {  // deep brackets, sometimes closed, sometimes 100,000 of them
        static const std::size_t depths[] = {1, 2, 30, 31, 32, 33, 64, 1000, 100000};
        const std::size_t n = depths[below(sizeof depths / sizeof depths[0])];
        const bool objects = below(2) == 0;
        std::string open;
        for (std::size_t k = 0; k < n; ++k) open += objects ? "{\"k\":" : "[";
        std::string close;
        if (below(2) == 0) {
          if (objects) close = "0";
          close.append(n, objects ? '}' : ']');
        }
        s.insert(pos(s), open + close);
        break;
      }
      case 6: {  // insert a token
        const char* t = tokens[below(sizeof tokens / sizeof tokens[0])];
        if (*t == '\0') {
          s.insert(pos(s), 1, '\0');
        } else {
          s.insert(pos(s), t);
        }
        break;
      }
      case 7: {  // replace a string's content with a long one
        const std::size_t quote = s.find('"', pos(s));
        if (quote == std::string::npos) break;
        static const std::size_t lengths[] = {64, 65, 128, 129, 1024, 1025, 4097, 65537};
        const std::size_t n = lengths[below(sizeof lengths / sizeof lengths[0])];
        s.insert(quote + 1, std::string(n, below(2) == 0 ? 'x' : 'y'));
        break;
      }
      default: {  // swap two bytes
        if (s.size() < 2) break;
        std::swap(s[below(s.size())], s[below(s.size())]);
        break;
      }
    }
  }

  std::mt19937 rng_;
};

}  // namespace

TEST_CASE("mutated golden frames decode or are refused with a path and a reason", "[mutation]") {
  constexpr std::size_t files = sizeof roomwire_test::golden_files / sizeof(const char*);
  mutator m(0x5EED2025u);
  stats st;
  rp::inbound_frame frame;  // reused, as a connection does
  for (std::size_t f = 0; f < files; ++f) {
    const std::string golden = roomwire_test::read_golden(roomwire_test::golden_files[f]);
    feed(st, golden, frame);
    const int count = total_mutants / static_cast<int>(files) +
                      (f < static_cast<std::size_t>(total_mutants) % files ? 1 : 0);
    for (int i = 0; i < count; ++i) feed(st, m.mutate(golden), frame);
  }
  INFO("parsed " << st.parsed << ", refused frames " << st.refused_frame << ", decoded "
                 << st.decoded << ", refused payloads " << st.refused_payload);
  INFO("first violation: " << st.first_violation);
  CHECK(st.violations == 0);
  CHECK(st.parsed + st.refused_frame == total_mutants + static_cast<int>(files));
  // The mutants reach every outcome, or the test proves little.
  CHECK(st.decoded > 1000);
  CHECK(st.refused_frame > 1000);
  CHECK(st.refused_payload > 100);
}
