#include "child_process.hpp"

#include "suite_log.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace rwtest {

using clock_type = std::chrono::steady_clock;

namespace {

int remaining_ms(clock_type::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

}  // namespace

child_process::child_process(const std::vector<std::string>& argv) {
  if (!argv.empty()) program_ = argv[0].substr(argv[0].rfind('/') + 1);
  int out[2];
  int err[2];
  if (pipe2(out, O_CLOEXEC) != 0) return;
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    return;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ) == 0) pid_ = pid;
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  close(err[1]);
  out_ = out[0];
  errfd_ = err[0];
  if (pid_ > 0) pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
}

child_process::~child_process() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  if (errfd_ >= 0) {
    while (read_into(errfd_, err_, clock_type::now())) {
    }
  }
  roomwire_test::suite_log(program_, err_);
  for (int fd : {pidfd_, out_, errfd_}) {
    if (fd >= 0) close(fd);
  }
}

bool child_process::read_into(int fd, std::string& into, clock_type::time_point deadline) {
  pollfd p{fd, POLLIN, 0};
  const int ready = poll(&p, 1, remaining_ms(deadline));
  if (ready <= 0) return false;
  char buffer[4096];
  const ssize_t n = read(fd, buffer, sizeof buffer);
  if (n <= 0) return false;
  into.append(buffer, static_cast<std::size_t>(n));
  return true;
}

std::optional<std::string> child_process::stdout_line(std::chrono::milliseconds timeout) {
  const auto deadline = clock_type::now() + timeout;
  for (;;) {
    if (const auto nl = out_buffer_.find('\n'); nl != std::string::npos) {
      std::string line = out_buffer_.substr(0, nl);
      out_buffer_.erase(0, nl + 1);
      return line;
    }
    if (!read_into(out_, out_buffer_, deadline)) return std::nullopt;
  }
}

bool child_process::stderr_until(const std::string& needle, std::chrono::milliseconds timeout) {
  const auto deadline = clock_type::now() + timeout;
  while (err_.find(needle) == std::string::npos) {
    if (!read_into(errfd_, err_, deadline)) return false;
  }
  return true;
}

void child_process::signal(int sig) {
  if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

std::optional<int> child_process::wait_exit(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  if (pid_ <= 0) return std::nullopt;
  const auto deadline = clock_type::now() + timeout;
  // Keep reading standard error meanwhile, so that a chatty child never blocks on a full pipe.
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      while (read_into(errfd_, err_, clock_type::now())) {
      }
      return status_;
    }
    if (remaining_ms(deadline) == 0) return std::nullopt;
    pollfd p[2] = {{pidfd_, POLLIN, 0}, {errfd_, POLLIN, 0}};
    if (poll(p, 2, remaining_ms(deadline)) > 0 && (p[1].revents & POLLIN)) {
      char buffer[4096];
      const ssize_t n = read(errfd_, buffer, sizeof buffer);
      if (n > 0) err_.append(buffer, static_cast<std::size_t>(n));
    }
  }
}

}  // namespace rwtest
