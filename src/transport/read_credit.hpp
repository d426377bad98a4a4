#pragma once

// Pacing a reader that is behind by what it has read: a credit taken from RFC 6455 pongs.
//
// A priority-0 frame can overtake only what is still in the hub's queue. Bytes handed to the
// kernel wait, in order, in the server's send buffer and then in the reader's receive buffer:
// up to 128 KB on loopback, 60 ms at 2 MiB/s, and the server cannot see how much of that the
// reader has read (its advertised window moves by tens of KB on its own; docs/benchmarks.md).
// A pong can tell it. Every endpoint must answer a ping with a pong carrying the same payload
// (RFC 6455 §5.5.2-3), and it can only do so once it has read the ping, and so everything sent
// before it. So a connection that is behind puts a ping behind what it writes, its payload the
// stream position of the ping and the time it was queued; each pong says how far the reader has
// read, and how long that took.
//
// The connection then takes from the hub only while fewer than `window()` bytes it wrote are
// unread. The window follows the pongs' delay, in the manner of TCP Vegas, at most once per round
// trip. A ping that waited behind unread bytes for longer than target_wait_ns (or an eighth of the
// shortest round trip seen, on a long path) halves it. One that hardly waited (an eighth of that),
// with the window in use, grows it by a quarter: the reader was reading as the ping came. So a
// reader on a long path keeps its throughput (the window grows to what its path holds), and a
// reader that is slow by itself keeps about min_window unread: a priority-0 frame waits behind
// that much instead of a socket's worth. Growth is that strict because a reader that reads every
// so often makes some pings wait little by chance. Each time the reader falls behind again, the
// window is min_window until the first pong (the reader drains what it had queued meanwhile),
// and then what it had learned.
//
// The start of an episode needs more. Until the socket refuses bytes, nothing says the reader is
// slow, and by then its receive buffer is full: 128 KB, 65 ms of a flood on loopback
// (docs/benchmarks.md, priority). So a connection that is handed small frames fast (stream_watch:
// 16 KiB within 16 ms) puts a probe, a ping of the same kind, behind them, one at a time. A probe
// whose pong waited behind unread bytes for more than probe_wait_ns (above the shortest round
// trip, seeded with the kernel's estimate) starts pacing as a refused write does: a flooded reader
// is found some 10 ms in, with about 16 KiB unread.
//
// Only a connection that has been handed frames of more than one priority lately is paced or
// probed (stream_watch::mixed()): with one priority there is nothing to reorder, and pacing would
// only cost. A fan-out of chat messages to readers that keep up only on average lost two thirds of
// its capacity to probes before this rule (docs/benchmarks.md).
//
// A connection whose frames are large (on average large_frame_bytes or more) is not paced: a
// priority-0 frame cannot overtake a frame already begun anyway, and a pong per frame cost 30-45%
// of the capacity for 64 KiB messages in a first version (docs/benchmarks.md). The transport's
// kernel check makes the same exception (listen_socket.hpp).
//
// The window alone keeps the reader busy: a priority-0 frame still waits for the frame ahead of
// it and for the reader's next read (4.5-5.5x its unloaded p99 even one frame at a time,
// docs/benchmarks.md). So pongs also measure how fast the reader reads, in samples of at least
// rate_sample_ns, and a paced connection is handed frames at most at headroom_num/headroom_den of
// that rate (a timer of the transport's pumps again when the rate lets it): the reader has time to
// spare, and a priority-0 frame finds it idle. The first rate is what it read from the probe's pong
// to the first pong after it; half of it is handed for a sample after any sample behind, so that
// the reader gets ahead again. behind_samples samples behind in a row set it to what they read, or
// halve it when they hardly read (a stall, or a reader much slower than it was); once the reader
// keeps up again it gets back to the last rate measured, a quarter a sample. Every
// rate_remeasure_ns the rate is dropped until a sample finds the reader behind throughout, and
// what it read then is the rate: so a reader measured too low (late rather than slow when
// measured, or since become faster) is found, and one that is not slow at all catches up and is
// not paced any more. Samples of a remeasure that hardly read halve the rate as streaks do, so a
// reader that became much slower is found too. A first pong after the probe that did not wait at
// all ends pacing there: the reader was late, not slow. Priority-0 frames go past both the window
// and the rate (link::critical_window()), and the hub wakes the transport for each (delivery.cpp),
// since a paced session's queue is never empty.
//
// It is off unless the host asks for it (server_options::pace_readers): a reader that reads fast
// but is scheduled late makes pongs wait as a slow reader does, and a burst to it then goes out a
// small window at a time (docs/benchmarks.md, "Priority").
//
// Nothing here touches a socket or a clock: the connection passes the time in. ws_plain.cpp
// (ws://) and ws_endpoint.hpp (wss://) drive it; tests/integration/read_credit_test.cpp tests it
// alone.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace roomwire::transport {

