// Pacing a reader that is behind by its pongs (src/transport/read_credit.hpp), without sockets:
// the connection's side of the bookkeeping, with the time passed in.

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "transport/read_credit.hpp"

using roomwire::transport::read_credit;
using roomwire::transport::stream_watch;

namespace {

constexpr std::int64_t ms = 1'000'000;
constexpr std::size_t cap = 16 * 1024;

// A credit that has started pacing at t = 1 s, with `written` bytes taken by the kernel.
read_credit pacing_after(std::size_t written) {
  read_credit c;
  c.start(1000 * ms);
  c.wrote(written);
  return c;
}

// The first pong after falling behind (the reader drained what it had queued).
void drain(read_credit& c, std::int64_t& now) {
  c.wrote(100);
  const std::string ping = c.ping_payload(0, now);
  now += 20 * ms;
  REQUIRE(c.on_pong(ping, now));
}

// One round trip: `bytes` written, then a ping, whose pong comes back `wait` later.
void round_trip(read_credit& c, std::int64_t& now, std::uint64_t bytes, std::int64_t wait) {
  c.wrote(static_cast<std::size_t>(bytes));
  const std::string ping = c.ping_payload(0, now);
  now += wait;
  REQUIRE(c.on_pong(ping, now));
}

}  // namespace

TEST_CASE("read credit: a connection that is not behind is not paced") {
  read_credit c;
  c.wrote(1 << 20);
  CHECK_FALSE(c.active());
  CHECK(c.room(cap) == cap);
  CHECK_FALSE(c.ping_due(4096));
}

TEST_CASE("read credit: once behind, the hub hands over min_window until a pong says more") {
  read_credit c = pacing_after(0);
  CHECK(c.room(cap) == read_credit::min_window);
  c.wrote(read_credit::min_window);
  CHECK(c.exhausted());
  // A ping must follow the last byte written, or no pong would come.
  REQUIRE(c.ping_due(0));
  const std::string ping = c.ping_payload(0, 1001 * ms);
  CHECK(ping.size() == read_credit::payload_size);
  CHECK(c.pinged_behind(0));
  CHECK_FALSE(c.ping_due(0));
  // Once written, the ping itself is not more to ping behind: one ping per position.
  c.wrote(read_credit::ping_frame_bytes);
  CHECK(c.pinged_behind(0));
  CHECK_FALSE(c.ping_due(0));
  CHECK_FALSE(c.pinged_behind(1));
  REQUIRE(c.on_pong(ping, 1002 * ms));
  CHECK(c.unread() == read_credit::ping_frame_bytes);  // the ping: read too, as its pong says
  CHECK(c.room(cap) == c.window() - read_credit::ping_frame_bytes);
  CHECK(c.caught_up());
}

TEST_CASE("read credit: the position a pong brings counts the bytes queued ahead of its ping") {
  read_credit c = pacing_after(1000);
  // 500 bytes queued, not yet written, then the ping.
  const std::string ping = c.ping_payload(500, 1001 * ms);
  CHECK_FALSE(c.on_pong(ping, 1002 * ms));       // the reader cannot have read what was not written
  c.wrote(500 + read_credit::ping_frame_bytes);  // the frames and the ping
  REQUIRE(c.on_pong(ping, 1002 * ms));
  CHECK(c.unread() == read_credit::ping_frame_bytes);
  CHECK(c.caught_up());  // all but the ping itself, whose pong this is
  c.wrote(1);
  CHECK_FALSE(c.caught_up());
}

TEST_CASE("read credit: pongs it did not ask for change nothing") {
  read_credit c = pacing_after(4096);
  const std::string ping = c.ping_payload(0, 1001 * ms);
  const std::uint64_t unread = c.unread();
  CHECK_FALSE(c.on_pong("", 1002 * ms));                       // a heartbeat's
  CHECK_FALSE(c.on_pong(std::string(15, 'x'), 1002 * ms));     // another size
  CHECK_FALSE(c.on_pong(std::string(16, '\xff'), 1002 * ms));  // beyond what was written
  CHECK_FALSE(c.on_pong(ping, 1000 * ms));                     // answered before it was sent
  CHECK(c.unread() == unread);
  REQUIRE(c.on_pong(ping, 1002 * ms));
  CHECK_FALSE(c.on_pong(ping, 1003 * ms));  // the same pong again
  CHECK(c.unread() == 0);
}

