// Fuzz target: the envelope/payload decoder (protocol/codec.hpp).
//
// Every input is parsed as an inbound frame, then decoded as every payload type of
// messages.hpp. Whatever decodes is encoded again, and that text must decode to an equal value
// and encode to the same text (the codec's round trip). A reused inbound_frame (as the hub keeps
// one per connection) must reach the same verdict as a fresh one. Any violation aborts.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "roomwire/protocol.hpp"

namespace {

namespace proto = roomwire::protocol;

[[noreturn]] void violated(const char* what, std::string_view first, std::string_view second) {
  std::fprintf(stderr, "fuzz_decode: invariant violated: %s\n  first:  %.*s\n  second: %.*s\n",
               what, static_cast<int>(first.size()), first.data(), static_cast<int>(second.size()),
               second.data());
  std::fflush(stderr);
  std::abort();
}

// A decode failure always says where and why; the where is a JSON Pointer.
void check_error(const proto::decode_error& e, std::string_view input) {
  if (e.reason.empty()) violated("a refusal without a reason", e.path, input);
  if (!e.path.empty() && e.path.front() != '/')
    violated("error path is no JSON Pointer", e.path, input);
}

template <class P>
bool same(const proto::envelope<P>& a, const proto::envelope<P>& b) {
  return a.payload == b.payload && a.timestamp == b.timestamp && a.message_id == b.message_id &&
         a.priority == b.priority;
}

template <class P>
void round_trip(proto::inbound_frame& frame, std::string_view input) {
  proto::envelope<P> env;
  if (!frame.decode(env)) {
    check_error(frame.error(), input);
    return;
  }
  // The encoder always writes messageId, and "" is not a valid one on the wire (1-128 chars): a
  // sender always has an id to put there (the hub assigns one when a client left it out).
  if (env.message_id.empty()) env.message_id = "m";
  const std::string text = proto::encode(env);
  const proto::decode_result<P> again = proto::decode<P>(text);
  if (!again) {
    violated("re-encoded text does not decode", text, again.error.path + " " + again.error.reason);
  }
  if (!same(env, *again)) violated("re-encoded text decodes to another value", input, text);
  const std::string text2 = proto::encode(*again);
  if (text2 != text) violated("encoding is not stable", text, text2);
}

void decode_all(proto::inbound_frame& frame, std::string_view input) {
  round_trip<proto::join_room>(frame, input);
  round_trip<proto::leave_room>(frame, input);
  round_trip<proto::chat_message>(frame, input);
  round_trip<proto::chat_delivery>(frame, input);
  round_trip<proto::message_received>(frame, input);
  round_trip<proto::task_assign>(frame, input);
  round_trip<proto::task_assign_delivery>(frame, input);
  round_trip<proto::task_update>(frame, input);
  round_trip<proto::task_update_delivery>(frame, input);
  round_trip<proto::error_payload>(frame, input);
  round_trip<proto::health_update>(frame, input);
}

bool same_outcome(bool ok_a, const proto::inbound_frame& a, bool ok_b,
                  const proto::inbound_frame& b) {
  if (ok_a != ok_b) return false;
  if (ok_a) {
    return a.type() == b.type() && a.header().message_id == b.header().message_id &&
           a.header().timestamp == b.header().timestamp &&
           a.header().priority == b.header().priority;
  }
  return a.error().path == b.error().path && a.error().reason == b.error().reason &&
         a.error().type == b.error().type && a.error().message_id == b.error().message_id;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  proto::inbound_frame fresh;
  const bool ok = fresh.parse(input);
  if (!ok) check_error(fresh.error(), input);

  // The same frame object after another frame (its buffers, pool and reader stack reused).
  proto::inbound_frame reused;
  static_cast<void>(reused.parse(input.substr(size / 2)));
  static_cast<void>(reused.parse(input.substr(0, size / 2)));
  const bool ok_reused = reused.parse(input);
  if (!same_outcome(ok, fresh, ok_reused, reused)) {
    violated("a reused inbound_frame disagrees with a fresh one", fresh.error().reason,
             reused.error().reason);
  }

  if (ok) decode_all(fresh, input);
  return 0;
}
