// roomwire-chat: a terminal client (PROTOCOL.md §9).
//
// Joins every --room, then reads standard input line by line (see --help). Every envelope it
// receives goes to standard output, one per line; connection events go to standard error. End of
// input or /quit: waits for acknowledgements (at most 5 s), closes with 1000, exits 0. Losing the
// connection for good (gave up reconnecting, a 4000 close, a 1000 close from the server): one
// line on standard error, exit 1. A bad command line: exit 2.

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "commands.hpp"
#include "format.hpp"
#include "options.hpp"
#include "roomwire/client.hpp"

namespace {

namespace proto = roomwire::protocol;
using roomwire_chat::one_line;
using roomwire_chat::render;

// Whole lines to standard output and standard error, from any thread.
class console {
 public:
  void out(std::string_view line) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::cout << line << '\n' << std::flush;
  }
  void err(std::string_view line) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::cerr << line << '\n' << std::flush;
  }

 private:
  std::mutex mutex_;
};

// How the session ended, when it ended by itself; the main thread is woken through a pipe.
class ending {
 public:
  ending() {
    if (::pipe2(fds_, O_CLOEXEC) != 0) fds_[0] = fds_[1] = -1;
  }
  ~ending() {
    for (int fd : fds_) {
      if (fd >= 0) ::close(fd);
    }
  }
  ending(const ending&) = delete;
  ending& operator=(const ending&) = delete;

  void end(std::string reason) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (ended_) return;
      ended_ = true;
      reason_ = std::move(reason);
    }
    const char byte = 1;
    while (::write(fds_[1], &byte, 1) < 0 && errno == EINTR) {
    }
  }
  void quitting() {
    std::lock_guard<std::mutex> lock(mutex_);
    quitting_ = true;
  }
  bool is_quitting() {
    std::lock_guard<std::mutex> lock(mutex_);
    return quitting_;
  }
  bool ended() {
    std::lock_guard<std::mutex> lock(mutex_);
    return ended_;
  }
  std::string reason() {
    std::lock_guard<std::mutex> lock(mutex_);
    return reason_;
  }
  int wake_fd() const { return fds_[0]; }

 private:
  std::mutex mutex_;
  bool ended_ = false;
  bool quitting_ = false;
  std::string reason_;
  int fds_[2] = {-1, -1};
};

bool is_built_in(std::string_view type) {
  return type == proto::chat_delivery::type || type == proto::message_received::type ||
         type == proto::task_assign_delivery::type || type == proto::task_update_delivery::type ||
         type == proto::error_payload::type || type == proto::health_update::type;
}

std::string describe_close(const roomwire::close_info& info) {
  std::string text = std::to_string(info.code);
  if (!info.reason.empty()) text += " (" + one_line(info.reason) + ")";
  return text;
}

class chat {
 public:
  chat(const roomwire_chat::command_line& cli, console& io, ending& end)
      : cli_(cli), io_(io), end_(end), client_(options(cli)) {
    install_handlers();
  }

  void start() {
    for (const auto& room : cli_.rooms) join(room);
    client_.connect();
  }

  // One line of input; false for /quit.
  bool line(std::string_view text) {
    const auto c = roomwire_chat::parse_line(text);
    using kind = roomwire_chat::command::kind;
    switch (c.what) {
      case kind::join:
        join(c.room);
        return true;
      case kind::leave:
        leave(c.room);
        return true;
      case kind::assign:
        client_.assign_task(c.task, c.user, static_cast<proto::priority>(c.priority),
                            report_failure("taskAssign " + c.task));
        return true;
      case kind::task:
        client_.update_task(c.task, c.status, c.progress, report_failure("taskUpdate " + c.task));
        return true;
      case kind::quit:
        return false;
      case kind::invalid:
        io_.err("roomwire-chat: " + c.text);
        return true;
      case kind::text:
        if (rooms_.empty()) {
          io_.err("roomwire-chat: no room joined; type /join ROOM first");
          return true;
        }
        client_.send_message(rooms_.back(), c.text, report_failure("message"));
        return true;
    }
    return true;
  }

  roomwire::client& client() { return client_; }

 private:
  static roomwire::client_options options(const roomwire_chat::command_line& cli) {
    roomwire::client_options o;  // the contract's reconnection defaults (§6)
    o.url = cli.url;
    o.token = cli.token;
    return o;
  }

  void join(const std::string& room) {
    rooms_.erase(std::remove(rooms_.begin(), rooms_.end(), room), rooms_.end());
    rooms_.push_back(room);
    client_.join(room, report_failure("joinRoom " + room));
  }
  void leave(const std::string& room) {
    rooms_.erase(std::remove(rooms_.begin(), rooms_.end(), room), rooms_.end());
    client_.leave(room, report_failure("leaveRoom " + room));
  }

  // Refusals arrive as `error` envelopes and are printed with the rest; what the client itself
  // could not do (outbox full, no answer in time, gave up) is said on standard error.
  roomwire::send_options report_failure(std::string what) {
    roomwire::send_options o;
    o.on_done = [this, what = std::move(what)](const roomwire::send_result& r) {
      if (r.ok() || r.refusal) return;
      io_.err("roomwire-chat: " + what + " " + r.message_id + " not sent: " + r.error.message());
    };
    return o;
  }