TEST_CASE("read credit: the window grows while pongs come back at once, shrinks while they wait") {
  read_credit c = pacing_after(0);
  std::int64_t now = 1000 * ms;
  // Pongs 0.1 ms after their pings, the window in use each time: nothing waits at the reader.
  for (int i = 0; i < 40; ++i) round_trip(c, now, c.window(), ms / 10);
  const std::uint64_t grown = c.window();
  CHECK(grown > 16 * read_credit::min_window);
  // Now each ping waits 5 ms behind unread bytes: the window halves, not below the least.
  round_trip(c, now, c.window(), 5 * ms);
  CHECK(c.window() == grown / 2);
  for (int i = 0; i < 40; ++i) round_trip(c, now, c.window(), 5 * ms);
  CHECK(c.window() == read_credit::min_window);
}

TEST_CASE("read credit: the window does not grow while the reader keeps up with less") {
  read_credit c = pacing_after(0);
  std::int64_t now = 1000 * ms;
  for (int i = 0; i < 40; ++i) {
    round_trip(c, now, 100, ms / 10);  // far from filling the window
  }
  CHECK(c.window() == read_credit::min_window);
}

TEST_CASE("read credit: a reader that stops answering is written to unpaced until it answers") {
  read_credit c = pacing_after(read_credit::min_window);
  const std::string ping = c.ping_payload(0, 1000 * ms);
  REQUIRE(c.exhausted());
  CHECK_FALSE(c.lost_patience(1000 * ms + read_credit::patience_ns - 1));
  CHECK(c.exhausted());
  REQUIRE(c.lost_patience(1000 * ms + read_credit::patience_ns));
  CHECK(c.room(cap) == cap);
  // Pings keep going out, further apart.
  c.wrote(cap);
  CHECK(c.ping_due(0));
  // Its pong, however late, puts it back under pacing.
  REQUIRE(c.on_pong(ping, 3000 * ms));
  CHECK(c.room(cap) == 0);  // the `cap` bytes written since are unread
}

TEST_CASE("read credit: pacing ends when the reader has read everything, and starts again") {
  read_credit c = pacing_after(3000);
  const std::string ping = c.ping_payload(0, 1001 * ms);
  REQUIRE(c.on_pong(ping, 1002 * ms));
  REQUIRE(c.caught_up());
  c.stop();
  CHECK_FALSE(c.active());
  CHECK(c.room(cap) == cap);
  c.wrote(100000);
  c.start(2000 * ms);
  CHECK(c.window() == read_credit::min_window);
  CHECK(c.exhausted());
}

TEST_CASE("read credit: the window changes at most once per round trip") {
  read_credit c = pacing_after(0);
  std::int64_t now = 1000 * ms;
  drain(c, now);
  // Four pings in flight, each behind a quarter of the window; their pongs come back at once.
  const std::uint64_t before = c.window();
  std::string pings[4];
  for (auto& ping : pings) {
    c.wrote(static_cast<std::size_t>(before / 4));
    ping = c.ping_payload(0, now);
  }
  now += ms / 10;
  for (const auto& ping : pings) REQUIRE(c.on_pong(ping, now));
  // The first pong grew it; the other three were sent before that and change nothing.
  CHECK(c.window() == before + before / 4);
}

TEST_CASE("read credit: falling behind again drains at min_window, then resumes the window") {
  read_credit c = pacing_after(0);
  std::int64_t now = 1000 * ms;
  for (int i = 0; i < 10; ++i) round_trip(c, now, c.window(), ms / 10);
  const std::uint64_t learned = c.window();
  REQUIRE(learned > read_credit::min_window);
  REQUIRE(c.caught_up());
  c.stop();
  c.wrote(200000);  // unpaced, the reader's buffer fills again
  c.start(now);
  CHECK(c.window() == read_credit::min_window);
  const std::string ping = c.ping_payload(0, now);
  now += 50 * ms;  // behind what it had queued: this wait says nothing of the window
  REQUIRE(c.on_pong(ping, now));
  CHECK(c.window() == learned);
}