// The time the transports pass to read_credit: steady, in nanoseconds (its waits are fractions
// of a millisecond, finer than core::clock's).
inline std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class read_credit {
 public:
  // The smallest window: two frames of a chat's size unread.
  static constexpr std::uint64_t min_window = 2 * 1024;
  // The largest: more than the kernel would hold for a reader anyway.
  static constexpr std::uint64_t max_window = 4 * 1024 * 1024;
  // How long a ping may wait behind unread bytes (above the shortest round trip) before the
  // window shrinks; an eighth of that round trip when it is longer. Growing takes a wait under an
  // eighth of this.
  static constexpr std::int64_t target_wait_ns = 500'000;
  // A ping's payload: its stream position and the time it was queued, 8 bytes each, big-endian.
  static constexpr std::size_t payload_size = 16;
  // A ping frame from the server: a 2-byte header and that payload.
  static constexpr std::size_t ping_frame_bytes = 2 + payload_size;
  // How long a paced connection waits for a pong with its window used up. A reader that does not
  // answer (against RFC 6455) is then written to as if it were not paced, until a pong comes.
  static constexpr std::int64_t patience_ns = 1'000'000'000;
  // Frames this large on average are not paced (above).
  static constexpr std::size_t large_frame_bytes = 4 * 1024;
  // How long a probe may wait behind unread bytes before pacing starts: looser than
  // target_wait_ns, since a reader that reads fast but is scheduled late must not be taken for a
  // slow one by one probe (one that stays behind makes every probe wait longer).
  static constexpr std::int64_t probe_wait_ns = 1'000'000;
  // A paced reader is handed frames at most at headroom_num/headroom_den of the rate it read at
  // while behind: the rest is headroom, so that a priority-0 frame finds it idle.
  static constexpr std::uint64_t headroom_num = 4;
  static constexpr std::uint64_t headroom_den = 5;
  // A read-rate sample spans at least this long (a reader reads in bursts).
  static constexpr std::int64_t rate_sample_ns = 8'000'000;
  // While pacing by the rate, every this long the rate is dropped (the window alone paces) until a
  // sample finds the reader behind throughout: what it read then is its rate. So a rate measured
  // too low (a reader late rather than slow when it was measured, or one that became faster) is
  // found, and a reader that is not slow catches up and is not paced any more. It costs a slow
  // reader a few samples of being kept busy: a priority-0 frame then waits as it does with the
  // window alone.
  static constexpr std::int64_t rate_remeasure_ns = 4'000'000'000;
  // Credit the rate leaves unused is kept for at most this long.
  static constexpr std::int64_t rate_burst_ns = 1'000'000;
  // Samples behind in a row that say the reader reads slower than it is sent.
  static constexpr std::uint32_t behind_samples = 3;

  // The connection's socket refused bytes at `now_ns`: the reader is behind. Pace from now on,
  // starting at min_window, until a pong shows it has read everything (caught_up()).
  void start(std::int64_t now_ns) noexcept {
    if (active_) return;
    active_ = true;
    draining_ = true;
    last_progress_ns_ = now_ns;
    sample_ns_ = 0;
  }
  bool active() const noexcept { return active_; }
  // The reader has read everything written, and nothing waits: pacing ends.
  bool caught_up() const noexcept {
    return read_ == written_ || (read_ == pinged_at_ && written_ == read_ + ping_frame_bytes);
  }
  void stop() noexcept { active_ = false; }

  // Bytes that left the connection's own queue, in the order the reader gets them: those the
  // kernel took (ws_plain.cpp), or those handed to websocketpp (ws_endpoint.hpp).
  void wrote(std::size_t n) noexcept { written_ += n; }
  // A frame of `bytes` the hub handed over (a moving average of its size decides whether the
  // connection is paced).
  void handed(std::size_t bytes) noexcept {
    mean_frame_bytes_ = mean_frame_bytes_ - mean_frame_bytes_ / 8 + bytes / 8;
    if (rate_ > 0 && !remeasuring_) {
      // Half the rate while the reader gets ahead again (catching_up_).
      next_send_ns_ += static_cast<std::int64_t>(bytes * 1'000'000'000ull * headroom_den *
                                                 (catching_up_ ? 2 : 1) / (rate_ * headroom_num));
    }
  }

  // The bytes the rate lets the hub hand over at `now_ns`, at most `cap` (0: held back, for
  // hold_ns()).
  std::size_t rate_room(std::size_t cap, std::int64_t now_ns) noexcept {
    if (!paces() || suspended_ || draining_ || remeasuring_ || rate_ == 0 || cap == 0) return cap;
    next_send_ns_ = std::max(next_send_ns_, now_ns - rate_burst_ns);
    if (next_send_ns_ > now_ns) return 0;
    const std::uint64_t credit = static_cast<std::uint64_t>(now_ns - next_send_ns_) * rate_ *
                                 headroom_num / headroom_den / 1'000'000'000ull;
    return static_cast<std::size_t>(std::clamp<std::uint64_t>(credit, 1, cap));
  }
  // How long until rate_room() lets frames go.
  std::int64_t hold_ns(std::int64_t now_ns) const noexcept {
    if (!paces() || suspended_ || draining_ || remeasuring_ || rate_ == 0) return 0;
    return std::max<std::int64_t>(0, next_send_ns_ - now_ns);
  }
  // Bytes per second the reader was seen to read (0: not yet known).
  std::uint64_t rate() const noexcept { return rate_; }

  // The bytes the hub may hand over now, at most `cap`.
  std::size_t room(std::size_t cap) const noexcept {
    if (!paces() || suspended_) return cap;
    const std::uint64_t unread = written_ - read_;
    if (unread >= window()) return 0;
    return static_cast<std::size_t>(std::min<std::uint64_t>(cap, window() - unread));
  }
  bool exhausted() const noexcept { return room(1) == 0; }
  // What the hub may hand over at `now_ns`, at most `cap`: the window's room, cut to what the rate
  // lets go (what a transport's pump asks).
  std::size_t allowance(std::size_t cap, std::int64_t now_ns) noexcept {
    return rate_room(room(cap), now_ns);
  }

  // The connection was handed small frames fast (stream_watch): put a probe behind them, unless
  // one is still unanswered.
  void probe() noexcept { probe_wanted_ = true; }
  // The round trip the kernel has measured for the connection, if any: a probe that took much
  // longer waited behind unread bytes, even the first one.
  void seed_round_trip(std::int64_t ns) noexcept {
    if (ns > 0) min_rtt_ns_ = std::min(min_rtt_ns_, ns);
  }

  // Whether to put a ping behind the `queued` bytes not yet written: while pacing, once what was
  // handed over since the last ping reaches a quarter of the window, or fills it; otherwise, a
  // probe when one is wanted and none is unanswered.
  bool ping_due(std::size_t queued) const noexcept {
    if (!active_) {
      return probe_wanted_ && read_ >= pinged_at_ && mean_frame_bytes_ < large_frame_bytes;
    }
    if (!paces() || pinged_behind(queued)) return false;
    const std::uint64_t end = written_ + queued;
    const std::uint64_t spacing = suspended_ ? max_window / 64 : window() / 4;
    return end - pinged_at_ >= spacing || end - read_ >= window();
  }
  // Whether a ping already follows the last of the `queued` bytes not yet written (the latest ping
  // itself may be among them).
  bool pinged_behind(std::size_t queued) const noexcept {
    return written_ + queued <= pinged_at_ + ping_frame_bytes;
  }
  // The payload of a ping behind the `queued` bytes not yet written, queued at `now_ns`.
  std::string ping_payload(std::size_t queued, std::int64_t now_ns) {
    pinged_at_ = written_ + queued;
    probe_wanted_ = false;
    std::string payload(payload_size, '\0');
    put(payload, 0, pinged_at_);
    put(payload, 8, static_cast<std::uint64_t>(now_ns));
    return payload;
  }

  // A pong, at `now_ns`. True when the connection is pacing and it answers one of our pings and
  // moves the reader on (a probe's pong that starts pacing included): the hub may hand over more.
  // False for a pong of another ping (an empty heartbeat's), one that cannot be right (beyond what
  // was written, from the future), or a probe's that found the reader keeping up.
  bool on_pong(std::string_view payload, std::int64_t now_ns) noexcept {
    if (payload.size() != payload_size) return false;
    const std::uint64_t at = get(payload, 0);
    const auto sent_ns = static_cast<std::int64_t>(get(payload, 8));
    if (at > pinged_at_ || at > written_ || at <= read_ || sent_ns > now_ns || sent_ns <= 0) {
      return false;
    }
    if (!active_) {
      read_ = at;
      const std::int64_t rtt = std::max<std::int64_t>(1, now_ns - sent_ns);
      const std::int64_t waited = rtt - std::min(min_rtt_ns_, rtt);
      if (waited > std::max(probe_wait_ns, min_rtt_ns_ / 8)) {
        start(now_ns);
        begin_sample(at, now_ns);  // the reader is behind from here to the next pong
        return true;
      }
      min_rtt_ns_ = std::min(min_rtt_ns_, rtt);
      return false;
    }
    const bool window_in_use = written_ - read_ >= window() / 2;
    read_ = at;
    suspended_ = false;
    last_progress_ns_ = now_ns;
    // How long the ping waited behind what the reader had not read: its round trip less the
    // shortest one seen.
    const std::int64_t rtt = std::max<std::int64_t>(1, now_ns - sent_ns);
    const bool had_baseline = min_rtt_ns_ != std::numeric_limits<std::int64_t>::max();
    min_rtt_ns_ = std::min(min_rtt_ns_, rtt);
    const std::int64_t waited = rtt - min_rtt_ns_;
    const std::int64_t allowed = std::max(target_wait_ns, min_rtt_ns_ / 8);
    if (draining_) {
      // This ping waited behind what the reader had queued before pacing began: that says
      // nothing of the window, nor do the pongs of pings sent before this one came back.
      draining_ = false;
      changed_at_ = written_;
      if (had_baseline && waited <= allowed) {
        // It read all that at once: it was late (descheduled, say), not slow. (Without an
        // earlier round trip to compare with, this one is the baseline and says nothing.)
        active_ = false;
        return true;
      }
      // It read what it had queued: as fast as it can. A probe's pong said how far it was then.
      if (sample_ns_ > 0 && now_ns - sample_ns_ >= rate_sample_ns / 8) {
        rate_ = peak_ = (at - sample_at_) * 1'000'000'000ull /
                        static_cast<std::uint64_t>(now_ns - sample_ns_);
        remeasure_at_ns_ = now_ns + rate_remeasure_ns;
      }
      catching_up_ = true;
      begin_sample(at, now_ns);
      return true;
    }
    sample(at, now_ns, waited > allowed);
    // Once per round trip: only a ping sent since the last change shows its effect.
    if (at <= changed_at_) return true;
    if (waited > allowed) {
      window_ = std::max(min_window, window_ / 2);
      changed_at_ = written_;
    } else if (waited < allowed / 8 && window_in_use) {
      window_ = std::min(max_window, window_ + window_ / 4);
      changed_at_ = written_;
    }
    return true;
  }

  // Called while exhausted(): true (and pacing suspended until the next pong) when no pong came
  // for patience_ns.
  bool lost_patience(std::int64_t now_ns) noexcept {
    if (!exhausted() || now_ns - last_progress_ns_ < patience_ns) return false;
    suspended_ = true;
    return true;
  }
  // When the last pong came (or pacing started).
  std::int64_t last_progress_ns() const noexcept { return last_progress_ns_; }

  std::uint64_t window() const noexcept { return draining_ ? min_window : window_; }
  std::uint64_t unread() const noexcept { return written_ - read_; }

 private:
  bool paces() const noexcept { return active_ && mean_frame_bytes_ < large_frame_bytes; }

  void reset_streak() noexcept {
    streak_ = 0;
    streak_bytes_ = 0;
    streak_ns_ = 0;
  }
  void begin_sample(std::uint64_t at, std::int64_t now_ns) noexcept {
    sample_at_ = at;
    sample_ns_ = now_ns;
    sample_pongs_ = 0;
    sample_waited_ = 0;
  }
  // A pong that read the reader up to `at`: once a sample spans rate_sample_ns, the rate. When
  // most of its pongs waited, the reader was behind throughout, and read as fast as it can, or
  // stalled: behind_samples such samples in a row say which. Otherwise it kept up.
  void sample(std::uint64_t at, std::int64_t now_ns, bool waited) noexcept {
    ++sample_pongs_;
    if (waited) ++sample_waited_;
    const std::int64_t span = now_ns - sample_ns_;
    if (span < rate_sample_ns) return;
    const bool behind = 2 * sample_waited_ > sample_pongs_;
    if (remeasuring_) {
      // Without the rate, until a sample finds the reader behind throughout: it then read as fast
      // as it can (a reader that reads in bursts has spent its burst). A sample that hardly read
      // is a stall, or a reader much slower than it was: behind_samples of them in a row halve the
      // rate, as outside a remeasure, and the streaks after it find the slower rate. A reader that
      // never falls behind is paced by the window alone, and catches up.
      const std::uint64_t read =
          (at - sample_at_) * 1'000'000'000ull / static_cast<std::uint64_t>(span);
      if (behind && read >= rate_ / 2) {
        rate_ = peak_ = read;
        end_remeasure(now_ns);
      } else if (behind) {
        streak_bytes_ += at - sample_at_;
        streak_ns_ += span;
        if (++streak_ >= behind_samples) {
          const std::uint64_t streak_read =
              streak_bytes_ * 1'000'000'000ull / static_cast<std::uint64_t>(streak_ns_);
          // peak_ stays: a reader that only stalled gets it back once it keeps up (below).
          rate_ = std::max(streak_read, rate_ / 2);
          end_remeasure(now_ns);
        }
      } else {
        reset_streak();
      }
      begin_sample(at, now_ns);
      return;
    }
    if (behind) {
      streak_bytes_ += at - sample_at_;
      streak_ns_ += span;
      if (++streak_ < behind_samples) {
        // Not yet: a reader that stalls for a moment (descheduled, say) keeps its rate.
      } else {
        const std::uint64_t streak_read =
            streak_bytes_ * 1'000'000'000ull / static_cast<std::uint64_t>(streak_ns_);
        if (streak_read >= rate_ / 2) {
          // Read steadily, slower than it was sent: that is how fast it reads.
          rate_ = peak_ = streak_read;
        } else {
          // Hardly read: stalled for longer, or much slower than it was. Halving finds the
          // latter in another streak; the former gets its rate back at once (below).
          rate_ = std::max(streak_read, rate_ / 2);
        }
        reset_streak();
      }
    } else {
      reset_streak();
    }
    if (!behind && rate_ > 0 && rate_ < peak_) {
      rate_ = std::min(peak_, rate_ + rate_ / 4);  // back to the rate it last read at
    }
    catching_up_ = behind;
    if (rate_ > 0 && remeasure_at_ns_ == 0) {
      remeasure_at_ns_ = now_ns + rate_remeasure_ns;
    } else if (rate_ > 0 && now_ns >= remeasure_at_ns_) {
      remeasuring_ = true;
      reset_streak();
    }
    begin_sample(at, now_ns);
  }
  // A remeasure found a rate: paced by it again from now, after a sample at half of it (the
  // reader has what the window let through unread).
  void end_remeasure(std::int64_t now_ns) noexcept {
    remeasuring_ = false;
    remeasure_at_ns_ = now_ns + rate_remeasure_ns;
    next_send_ns_ = now_ns;
    catching_up_ = true;
    reset_streak();
  }

  static void put(std::string& out, std::size_t at, std::uint64_t v) {
    for (std::size_t i = 8; i-- > 0; v >>= 8) out[at + i] = static_cast<char>(v & 0xFF);
  }
  static std::uint64_t get(std::string_view in, std::size_t at) noexcept {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[at + i]);
    return v;
  }

  std::uint64_t written_ = 0;    // bytes the kernel took
  std::uint64_t read_ = 0;       // bytes the reader has read: the latest pong's position
  std::uint64_t pinged_at_ = 0;  // the latest ping's position
  std::uint64_t window_ = min_window;
  std::int64_t min_rtt_ns_ = std::numeric_limits<std::int64_t>::max();
  std::int64_t last_progress_ns_ = 0;
  std::uint64_t changed_at_ = 0;  // written_ when the window last changed
  std::size_t mean_frame_bytes_ = 0;
  bool active_ = false;
  bool draining_ = false;      // fallen behind again, no pong yet: min_window
  bool suspended_ = false;     // no pong came in patience_ns
  bool probe_wanted_ = false;  // probe(), and no ping since
  std::uint64_t rate_ = 0;     // bytes per second the reader read while behind; 0: not known
  std::int64_t next_send_ns_ = 0;  // when the rate lets the next frame go
  std::uint64_t peak_ = 0;  // the rate it last read at while behind
  std::int64_t remeasure_at_ns_ = 0;  // the next sample without the rate from this time on
  bool remeasuring_ = false;          // this sample goes without the rate
  std::uint64_t streak_bytes_ = 0;  // read in the samples behind in a row,
  std::int64_t streak_ns_ = 0;      // over this long,
  std::uint32_t streak_ = 0;        // this many
  bool catching_up_ = false;       // found behind: half the rate for a sample
  std::uint64_t sample_at_ = 0;    // the read-rate sample under way: from this position,
  std::int64_t sample_ns_ = 0;     // at this time,
  std::uint32_t sample_pongs_ = 0;   // over this many pongs,
  std::uint32_t sample_waited_ = 0;  // of which this many waited
};

