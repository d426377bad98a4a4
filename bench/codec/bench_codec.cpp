// Codec throughput against RapidJSON's own DOM, on the same bytes and in the same run:
//   decode  roomwire::protocol::inbound_frame (reused): parse + validate + decode<P> into a
//           fresh envelope, vs rapidjson::Document::Parse (the parser's ceiling: no validation,
//           no typed result)
//   encode  roomwire::protocol::encode into a reused std::string, vs building a rapidjson DOM
//           and writing it with rapidjson::Writer into a reused StringBuffer
// for a chat `message` (~200 bytes) and a `taskUpdate`. Each case runs for --ms milliseconds,
// --reps times, interleaved; the median is reported.
//
//   roomwire_bench_codec [--reps N] [--ms M] [--wall]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "roomwire/protocol.hpp"

namespace rp = roomwire::protocol;

namespace {

// Keeps the optimiser from discarding a result.
template <class T>
void keep(const T& value) {
#if defined(__GNUC__) || defined(__clang__)
  asm volatile("" : : "r,m"(value) : "memory");
#else
  static volatile const void* sink;
  sink = &value;
#endif
}

constexpr std::string_view chat_json =
    R"({"type":"message","payload":{"roomId":"room-42","content":"Build 1842 is green; )"
    R"(please re-run smoke tests.","metadata":{"type":"text","clientTag":"web-7"}},)"
    R"("timestamp":1764489600000,"messageId":"c-000123","priority":2})";

constexpr std::string_view task_json =
    R"({"type":"taskUpdate","payload":{"taskId":"task-9f3c2a","status":"running","progress":42.5,)"
    R"("metadata":{"step":"compile","eta":120}},"timestamp":1764489600123,"messageId":"c-000124",)"
    R"("priority":1})";

// A fixed block for RapidJSON's allocator, cleared per message: the fastest way to use its DOM.
struct dom_arena {
  dom_arena() = default;
  dom_arena(const dom_arena&) = delete;  // the pool points into `storage`
  dom_arena& operator=(const dom_arena&) = delete;
  static constexpr std::size_t bytes = 16 * 1024;
  alignas(8) char storage[bytes];
  rapidjson::MemoryPoolAllocator<> pool{storage, bytes};
};

// ---- decode -------------------------------------------------------------------------------

template <class P>
struct roomwire_decode {
  std::string_view text;
  rp::inbound_frame frame;
  bool operator()() {
    if (!frame.parse(text) || frame.type() != P::type) return false;
    rp::envelope<P> env;
    const bool ok = frame.decode(env);
    keep(env);
    return ok;
  }
};

template <unsigned Flags>
struct rapidjson_parse {
  std::string_view text;
  dom_arena arena;
  std::string copy;  // for the in-situ flavour
  bool operator()() {
    arena.pool.Clear();
    rapidjson::Document doc(&arena.pool);
    if constexpr ((Flags & rapidjson::kParseInsituFlag) != 0) {
      copy.assign(text.data(), text.size());
      doc.ParseInsitu<Flags>(copy.data());
    } else {
      doc.Parse<Flags>(text.data(), text.size());
    }
    keep(doc);
    return !doc.HasParseError() && doc.IsObject();
  }
};

// RapidJSON's reader alone, with the codec's flags and a handler that does nothing: what the
// codec's own parse would cost at least if it read every frame with it. It reads common frames
// with detail::quick_reader instead and falls back to this reader for the rest (codec.hpp).
template <unsigned Flags>
struct rapidjson_reader_floor {
  struct null_handler : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, null_handler> {
    std::size_t events = 0;
    bool Default() {
      ++events;
      return true;
    }
    bool RawNumber(const char*, rapidjson::SizeType, bool) { return Default(); }
    bool String(const char*, rapidjson::SizeType, bool) { return Default(); }
    bool Key(const char*, rapidjson::SizeType, bool) { return Default(); }
  };
  std::string_view text;
  std::string copy;
  rapidjson::Reader reader;
  null_handler handler;
  bool operator()() {
    copy.assign(text.data(), text.size());
    rapidjson::InsituStringStream stream(&copy[0]);
    const bool ok = !reader.Parse<Flags>(stream, handler).IsError();
    keep(handler.events);
    return ok;
  }
};