TEST_CASE("read credit: a connection of large frames is not paced") {
  read_credit c = pacing_after(0);
  for (int i = 0; i < 4; ++i) c.handed(65000);
  CHECK(c.room(cap) == cap);
  c.wrote(4 * 65000);
  CHECK_FALSE(c.ping_due(0));
  // Small frames again: paced again.
  for (int i = 0; i < 40; ++i) c.handed(200);
  CHECK(c.exhausted());
  CHECK(c.ping_due(0));
}

TEST_CASE("read credit: a probe whose pong waited behind unread bytes starts pacing") {
  read_credit c;
  c.seed_round_trip(ms / 20);  // the kernel's: 50 us
  std::int64_t now = 1000 * ms;
  CHECK_FALSE(c.ping_due(0));  // no probe wanted
  c.wrote(16 * 1024);
  c.probe();
  REQUIRE(c.ping_due(0));
  const std::string first = c.ping_payload(0, now);
  c.probe();
  CHECK_FALSE(c.ping_due(0));  // one probe at a time
  c.wrote(read_credit::ping_frame_bytes + 16 * 1024);
  // Back in 0.8 ms: a reader scheduled late, not one that is behind.
  now += 4 * ms / 5;
  CHECK_FALSE(c.on_pong(first, now));
  CHECK_FALSE(c.active());
  CHECK(c.room(cap) == cap);
  // The next probe waits 5 ms: pacing starts, at min_window until the reader has drained.
  REQUIRE(c.ping_due(0));
  const std::string second = c.ping_payload(0, now);
  c.wrote(read_credit::ping_frame_bytes + 16 * 1024);
  now += 5 * ms;
  REQUIRE(c.on_pong(second, now));
  CHECK(c.active());
  CHECK(c.window() == read_credit::min_window);
  CHECK(c.unread() == read_credit::ping_frame_bytes + 16 * 1024);  // the probe, and what followed
  CHECK(c.exhausted());
  CHECK(c.ping_due(0));
}

TEST_CASE("read credit: without the kernel's round trip, the first probe is the baseline") {
  read_credit c;
  std::int64_t now = 1000 * ms;
  c.wrote(16 * 1024);
  c.probe();
  std::string ping = c.ping_payload(0, now);
  now += 4 * ms;
  CHECK_FALSE(c.on_pong(ping, now));  // nothing to compare it with
  c.wrote(read_credit::ping_frame_bytes + 16 * 1024);
  c.probe();
  ping = c.ping_payload(0, now);
  now += 5 * ms;
  CHECK_FALSE(c.on_pong(ping, now));  // 1 ms more than the first: within probe_wait_ns
  c.wrote(read_credit::ping_frame_bytes + 16 * 1024);
  c.probe();
  ping = c.ping_payload(0, now);
  now += 7 * ms;
  CHECK(c.on_pong(ping, now));  // 3 ms more
  CHECK(c.active());
}

TEST_CASE("read credit: a connection of large frames is not probed") {
  read_credit c;
  for (int i = 0; i < 4; ++i) c.handed(65000);
  c.probe();
  CHECK_FALSE(c.ping_due(0));
}

