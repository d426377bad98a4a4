// roomwire added to an existing Asio program; walked through in docs/embedding.md.
#include <chrono>
#include <csignal>
#include <functional>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include "roomwire/server.hpp"

int main() {
  asio::io_context io;  // the host's own event loop

  roomwire::server_options options;                    // ws://127.0.0.1:9002/api/ws
  options.authenticate = roomwire::demo_authenticate;  // put your own token check here
  roomwire::server rooms(io, options);
  rooms.start();  // throws std::system_error if it cannot listen

  asio::steady_timer timer(io);  // host work, reporting to the watchers of "task:nightly-build"
  roomwire::protocol::task_update update;
  update.task_id = "nightly-build";
  std::function<void()> report = [&] {
    update.status = update.progress < 100 ? "running" : "done";
    rooms.publish_task_update("build-bot", update);  // thread-safe, from anywhere
    if ((update.progress += 10) > 100) return;
    timer.expires_after(std::chrono::seconds(1));
    timer.async_wait([&](std::error_code ec) {
      if (!ec) report();
    });
  };
  report();
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code, int) {
    timer.cancel();
    rooms.async_stop();  // graceful (§8): draining, flush, close 1001
  });
  io.run();  // returns once roomwire has drained and the host has nothing left to do
}
