// §4 over a real socket: while a session's socket is backed up, higher priorities overtake what
// is still queued; past the hard limit the session is closed with 1008; the others go on. Each
// test runs over both transports: ws:// (ws_plain.cpp) and wss:// (websocketpp, ws_endpoint.hpp).

#include <catch2/catch.hpp>

#include <future>
#include <memory>
#include <thread>

#include "test_server.hpp"

using namespace rwtest;

namespace {

struct bulk {
  static constexpr std::string_view type = "bulk";
  int n = 0;
  std::string data;
  static constexpr auto fields() {
    return roomwire::protocol::fields(roomwire::protocol::field("n", &bulk::n),
                                      roomwire::protocol::field("data", &bulk::data));
  }
};

roomwire::protocol::envelope<bulk> make_bulk(int n, std::size_t bytes,
                                             roomwire::protocol::priority p) {
  roomwire::protocol::envelope<bulk> env;
  env.payload.n = n;
  env.payload.data.assign(bytes, 'b');
  env.priority = p;
  return env;
}

// A server with these queue limits, over ws:// or, when `tls`, over wss:// with a certificate
// made in `certs`.
roomwire::server_options with_queue_limits(std::size_t soft, std::size_t hard, bool tls,
                                           const temp_dir& certs, log_capture* logs = nullptr) {
  auto o = test_options(logs);
  o.hub.queue_soft_bytes = soft;
  o.hub.queue_hard_bytes = hard;
  if (tls) REQUIRE(serve_tls(o, certs));
  return o;
}

// What a critical message may find ahead of it over wss:// on top of what it finds over ws://.
// The reader's TLS layer reads ahead of the frames it has handed over, up to a record (16 KiB) and
// what the socket held, where received_unread() cannot see it; and the server's TLS endpoint
// (websocketpp) writes a window in one piece, which the kernel takes whole. Measured: a server's
// share of 16-21 KB with the 64 KiB reader, against 95 KB when the wss:// transport took a
// backed-up connection's frames 16 KiB at a time, as fast as it wrote them.
std::size_t tls_slack(bool tls) { return tls ? 20 * 1024 : 0; }

// A member of room "firehose" with a small receive buffer (4 KiB unless told): what the server
// sends it backs up, first in the kernel's buffers and then in the hub's queue.
std::unique_ptr<wire_client> slow_member(running_server& s, int receive_buffer = 4096) {
  auto slow = std::make_unique<wire_client>(s.at());
  slow->small_receive_buffer(receive_buffer);
  REQUIRE(slow->connect("/api/ws?token=slow") == 101);
  REQUIRE(join(*slow, "firehose", "j-1"));
  return slow;
}

// A backed-up member (slow_member) and a member of another room whose messages mark the I/O
// thread's progress: what a critical message finds ahead of it at the slow member.
//
// The one I/O thread runs the connections' turns in the order they became due: once a marker
// reaches the other member, the backed-up socket has written until it was refused more. Were it
// still short of that, fewer bytes would be ahead, so the checks on them could only pass more
// easily, never fail by chance.
struct critical_probe {
  running_server& s;
  std::unique_ptr<wire_client> slow;
  wire_client fast;
  int markers = 0;

  critical_probe(running_server& server, int slow_receive_buffer)
      : s(server), slow(slow_member(server, slow_receive_buffer)), fast(server.at()) {
    REQUIRE(fast.connect("/api/ws?token=fast") == 101);
    REQUIRE(join(fast, "marker", "j-2"));
  }
  // 1 KiB each, far more than the sockets hold: the rest waits in the hub's queue.
  void flood(int count) {
    for (int i = 0; i < count; ++i) {
      s.server.send_to_room("firehose", make_bulk(i, 1024, roomwire::protocol::priority::normal));
    }
  }
  void settle() {
    s.server.send_to_room("marker", make_bulk(++markers, 1, roomwire::protocol::priority::normal));
    REQUIRE(fast.next_of_type("bulk", 10000ms));
  }
  void send_critical(int n) {
    s.server.send_to_room("firehose", make_bulk(-n, 10, roomwire::protocol::priority::critical));
  }
  // A critical message (n = -1000), read at once: the slow member has now been sent two
  // priorities, which a server asks for before it paces a connection (read_credit.hpp).
  void mix_priorities() {
    send_critical(1000);
    REQUIRE(read_to_critical(1000) == 0);
  }
  // Reads up to the critical message n; the bytes of the frames before it (server frames are
  // unmasked: a 2-byte header, 4 from 126 bytes of payload on).
  std::size_t read_to_critical(int n) {
    std::size_t bytes = 0;
    while (true) {
      auto text = slow->next_of_type("bulk", 20000ms);
      REQUIRE(text);
      if (parse_json(*text)["payload"]["n"].GetInt() == -n) return bytes;
      bytes += text->size() + (text->size() < 126 ? 2 : 4);
    }
  }
};

}  // namespace