namespace {

// A credit that a probe found behind at t = 1 s (the kernel's round trip: 50 us), whose reader
// then read the 16 KiB and the probe queued behind it in 16.402 ms: 1 MB/s.
read_credit paced_at_1_mb_per_s(std::int64_t& now) {
  read_credit c;
  c.seed_round_trip(ms / 20);
  now = 1000 * ms;
  c.wrote(16 * 1024);
  c.probe();
  std::string ping = c.ping_payload(0, now);
  c.wrote(16 * 1024 + read_credit::ping_frame_bytes);
  now += 5 * ms;
  REQUIRE(c.on_pong(ping, now));  // the probe waited: pacing starts
  REQUIRE(c.active());
  ping = c.ping_payload(0, now);
  now += 16'402'000;
  REQUIRE(c.on_pong(ping, now));  // the drain: what followed the probe, at the reader's pace
  REQUIRE(c.active());
  return c;
}

// What the rate lets the hub hand over in frames of `frame` bytes, polled every 0.1 ms for `span`.
std::uint64_t handed_over(read_credit& c, std::int64_t& now, std::int64_t span, std::size_t frame) {
  std::uint64_t bytes = 0;
  for (const std::int64_t end = now + span; now < end; now += ms / 10) {
    for (std::size_t room = c.rate_room(cap, now); room > 0; room = c.rate_room(cap, now)) {
      c.handed(frame);
      bytes += frame;
    }
  }
  return bytes;
}

// A read-rate sample: `bytes` written, then a ping, whose pong comes back `span` after the last
// sample ended, having waited `wait`.
void rate_sample(read_credit& c, std::int64_t& now, std::uint64_t bytes, std::int64_t span,
                 std::int64_t wait) {
  c.wrote(static_cast<std::size_t>(bytes));
  const std::string ping = c.ping_payload(0, now + span - wait);
  now += span;
  REQUIRE(c.on_pong(ping, now));
}

constexpr std::int64_t sample_span = read_credit::rate_sample_ns;
constexpr std::int64_t kept_up = ms / 10;  // a pong that waited for nothing
constexpr std::int64_t behind = 3 * ms;    // one that waited behind unread bytes

// Samples of a reader keeping up at 800 KB/s until the rate is dropped for a remeasure (the rate
// lets a whole cap through).
void keep_up_until_remeasure(read_credit& c, std::int64_t& now) {
  int samples = 0;
  while (c.rate_room(cap, now) < cap) {
    rate_sample(c, now, 6400, sample_span, kept_up);
    REQUIRE(++samples < 600);
  }
}

}  // namespace

TEST_CASE("read credit: the rate is what the reader read between the probe and the drain") {
  std::int64_t now = 0;
  read_credit c = paced_at_1_mb_per_s(now);
  CHECK(c.rate() == 1'000'000);
  // A reader that read everything at once after a probe that waited was late, not slow.
  read_credit late;
  late.seed_round_trip(ms / 20);
  late.wrote(16 * 1024);
  late.probe();
  std::string ping = late.ping_payload(0, now);
  late.wrote(16 * 1024 + read_credit::ping_frame_bytes);
  now += 5 * ms;
  REQUIRE(late.on_pong(ping, now));
  ping = late.ping_payload(0, now);
  now += ms / 10;
  REQUIRE(late.on_pong(ping, now));
  CHECK_FALSE(late.active());
  CHECK(late.room(cap) == cap);
  // Without a round trip to compare with (a refused write started pacing), the drain's pong is
  // the baseline: pacing goes on.
  read_credit unknown = pacing_after(4096);
  ping = unknown.ping_payload(0, now);
  now += 20 * ms;
  REQUIRE(unknown.on_pong(ping, now));
  CHECK(unknown.active());
}

