// roomwire-server: a ready server (PROTOCOL.md §9).
//
// Prints `listening on ws://HOST:PORT/PATH` as its first line on standard output once it accepts
// connections; logs go to standard error. SIGINT or SIGTERM: graceful stop (§8), exit 0. A bad
// flag or an unreadable file: one line on standard error, exit 2.

#include <csignal>
#include <optional>
#include <stdexcept>
#include <cstdio>
#include <string>
#include <system_error>
#include <vector>

#include <pthread.h>

#include "options.hpp"
#include "roomwire/server.hpp"
#if ROOMWIRE_SERVER_HAS_REDIS
#include "roomwire/redis.hpp"
#endif

int main(int argc, char** argv) {
  roomwire_server::command_line cli;
  std::string error;
  if (!roomwire_server::parse(std::vector<std::string>(argv + 1, argv + argc), cli, error)) {
    std::fprintf(stderr, "roomwire-server: %s\n", error.c_str());
    return 2;
  }
  if (cli.help) {
    std::fputs(roomwire_server::usage(), stdout);
    return 0;
  }

  // Signals are taken synchronously by this thread (sigwait); the server's threads, started
  // below, inherit the blocked mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  if (cli.demo_mode) {
    std::fprintf(stderr,
                 "roomwire-server: warning: demo mode (no --tokens): any token of 1-64 characters "
                 "[A-Za-z0-9_.-] is accepted as its own userId; for demos only\n");
  }

  if (!cli.redis_url.empty()) {
#if ROOMWIRE_SERVER_HAS_REDIS
    roomwire::redis::redis_options redis;
    redis.url = cli.redis_url;
    redis.node_id = cli.node_id;
    cli.server.broker = roomwire::redis::broker_factory(redis);
#else
    std::fprintf(stderr, "roomwire-server: --redis: this build has no Redis support "
                         "(configure with -DROOMWIRE_REDIS=ON)\n");
    return 2;
#endif
  }

  std::optional<roomwire::server> made;
  try {
    made.emplace(cli.server);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "roomwire-server: %s\n", e.what());
    return 2;
  }
  roomwire::server& server = *made;
  std::error_code ec;
  server.start(ec);
  const std::string& host = cli.server.host;
  if (ec) {
    std::fprintf(stderr, "roomwire-server: cannot listen on %s:%u: %s\n", host.c_str(),
                 static_cast<unsigned>(cli.server.port), ec.message().c_str());
    return 1;
  }
  const bool bracket = host.find(':') != std::string::npos;
  std::printf("listening on %s%s%s%s:%u%s\n", cli.server.tls ? "wss://" : "ws://",
              bracket ? "[" : "", host.c_str(), bracket ? "]" : "",
              static_cast<unsigned>(server.port()), cli.server.path.c_str());
  std::fflush(stdout);

  int received = 0;
  while (sigwait(&stop_signals, &received) != 0) {
  }
  std::fprintf(stderr, "roomwire-server: %s: stopping\n",
               received == SIGINT ? "SIGINT" : "SIGTERM");
  server.stop();
  return 0;
}