// What a connection is handed, for pacing: of how many priorities lately, and how fast. Pacing
// lets a higher priority overtake what waits behind it, so a connection handed one priority only
// (a fan-out of chat messages, a history replay) gains nothing from it and is not paced
// (mixed(): more than one priority within the last one to two seconds of spans, so that a
// single status change at priority 0 does not mark a session for good). One that has been handed
// several is probed (read_credit::probe()) when its small frames come fast enough for its reader
// to fall far behind before its socket refuses bytes: span_bytes of them within span_ms
// (1 MB/s). Every connection has one (8 bytes); only a server that paces feeds it, and the clock
// is read only as a span begins and ends. Frames of large_frame_bytes or more do not count toward
// a span (they are not paced).
class stream_watch {
 public:
  static constexpr std::uint32_t span_bytes = 16 * 1024;
  static constexpr std::uint32_t span_ms = 16;
  // The priorities seen are kept per period of this many milliseconds, the current and the last.
  static constexpr std::uint32_t period_ms = 1024;

  // A frame of `bytes` and priority `priority` (0-4) handed over; `now_ms()` reads a clock in
  // milliseconds. True when it ends a fast span of a connection that is mixed(). A span begins
  // with a frame and counts those after it.
  template <class NowMs>
  bool handed(std::size_t bytes, unsigned priority, NowMs now_ms) {
    const auto bit = static_cast<std::uint8_t>(1u << (priority & 7u));
    if (bytes >= read_credit::large_frame_bytes) {
      seen_ |= bit;
      return false;
    }
    if (bytes_ == 0) {
      const auto now = static_cast<std::uint32_t>(now_ms());
      age(now);
      seen_ |= bit;
      began_ms_ = static_cast<std::uint16_t>(now);
      bytes_ = 1;
      return false;
    }
    bytes_ = static_cast<std::uint16_t>(bytes_ + bytes);  // both under span_bytes + 4 KiB
    if (bytes_ < span_bytes) {
      seen_ |= bit;
      return false;
    }
    bytes_ = 0;
    const auto now = static_cast<std::uint32_t>(now_ms());
    age(now);
    seen_ |= bit;
    // 16 bits of milliseconds: a span that took a multiple of 65.5 s is taken for a fast one,
    // which costs one probe.
    return static_cast<std::uint16_t>(now - began_ms_) < span_ms && mixed();
  }

  // Whether the connection has been handed frames of more than one priority lately.
  bool mixed() const noexcept {
    const unsigned both = seen_ | seen_before_;
    return (both & (both - 1)) != 0;
  }

 private:
  // The current period becomes the last one once a clock read finds a new period; both are
  // forgotten after two.
  void age(std::uint32_t now) noexcept {
    const auto period = static_cast<std::uint16_t>(now / period_ms);
    const auto passed = static_cast<std::uint16_t>(period - period_);
    if (passed == 0) return;
    seen_before_ = passed == 1 ? seen_ : 0;
    seen_ = 0;
    period_ = period;
  }

  std::uint16_t began_ms_ = 0;    // the low 16 bits
  std::uint16_t bytes_ = 0;       // in this span, from 1; 0 before a span begins
  std::uint16_t period_ = 0;      // of the current priorities, now / period_ms (low 16 bits)
  std::uint8_t seen_ = 0;         // a bit for each priority handed in the current period
  std::uint8_t seen_before_ = 0;  // and in the one before
};

// The clock stream_watch reads.
inline std::int64_t steady_ms() { return steady_ns() / 1'000'000; }

}  // namespace roomwire::transport