TEST_CASE("read credit: a paced reader is handed four fifths of its rate, two fifths at first") {
  std::int64_t now = 0;
  read_credit c = paced_at_1_mb_per_s(now);
  // Until a sample shows it kept up, it catches up: two fifths of 1 MB/s, 400 bytes per ms.
  CHECK(c.rate_room(cap, now) > 0);
  c.handed(1000);
  CHECK(c.rate_room(cap, now) == 0);
  // 1000 bytes at 400 KB/s take 2.5 ms, less the 1 ms of credit a rate keeps at most.
  CHECK(c.hold_ns(now) == 2500 * ms / 1000 - read_credit::rate_burst_ns);
  CHECK(c.rate_room(cap, now + c.hold_ns(now)) > 0);
  now += c.hold_ns(now);
  std::uint64_t bytes = handed_over(c, now, 100 * ms, 1000);
  CHECK(bytes >= 39'000);
  CHECK(bytes <= 41'000);
  // A sample whose pongs did not wait: four fifths from now on.
  rate_sample(c, now, bytes, sample_span, kept_up);
  bytes = handed_over(c, now, 100 * ms, 1000);
  CHECK(bytes >= 79'000);
  CHECK(bytes <= 82'000);
  // Credit left unused is not saved up beyond rate_burst_ns.
  now += 50 * ms;
  CHECK(c.rate_room(cap, now) <= 1'000'000 * 4 / 5 * read_credit::rate_burst_ns / (1000 * ms));
}

TEST_CASE("read credit: three samples behind in a row set the rate; a stall only halves it") {
  std::int64_t now = 0;
  read_credit c = paced_at_1_mb_per_s(now);
  rate_sample(c, now, 8000, sample_span, kept_up);
  REQUIRE(c.rate() == 1'000'000);
  // Behind for two samples, reading 2 KB in 8 ms (a reader descheduled for a moment): kept.
  rate_sample(c, now, 2000, sample_span, behind);
  rate_sample(c, now, 2000, sample_span, behind);
  rate_sample(c, now, 8000, sample_span, kept_up);
  CHECK(c.rate() == 1'000'000);
  // Behind for three, reading 600 KB/s: that is its rate now.
  for (int i = 0; i < 3; ++i) rate_sample(c, now, 4800, sample_span, behind);
  CHECK(c.rate() == 600'000);
  // Three that read next to nothing (stalled, or much slower): halved, not set to that.
  for (int i = 0; i < 3; ++i) rate_sample(c, now, 100, sample_span, behind);
  CHECK(c.rate() == 300'000);
  // Keeping up again, it gets back to the rate it last read at, a quarter a sample.
  rate_sample(c, now, 2400, sample_span, kept_up);
  CHECK(c.rate() == 375'000);
  for (int i = 0; i < 3; ++i) rate_sample(c, now, 2400, sample_span, kept_up);
  CHECK(c.rate() == 600'000);
  // Keeping up at its rate changes nothing.
  for (int i = 0; i < 10; ++i) rate_sample(c, now, 4000, sample_span, kept_up);
  CHECK(c.rate() == 600'000);
}

TEST_CASE("read credit: every rate_remeasure_ns the rate is dropped until the reader is behind") {
  std::int64_t now = 0;
  read_credit c = paced_at_1_mb_per_s(now);
  const std::int64_t measured_at = now;
  // A reader that was late rather than slow when it was measured: it keeps up with all it is
  // sent, 800 KB/s.
  keep_up_until_remeasure(c, now);
  CHECK(now - measured_at >= read_credit::rate_remeasure_ns);
  CHECK(now - measured_at < read_credit::rate_remeasure_ns + 2 * sample_span);
  CHECK(c.rate() == 1'000'000);
  CHECK(c.hold_ns(now) == 0);
  // Without the rate, a sample that keeps up says nothing (the window alone paces), nor does one
  // behind that hardly read (a stall, unless three in a row: below): the rate stays dropped.
  rate_sample(c, now, 32'000, sample_span, kept_up);
  CHECK(c.rate_room(cap, now) == cap);
  rate_sample(c, now, 100, sample_span, behind);
  CHECK(c.rate_room(cap, now) == cap);
  // Behind throughout, it read as fast as it can: 4 MB/s. That is its rate now.
  rate_sample(c, now, 32'000, sample_span, behind);
  CHECK(c.rate() == 4'000'000);
  CHECK(c.rate_room(cap, now) < cap);
}

TEST_CASE("read credit: a remeasure finds a reader that became much slower") {
  std::int64_t now = 0;
  read_credit c = paced_at_1_mb_per_s(now);
  keep_up_until_remeasure(c, now);
  REQUIRE(c.rate() == 1'000'000);
  // From now on it reads 200 KB/s, behind throughout. Two samples could be a stall: the rate
  // stays dropped.
  rate_sample(c, now, 1600, sample_span, behind);
  rate_sample(c, now, 1600, sample_span, behind);
  CHECK(c.rate_room(cap, now) == cap);
  // A third halves it, and pacing by the rate resumes.
  rate_sample(c, now, 1600, sample_span, behind);
  CHECK(c.rate() == 500'000);
  CHECK(c.rate_room(cap, now) < cap);
  // Three more behind halve it again (it read under half of 500 KB/s); three after that read more
  // than half of the rate: that is its rate.
  for (int i = 0; i < 3; ++i) rate_sample(c, now, 1600, sample_span, behind);
  CHECK(c.rate() == 250'000);
  for (int i = 0; i < 3; ++i) rate_sample(c, now, 1600, sample_span, behind);
  CHECK(c.rate() == 200'000);
  // Keeping up at it, it stays there: the rate it last read at is 200 KB/s now.
  for (int i = 0; i < 10; ++i) rate_sample(c, now, 1280, sample_span, kept_up);
  CHECK(c.rate() == 200'000);
}

TEST_CASE("read credit: a stall during a remeasure costs the rate only until the reader keeps up") {
  std::int64_t now = 0;
  read_credit c = paced_at_1_mb_per_s(now);
  keep_up_until_remeasure(c, now);
  // Descheduled for three samples: halved.
  for (int i = 0; i < 3; ++i) rate_sample(c, now, 100, sample_span, behind);
  CHECK(c.rate() == 500'000);
  // Then it keeps up again: back to 1 MB/s, a quarter a sample.
  for (int i = 0; i < 4; ++i) rate_sample(c, now, 4000, sample_span, kept_up);
  CHECK(c.rate() == 1'000'000);
}

TEST_CASE("stream watch: 16 KiB of small frames within 16 ms, of two priorities, is probed") {
  std::int64_t clock = 5000;
  int reads = 0;
  auto now_ms = [&] {
    ++reads;
    return clock;
  };
  stream_watch w;
  // A critical message (two priorities from now on), then 1 KiB every ms: the span (the frame
  // that begins it, then 16 KiB) takes 16 ms: not fast.
  bool fast = w.handed(100, 0, now_ms);
  for (int i = 0; i < 16; ++i) {
    ++clock;
    fast = w.handed(1024, 4, now_ms) || fast;
  }
  CHECK_FALSE(fast);
  CHECK(w.mixed());
  CHECK(reads == 2);  // the clock is read as a span begins and as it ends, not per frame
  // 1 KiB every half ms: 8 ms. The frame that ends the span says so.
  for (int i = 0; i < 16; ++i) {
    CHECK_FALSE(w.handed(1024, 4, now_ms));
    if (i % 2 == 1) ++clock;
  }
  CHECK(w.handed(1024, 4, now_ms));
  // Large frames count for nothing, however fast.
  for (int i = 0; i < 100; ++i) CHECK_FALSE(w.handed(read_credit::large_frame_bytes, 4, now_ms));
}

TEST_CASE("stream watch: frames of one priority are never probed, however fast") {
  std::int64_t clock = 5000;
  auto now_ms = [&] { return clock; };
  stream_watch w;
  for (int i = 0; i < 1000; ++i) CHECK_FALSE(w.handed(1024, 2, now_ms));
  CHECK_FALSE(w.mixed());
  w.handed(1024, 3, now_ms);
  CHECK(w.mixed());
}

TEST_CASE("stream watch: a second priority marks a connection for one to two periods") {
  std::int64_t clock = 10'000 * std::int64_t{stream_watch::period_ms};
  auto now_ms = [&] { return clock; };
  stream_watch w;
  // A span that begins with a critical frame and goes on with priority 2.
  w.handed(100, 0, now_ms);
  for (int i = 0; i < 17; ++i) w.handed(1024, 2, now_ms);
  CHECK(w.mixed());
  // The next period, priority 2 only: the critical is in the last period, still counted.
  clock += stream_watch::period_ms;
  for (int i = 0; i < 18; ++i) w.handed(1024, 2, now_ms);
  CHECK(w.mixed());
  // One more: forgotten.
  clock += stream_watch::period_ms;
  for (int i = 0; i < 18; ++i) w.handed(1024, 2, now_ms);
  CHECK_FALSE(w.mixed());
  // A long pause forgets both periods at once.
  w.handed(1024, 4, now_ms);
  CHECK(w.mixed());
  clock += 10 * stream_watch::period_ms;
  for (int i = 0; i < 18; ++i) w.handed(1024, 2, now_ms);
  CHECK_FALSE(w.mixed());
}