  void install_handlers() {
    if (cli_.json) {
      client_.on_frame([this](std::string_view json) { io_.out(json); });
    } else {
      client_.on<proto::chat_delivery>([this](const auto& m) { io_.out(render(m)); });
      client_.on<proto::message_received>([this](const auto& m) { io_.out(render(m)); });
      client_.on<proto::task_assign_delivery>([this](const auto& m) { io_.out(render(m)); });
      client_.on<proto::task_update_delivery>([this](const auto& m) { io_.out(render(m)); });
      client_.on<proto::error_payload>([this](const auto& m) { io_.out(render(m)); });
      client_.on<proto::health_update>([this](const auto& m) { io_.out(render(m)); });
      // Types of the host application's own: as received.
      client_.on_frame([this](std::string_view json) {
        if (!frame_.parse(json) || is_built_in(frame_.type())) return;
        io_.out(one_line(json));
      });
      client_.on_invalid_frame(
          [this](std::string_view json, const proto::decode_error&) { io_.out(one_line(json)); });
    }

    client_.on_connected([this] { io_.err("connected to " + cli_.url); });
    client_.on_closed([this](const roomwire::close_info& info) {
      if (info.was_open) {
        io_.err("closed with " + describe_close(info));
      } else if (info.final && end_.is_quitting()) {
        io_.err("closed");  // quit while disconnected
      } else {
        io_.err("connection attempt failed: " + one_line(info.reason));
      }
      if (!info.final) return;
      if (info.code == 4000) {
        end_.end("authentication refused (close 4000)");
      } else if (info.code == 1000 && info.was_open && !end_.is_quitting()) {
        end_.end("closed by the server (1000)");
      }
      // Giving up is reported by on_gave_up, just after.
    });
    client_.on_reconnecting([this](const roomwire::reconnect_info& r) {
      if (r.fresh_token) {
        io_.err("reconnecting at once with a fresh token");
        return;
      }
      io_.err("reconnecting in " + std::to_string(r.delay_ms) + " ms (attempt " +
              std::to_string(r.attempt) + " of " + std::to_string(r.max_attempts) + ")");
    });
    client_.on_history_gap([this](std::string_view room) {
      io_.err("rejoined " + std::string(room) + ": messages sent meanwhile may be missing");
    });
    client_.on_gave_up([this](std::string_view reason) {
      io_.err("gave up: " + std::string(reason));
      end_.end("gave up reconnecting: " + std::string(reason));
    });
    client_.on_error(
        [this](std::string_view what) { io_.err("roomwire-chat: " + std::string(what)); });
  }

  const roomwire_chat::command_line& cli_;
  console& io_;
  ending& end_;
  std::vector<std::string> rooms_;  // joined by command, most recent last (main thread)
  proto::inbound_frame frame_;      // the client's thread
  roomwire::client client_;         // last: destroyed first, while what its handlers use lives
};

// Reads standard input until end of input, /quit (true) or the session ends by itself.
enum class stop_reason { end_of_input, quit, ended };

stop_reason read_input(chat& session, ending& end) {
  std::string pending;
  char buffer[4096];
  pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {end.wake_fd(), POLLIN, 0}};
  for (;;) {
    const int n = ::poll(fds, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return stop_reason::end_of_input;
    }
    if (fds[1].revents != 0) return stop_reason::ended;
    if (fds[0].revents == 0) continue;
    const ssize_t got = ::read(STDIN_FILENO, buffer, sizeof buffer);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got <= 0) {
      // The last line may lack its newline.
      if (!pending.empty() && !session.line(pending)) return stop_reason::quit;
      return stop_reason::end_of_input;
    }
    pending.append(buffer, static_cast<std::size_t>(got));
    std::size_t start = 0;
    for (std::size_t nl = pending.find('\n'); nl != std::string::npos;
         nl = pending.find('\n', start)) {
      const std::string_view one(pending.data() + start, nl - start);
      start = nl + 1;
      if (!session.line(one)) return stop_reason::quit;
    }
    pending.erase(0, start);
  }
}

}  // namespace

int main(int argc, char** argv) {
  roomwire_chat::command_line cli;
  std::string error;
  if (!roomwire_chat::parse(std::vector<std::string>(argv + 1, argv + argc), cli, error)) {
    std::fprintf(stderr, "roomwire-chat: %s\n", error.c_str());
    return 2;
  }
  if (cli.help) {
    std::fputs(roomwire_chat::usage(), stdout);
    return 0;
  }
  std::signal(SIGPIPE, SIG_IGN);

  console io;
  ending end;
  if (end.wake_fd() < 0) {
    std::fprintf(stderr, "roomwire-chat: cannot create a pipe\n");
    return 1;
  }
  chat session(cli, io, end);
  session.start();

  const stop_reason why = read_input(session, end);
  if (why != stop_reason::ended) {
    end.quitting();
    session.client().wait_for_acks(std::chrono::seconds(5));
    if (!end.ended()) {
      session.client().close(1000);
      const auto& o = session.client().options();
      session.client().wait_closed(std::chrono::milliseconds(o.close_timeout_ms + 1000));
    }
  }
  if (end.ended()) {
    // The reason is the last line: what the client still reports (requests that failed with
    // the connection) comes first.
    session.client().wait_closed(std::chrono::seconds(2));
    io.err("roomwire-chat: " + end.reason());
    return 1;
  }
  return 0;
}