TEST_CASE("back-pressure: a critical message overtakes what a backed-up socket has queued") {
  const bool tls = GENERATE(false, true);
  INFO((tls ? "over wss://" : "over ws://"));
  temp_dir certs;
  running_server s(with_queue_limits(64u << 20, 64u << 20, tls, certs));
  s.start();
  auto slow = slow_member(s);

  // Far more than the kernel's socket buffers hold (4 MiB here): the rest waits in the hub.
  constexpr int count = 400;
  for (int i = 0; i < count; ++i) {
    s.server.send_to_room("firehose",
                          make_bulk(i, 32 * 1024, roomwire::protocol::priority::normal));
  }
  auto urgent = make_bulk(-1, 10, roomwire::protocol::priority::critical);
  s.server.send_to_room("firehose", urgent);

  int before_urgent = -1;
  int last = -1;
  for (int seen = 0; seen < count + 1; ++seen) {
    auto text = slow->next_of_type("bulk", 20000ms);
    REQUIRE(text);
    const int n = parse_json(*text)["payload"]["n"].GetInt();
    if (n == -1) {
      before_urgent = seen;
    } else {
      CHECK(n == last + 1);  // FIFO within a priority
      last = n;
    }
  }
  CHECK(last == count - 1);
  REQUIRE(before_urgent >= 0);
  CHECK(before_urgent < count);  // it did not wait behind everything
  CHECK(s.server.metrics().messages_dropped == 0);
}

