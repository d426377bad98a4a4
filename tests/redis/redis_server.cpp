#include "redis_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <thread>
#include <vector>

extern char** environ;

namespace roomwire_test {

namespace {

bool executable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

// The configured path, else the first redis-server on PATH; empty when there is none.
std::string find_redis_server() {
  const std::string configured = ROOMWIRE_REDIS_SERVER;
  if (configured.find('/') != std::string::npos && executable(configured)) return configured;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/usr/sbin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (!dir.empty() && executable(dir + "/redis-server")) return dir + "/redis-server";
  }
  return executable("/usr/bin/redis-server") ? "/usr/bin/redis-server" : std::string();
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

bool accepts(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const sockaddr_in a = loopback(port);
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// Where redis-server writes its own log: the suite's log directory when there is one (with a
// name check_logs.py does not read: Redis's lines are not ours), else nowhere.
std::string log_path(std::uint16_t port) {
  const char* dir = std::getenv("ROOMWIRE_TEST_LOG_DIR");
  if (dir == nullptr || *dir == '\0') return "/dev/null";
  return std::string(dir) + "/redis-server-" + std::to_string(::getpid()) + "-" +
         std::to_string(port) + ".txt";
}

}  // namespace

std::uint16_t redis_server::free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a = loopback(0);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

redis_server::redis_server() : port_(free_port()) { start(); }

redis_server::redis_server(std::uint16_t port, bool start_now) : port_(port) {
  if (start_now) start();
}

redis_server::~redis_server() { stop(); }

void redis_server::start() {
  REQUIRE_FALSE(running());
  const std::string binary = find_redis_server();
  if (binary.empty()) {
    FAIL("redis-server not found (looked at " ROOMWIRE_REDIS_SERVER
         " and on PATH): the redis tests need it; on Debian 12: apt-get install redis-server");
  }
  const std::string port = std::to_string(port_);
  std::vector<std::string> args = {binary,      "--port",      port,     "--bind",
                                   "127.0.0.1", "--save",      "",       "--appendonly",
                                   "no",        "--daemonize", "no",     "--protected-mode",
                                   "yes",       "--loglevel",  "warning"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  const std::string log = log_path(port_);
  posix_spawn_file_actions_addopen(&files, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&files, 1, 2);
  posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, binary.c_str(), &files, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  if (rc != 0) FAIL("cannot start " << binary << ": " << std::strerror(rc));
  pid_ = pid;

  // Up to 10 s for it to accept connections; a server that exits (port taken) fails at once.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!accepts(port_)) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      FAIL("redis-server exited during start-up on port " << port_ << " (see " << log << ")");
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill();
      FAIL("redis-server did not accept connections on port " << port_ << " within 10 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void redis_server::kill() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

void redis_server::stop() {
  if (!running()) return;
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) != pid_) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  pid_ = -1;
}

}  // namespace roomwire_test