// ---- encode -------------------------------------------------------------------------------

template <class P>
struct roomwire_encode {
  const rp::envelope<P>* env;
  std::string out;
  bool operator()() {
    out.clear();
    rp::encode(*env, out);
    keep(out);
    return !out.empty();
  }
};

using dom_value = rapidjson::Value;

dom_value dom_string(const std::string& s, rapidjson::MemoryPoolAllocator<>& a) {
  return dom_value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

// What a hand-written DOM encoder would do: copy each field into the DOM, then write it.
template <class BuildPayload>
void dom_envelope(rapidjson::Document& doc, std::string_view type, std::int64_t timestamp,
                  const std::string& message_id, rp::priority priority, BuildPayload&& build) {
  auto& a = doc.GetAllocator();
  doc.SetObject();
  doc.AddMember("type", dom_value(type.data(), static_cast<rapidjson::SizeType>(type.size()), a),
                a);
  dom_value payload(rapidjson::kObjectType);
  build(payload, a);
  doc.AddMember("payload", payload, a);
  doc.AddMember("timestamp", dom_value(static_cast<int64_t>(timestamp)), a);
  doc.AddMember("messageId", dom_string(message_id, a), a);
  doc.AddMember("priority", dom_value(static_cast<int>(priority)), a);
}

struct chat_fields {
  std::string type;
  std::string client_tag;
};

struct task_fields {
  std::string step;
  int eta = 0;
};

struct dom_encode_chat {
  const rp::envelope<rp::chat_message>* env;
  chat_fields meta;  // the metadata as a DOM user holds it: plain fields
  dom_arena arena;
  rapidjson::StringBuffer out;
  bool operator()() {
    arena.pool.Clear();
    out.Clear();
    rapidjson::Document doc(&arena.pool);
    const auto& p = env->payload;
    dom_envelope(doc, rp::chat_message::type, env->timestamp, env->message_id, env->priority,
                 [&](dom_value& payload, rapidjson::MemoryPoolAllocator<>& a) {
                   payload.AddMember("roomId", dom_string(p.room_id, a), a);
                   payload.AddMember("content", dom_string(p.content, a), a);
                   dom_value metadata(rapidjson::kObjectType);
                   metadata.AddMember("type", dom_string(meta.type, a), a);
                   metadata.AddMember("clientTag", dom_string(meta.client_tag, a), a);
                   payload.AddMember("metadata", metadata, a);
                 });
    rapidjson::Writer<rapidjson::StringBuffer> writer(out);
    doc.Accept(writer);
    keep(out);
    return out.GetSize() != 0;
  }
};

struct dom_encode_task {
  const rp::envelope<rp::task_update>* env;
  task_fields meta;
  dom_arena arena;
  rapidjson::StringBuffer out;
  bool operator()() {
    arena.pool.Clear();
    out.Clear();
    rapidjson::Document doc(&arena.pool);
    const auto& p = env->payload;
    dom_envelope(doc, rp::task_update::type, env->timestamp, env->message_id, env->priority,
                 [&](dom_value& payload, rapidjson::MemoryPoolAllocator<>& a) {
                   payload.AddMember("taskId", dom_string(p.task_id, a), a);
                   payload.AddMember("status", dom_string(p.status, a), a);
                   payload.AddMember("progress", dom_value(p.progress), a);
                   dom_value metadata(rapidjson::kObjectType);
                   metadata.AddMember("step", dom_string(meta.step, a), a);
                   metadata.AddMember("eta", dom_value(meta.eta), a);
                   payload.AddMember("metadata", metadata, a);
                 });
    rapidjson::Writer<rapidjson::StringBuffer> writer(out);
    doc.Accept(writer);
    keep(out);
    return out.GetSize() != 0;
  }
};

// ---- measuring ----------------------------------------------------------------------------

using clock_type = std::chrono::steady_clock;

// The benchmarked objects hold allocators and buffers that must stay put: built in place, shared.
template <class F>
std::function<bool()> shared_case(std::shared_ptr<F> f) {
  return [f] { return (*f)(); };
}

struct bench_case {
  bench_case() = default;
  bench_case(std::string n, std::function<bool()> f) : name(std::move(n)), run(std::move(f)) {}

  std::string name;
  std::function<bool()> run;
  std::size_t iterations = 0;  // per repetition, calibrated
  std::vector<double> ns_per_msg;

  double median() const {
    std::vector<double> v = ns_per_msg;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }
};

// The process's CPU time (std::clock) by default: on a busy shared machine, time spent
// descheduled would otherwise count, and wall-clock ratios swing by 2x from run to run.
// --wall measures steady_clock time instead (fine on an idle machine).
bool use_cpu_time = true;

double time_ns(bench_case& c, std::size_t iterations) {
  const auto wall_start = clock_type::now();
  const std::clock_t cpu_start = std::clock();
  for (std::size_t i = 0; i < iterations; ++i) {
    if (!c.run()) {
      std::fprintf(stderr, "%s: failed\n", c.name.c_str());
      std::exit(2);
    }
  }
  if (use_cpu_time) {
    return static_cast<double>(std::clock() - cpu_start) * 1e9 / CLOCKS_PER_SEC;
  }
  return std::chrono::duration<double, std::nano>(clock_type::now() - wall_start).count();
}

void calibrate(bench_case& c, double target_ms) {
  std::size_t n = 64;
  for (;;) {
    const double ns = time_ns(c, n);
    if (ns > 20e6 || n > (std::size_t{1} << 30)) {  // 20 ms: well above clock resolution
      c.iterations = std::max<std::size_t>(1, static_cast<std::size_t>(n * target_ms * 1e6 / ns));
      return;
    }
    n *= 4;
  }
}

struct comparison {
  std::string title;
  bench_case ours;
  bench_case baseline;
  std::vector<bench_case> references;  // extra rows to attribute the difference
  double target;                       // ours must reach target x the baseline's throughput
};

void print_row(const bench_case& c, double baseline_ns) {
  const double ns = c.median();
  std::printf("    %-52s %9.1f ns/msg %12.0f msg/s %7.2fx\n", c.name.c_str(), ns, 1e9 / ns,
              baseline_ns / ns);
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 7;
  double ms = 200;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--ms") == 0 && i + 1 < argc) {
      ms = std::max(1.0, std::atof(argv[++i]));
    } else if (std::strcmp(argv[i], "--wall") == 0) {
      use_cpu_time = false;
    } else {
      std::fprintf(stderr, "usage: %s [--reps N] [--ms M] [--wall]\n", argv[0]);
      return 1;
    }
  }

  // The envelopes to encode are the decoded samples; both encoders must write the same bytes.
  const auto chat = rp::decode<rp::chat_message>(chat_json);
  const auto task = rp::decode<rp::task_update>(task_json);
  if (!chat || !task) {
    std::fprintf(stderr, "sample does not decode: %s %s\n", chat.error.reason.c_str(),
                 task.error.reason.c_str());
    return 2;
  }

  // The reader flags inbound_frame uses (in place, iterative, numbers as text), and the same
  // without numbers as text.
  constexpr unsigned roomwire_exact_flags = rapidjson::kParseInsituFlag |
                                            rapidjson::kParseIterativeFlag |
                                            rapidjson::kParseNumbersAsStringsFlag;
  constexpr unsigned roomwire_fast_flags =
      rapidjson::kParseInsituFlag | rapidjson::kParseIterativeFlag;
  std::vector<comparison> comparisons;
  auto add_decode = [&](const char* what, std::string_view text, std::function<bool()> ours) {
    comparison c;
    c.title = std::string(what) + " (" + std::to_string(text.size()) + " bytes): decode";
    c.ours = {"roomwire inbound_frame: parse + validate + decode", std::move(ours)};
    auto ceiling = std::make_shared<rapidjson_parse<0>>();
    ceiling->text = text;
    c.baseline = {"rapidjson Document::Parse (ceiling)", shared_case(ceiling)};
    auto fast_flags = std::make_shared<rapidjson_parse<roomwire_fast_flags>>();
    fast_flags->text = text;
    c.references.push_back({"  ref: Parse<insitu|iterative>", shared_case(fast_flags)});
    auto exact_flags = std::make_shared<rapidjson_parse<roomwire_exact_flags>>();
    exact_flags->text = text;
    c.references.push_back(
        {"  ref: Parse<insitu|iterative|numbers as strings>", shared_case(exact_flags)});
    auto reader_floor = std::make_shared<rapidjson_reader_floor<roomwire_exact_flags>>();
    reader_floor->text = text;
    c.references.push_back(
        {"  ref: the same Reader (fallback), no-op handler", shared_case(reader_floor)});
    c.target = 0.8;
    comparisons.push_back(std::move(c));
  };
  auto chat_dec = std::make_shared<roomwire_decode<rp::chat_message>>();
  chat_dec->text = chat_json;
  auto task_dec = std::make_shared<roomwire_decode<rp::task_update>>();
  task_dec->text = task_json;
  add_decode("chat message", chat_json, shared_case(chat_dec));
  add_decode("taskUpdate", task_json, shared_case(task_dec));

  auto chat_enc = std::make_shared<roomwire_encode<rp::chat_message>>();
  chat_enc->env = &*chat;
  auto chat_dom = std::make_shared<dom_encode_chat>();
  chat_dom->env = &*chat;
  chat_dom->meta = {"text", "web-7"};
  auto task_enc = std::make_shared<roomwire_encode<rp::task_update>>();
  task_enc->env = &*task;
  auto task_dom = std::make_shared<dom_encode_task>();
  task_dom->env = &*task;
  task_dom->meta = {"compile", 120};
  (*chat_enc)();
  (*chat_dom)();
  (*task_enc)();
  (*task_dom)();
  if (chat_enc->out != chat_dom->out.GetString() || task_enc->out != task_dom->out.GetString()) {
    std::fprintf(stderr, "the encoders disagree:\n%s\n%s\n%s\n%s\n", chat_enc->out.c_str(),
                 chat_dom->out.GetString(), task_enc->out.c_str(), task_dom->out.GetString());
    return 2;
  }
  auto add_encode = [&](const char* what, std::size_t bytes, std::function<bool()> ours,
                        std::function<bool()> dom) {
    comparison c;
    c.title = std::string(what) + " (" + std::to_string(bytes) + " bytes): encode";
    c.ours = {"roomwire encode into a reused std::string", std::move(ours)};
    c.baseline = {"rapidjson DOM build + Writer", std::move(dom)};
    c.target = 1.5;
    comparisons.push_back(std::move(c));
  };
  add_encode("chat message", chat_enc->out.size(), shared_case(chat_enc), shared_case(chat_dom));
  add_encode("taskUpdate", task_enc->out.size(), shared_case(task_enc), shared_case(task_dom));

  std::vector<bench_case*> all;
  for (auto& c : comparisons) {
    all.push_back(&c.ours);
    all.push_back(&c.baseline);
    for (auto& r : c.references) all.push_back(&r);
  }
  for (auto* c : all) calibrate(*c, ms);
  for (int rep = 0; rep < reps; ++rep) {
    for (auto* c : all) c->ns_per_msg.push_back(time_ns(*c, c->iterations) / c->iterations);
  }

  std::printf("roomwire codec benchmark: median of %d runs of ~%.0f ms per case, %s time\n", reps,
              ms, use_cpu_time ? "CPU" : "wall");
  std::printf("    (last column: throughput relative to the RapidJSON baseline of the block)\n");
  bool all_met = true;
  for (const auto& c : comparisons) {
    const double base = c.baseline.median();
    std::printf("\n%s\n", c.title.c_str());
    print_row(c.ours, base);
    print_row(c.baseline, base);
    for (const auto& r : c.references) print_row(r, base);
    const double ratio = base / c.ours.median();
    const bool met = ratio >= c.target;
    all_met = all_met && met;
    std::printf("    ratio %.2fx, target >= %.1fx: %s\n", ratio, c.target, met ? "met" : "MISSED");
  }
  std::printf("\n%s\n", all_met ? "all targets met" : "some targets missed");
  return 0;
}