TEST_CASE("back-pressure: past the hard limit a slow consumer is closed with 1008") {
  const bool tls = GENERATE(false, true);
  INFO((tls ? "over wss://" : "over ws://"));
  temp_dir certs;
  running_server s(with_queue_limits(256 * 1024, 1024 * 1024, tls, certs));
  std::promise<int> slow_closed;
  auto slow_code = slow_closed.get_future();
  s.server.on_disconnect([&](roomwire::session<>& session, roomwire::protocol::close_code code) {
    if (session.user_id() == "slow") slow_closed.set_value(static_cast<int>(code));
  });
  s.start();
  auto slow = slow_member(s);
  auto other = connect_as(s.at(), "other");
  REQUIRE(other);

  // Priority 4 is shed past the soft limit; priority 2 piles up until the hard limit. 300
  // priority-2 messages of 32 KiB are more than the kernel's buffers (4 MiB) and the limit.
  for (int i = 0; i < 600; ++i) {
    const auto p = i % 2 == 0 ? roomwire::protocol::priority::background
                              : roomwire::protocol::priority::normal;
    s.server.send_to_room("firehose", make_bulk(i, 32 * 1024, p));
  }
  // Everything the socket held is still written, then the close frame.
  auto closed = slow->wait_close(30000ms);
  REQUIRE(closed);
  CHECK(closed->code == 1008);
  REQUIRE(slow_code.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  CHECK(slow_code.get() == 1008);
  CHECK(s.server.metrics().messages_dropped > 0);

  // Another session was never held up.
  roomwire::protocol::envelope<bulk> hello;
  hello.payload.n = 7;
  s.server.send_to_user("other", hello);
  auto got = other->next_of_type("bulk", 2000ms);
  REQUIRE(got);
  CHECK(parse_json(*got)["payload"]["n"].GetInt() == 7);
}

TEST_CASE("back-pressure: small messages to a backed-up socket arrive whole and in order") {
  // Many small frames queue behind a socket that takes a few KiB at a time, so the transport's
  // writes (several frames in one) keep ending in the middle of a frame and resuming there.
  const bool tls = GENERATE(false, true);
  INFO((tls ? "over wss://" : "over ws://"));
  temp_dir certs;
  running_server s(with_queue_limits(64u << 20, 64u << 20, tls, certs));
  s.start();
  auto slow = slow_member(s);

  constexpr int count = 5000;  // about 1.3 MB: far more than a 4 KiB receive window lets through
  const auto size_of = [](int n) { return static_cast<std::size_t>(n * 37 % 301); };
  for (int i = 0; i < count; ++i) {
    s.server.send_to_room("firehose",
                          make_bulk(i, size_of(i), roomwire::protocol::priority::normal));
  }
  for (int i = 0; i < count; ++i) {
    auto text = slow->next_of_type("bulk", 20000ms);
    REQUIRE(text);
    const auto doc = parse_json(*text);
    REQUIRE(doc["payload"]["n"].GetInt() == i);
    REQUIRE(std::string_view(doc["payload"]["data"].GetString()) == std::string(size_of(i), 'b'));
  }
  CHECK(s.server.metrics().messages_dropped == 0);
}

TEST_CASE("back-pressure: a critical message waits behind a few KiB, not a socket's worth") {
  // What a priority cannot reorder is what the transport has already handed over: its own write
  // buffer and the kernel's. Once a connection's socket has been full, it takes frames from the
  // hub a few KiB at a time until it catches up, so a critical message overtakes everything but
  // those few KiB and what the reader's own receive buffer holds. With the old 16 KiB limits
  // the checks failed in every run.
  const bool tls = GENERATE(false, true);
  INFO((tls ? "over wss://" : "over ws://"));
  temp_dir certs;
  running_server s(with_queue_limits(64u << 20, 64u << 20, tls, certs));
  s.start();
  critical_probe probe(s, 4096);
  probe.flood(2000);
  probe.settle();
  // The first one may still find a full window of frames ahead (written before the socket was
  // first found full); the next ones find what a backed-up connection holds.
  probe.send_critical(1);
  const std::size_t first = probe.read_to_critical(1);
  std::size_t most = 0;
  for (int n = 2; n <= 4; ++n) {
    probe.settle();
    probe.send_critical(n);
    most = std::max(most, probe.read_to_critical(n));
  }
  UNSCOPED_INFO("bytes ahead of the first critical message: " << first << ", of the next: at most "
                                                              << most);
  CHECK(first < 40 * 1024 + tls_slack(tls));
  CHECK(most < 20 * 1024 + tls_slack(tls));
  CHECK(s.server.metrics().messages_dropped == 0);
}

TEST_CASE("back-pressure: a reader that answers pings has a few KiB unread ahead of a critical") {
  // With server_options::pace_readers, a connection that is behind paces its reader by the pongs to
  // pings it puts behind its frames (read_credit.hpp): what a critical message finds ahead of it,
  // the reader's own receive buffer included, is about the smallest window (2 KiB) and a frame, not
  // the 71-128 KB this 64 KiB reader's buffer holds unpaced ("the kernel holds a few KiB" below).
  // A priority-0 message waits behind what the reader has not read, so this is what bounds its
  // latency.
  const bool tls = GENERATE(false, true);
  INFO((tls ? "over wss://" : "over ws://"));
  temp_dir certs;
  auto o = with_queue_limits(64u << 20, 64u << 20, tls, certs);
  o.pace_readers = true;
  running_server s(o);
  s.start();
  critical_probe probe(s, 64 * 1024);
  probe.mix_priorities();
  probe.flood(4000);
  probe.settle();
  // The first one finds what reached the reader before its socket was first full.
  probe.send_critical(1);
  probe.read_to_critical(1);
  std::size_t most = 0;
  for (int n = 2; n <= 5; ++n) {
    probe.settle();
    probe.send_critical(n);
    most = std::max(most, probe.read_to_critical(n));
  }
  UNSCOPED_INFO("bytes ahead of a critical message, the reader's included: at most " << most);
  CHECK(most < 12 * 1024 + tls_slack(tls));  // ws://: 5.7 KB in each of six runs
  CHECK(probe.slow->pings_seen() > 0);
  CHECK(s.server.metrics().messages_dropped == 0);
}

TEST_CASE("back-pressure: a reader that falls behind is paced before its socket refuses bytes") {
  // This reader's receive buffer (4 MiB asked, 8 MB given) takes the whole flood: its socket never
  // refuses bytes, so only a probe can tell the server that the reader is behind. The flood comes
  // at up to 8 MB/s; the reader reads about 2 MB/s. A connection handed small frames of more than
  // one priority that fast puts a ping behind them now and then (read_credit.hpp), and one whose
  // pong waited is paced: the rest of the flood waits in the hub's queue, which a critical message
  // overtakes. Unpaced, the flood's first 2,400 frames or so are in the reader's buffer within
  // 400 ms, and a critical message sent once the reader has read 600 finds the rest ahead of it:
  // 2.17 MB with the probe disabled. A connection sent one priority only is never probed.
  const bool tls = GENERATE(false, true);
  const bool mixed = GENERATE(true, false);
  INFO((tls ? "over wss://" : "over ws://") << (mixed ? ", two priorities" : ", one priority"));
  temp_dir certs;
  auto o = with_queue_limits(64u << 20, 64u << 20, tls, certs);
  o.pace_readers = true;
  running_server s(o);
  s.start();
  critical_probe probe(s, 4 << 20);
  if (mixed) probe.mix_priorities();
  // The sleeps shape the load (8 frames a millisecond at most, 2 read); nothing waits on them.
  auto flood = std::async(std::launch::async, [&s] {
    for (int i = 0; i < 3000; ++i) {
      s.server.send_to_room("firehose", make_bulk(i, 1024, roomwire::protocol::priority::normal));
      if (i % 8 == 7) std::this_thread::sleep_for(1ms);
    }
  });
  for (int read = 0; read < 600; ++read) {
    REQUIRE(probe.slow->next_of_type("bulk", 20000ms));
    if (read % 2 == 1) std::this_thread::sleep_for(1ms);
  }
  if (!mixed) {
    CHECK(probe.slow->pings_seen() == 0);
    flood.get();
    return;
  }
  probe.send_critical(1);
  const std::size_t ahead = probe.read_to_critical(1);
  flood.get();
  UNSCOPED_INFO("bytes ahead of a critical message, the reader's included: " << ahead);
  CHECK(ahead < 64 * 1024 + tls_slack(tls));
  CHECK(probe.slow->pings_seen() > 0);
  CHECK(s.server.metrics().messages_dropped == 0);
}

TEST_CASE("back-pressure: the kernel holds a few KiB of a backed-up socket's frames") {
  // TCP_NOTSENT_LOWAT refuses a write only when it needs a new segment, so a write that fits in
  // the last unsent one goes in. Unchecked, a backed-up socket's last segment grows to its full
  // size, up to half the reader's window: tens of KB with this reader's 64 KiB buffer, all of it
  // ahead of any priority (and, with a window that later shrank below it, sent only when the
  // persist timer splits it, about 200 ms later). The server checks the kernel's unsent bytes
  // itself. What a critical message finds ahead of it, less what had already reached the reader
  // when it was sent, is what the server held: 9.1 KB here, 45-68 KB without the check (it
  // failed in each of 5 runs). Bytes that reach the reader after its count are counted as the
  // server's: that can only make the check harder to pass.
  //
  // The server paces readers (server_options::pace_readers), but this reader answers no pings,
  // so the connection stops pacing it (the tests before) once read_credit::patience_ns has passed
  // without a pong, and writes to it as it would to any reader that is behind; the log says when.
  const bool tls = GENERATE(false, true);
  INFO((tls ? "over wss://" : "over ws://"));
  temp_dir certs;
  log_capture logs;
  auto o = with_queue_limits(64u << 20, 64u << 20, tls, certs, &logs);
  o.pace_readers = true;
  running_server s(o);
  s.start();
  critical_probe probe(s, 64 * 1024);
  probe.mix_priorities();
  probe.slow->auto_pong(false);
  probe.flood(4000);
  probe.settle();
  // The reader reads until the connection has given up pacing it: its socket refuses bytes only
  // while the reader lags, and only then does pacing begin (and, with no pong, end a second
  // later). Waiting without reading would wait for nothing when the socket was not yet full.
  const auto deadline = std::chrono::steady_clock::now() + 10000ms;
  while (!logs.wait_for("no pong to a pacing ping in time", 10ms)) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    (void)probe.slow->next_of_type("bulk", 10ms);
  }
  // The first episode may write a window's worth before the socket is first refused; from then
  // on the connection is known to be behind.
  probe.send_critical(1);
  probe.read_to_critical(1);
  std::size_t most = 0;
  std::size_t reader_held = 0;
  for (int n = 2; n <= 5; ++n) {
    probe.settle();
    const std::size_t at_reader = probe.slow->received_unread();
    probe.send_critical(n);
    const std::size_t ahead = probe.read_to_critical(n);
    // Over wss:// the reader counts TLS records: a little more than the frames in them.
    if (!tls) REQUIRE(ahead >= at_reader);
    most = std::max(most, ahead - std::min(ahead, at_reader));
    reader_held = std::max(reader_held, at_reader);
  }
  UNSCOPED_INFO("bytes the server held ahead of a critical message: at most "
                << most << "; the reader held up to " << reader_held);
  CHECK(reader_held > 32 * 1024);  // the reader's buffer was the large one
  CHECK(most < 20 * 1024 + tls_slack(tls));
  CHECK(s.server.metrics().messages_dropped == 0);
}
