#pragma once

// A child process (roomwire-chat, or another program) with its standard input, output and error on pipes. A reader
// thread collects output lines and then the exit status; every wait is on a condition variable
// with a timeout.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "suite_log.hpp"

extern char** environ;

namespace roomwire_test {

class chat_process {
 public:
  // `label` names the process's standard error lines in the suite's log.
  explicit chat_process(const std::vector<std::string>& argv, std::string label = "roomwire-chat")
      : label_(std::move(label)) {
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 ||
        ::pipe2(err, O_CLOEXEC) != 0) {
      return;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    // Asio makes its sockets without O_CLOEXEC: the child must not inherit this process's
    // listening sockets (it would hold a test server's port).
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (::posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    stdin_ = in[1];
    if (pid_ <= 0) {
      ::close(out[0]);
      ::close(err[0]);
      return;
    }
    reader_ = std::thread([this, o = out[0], e = err[0]] { read_all(o, e); });
  }
  ~chat_process() {
    close_stdin();
    if (pid_ > 0 && !wait_exit(std::chrono::seconds(10))) ::kill(pid_, SIGKILL);
    if (reader_.joinable()) reader_.join();
    for (const auto& line : err_lines_) suite_log(label_, line);
  }
  chat_process(const chat_process&) = delete;
  chat_process& operator=(const chat_process&) = delete;

  bool started() const { return pid_ > 0; }

  // Sends a signal, unless the process has already been reaped.
  void signal(int signal_number) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (pid_ > 0 && !status_) ::kill(pid_, signal_number);
  }

  void write(std::string_view text) {
    while (!text.empty()) {
      const ssize_t n = ::write(stdin_, text.data(), text.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      text.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  void close_stdin() {
    if (stdin_ >= 0) ::close(stdin_);
    stdin_ = -1;
  }

  // Waits for an output line containing `needle`; returns it.
  std::optional<std::string> wait_stdout(std::string_view needle,
                                         std::chrono::milliseconds timeout) {
    return wait_line(out_lines_, needle, timeout);
  }
  std::optional<std::string> wait_stderr(std::string_view needle,
                                         std::chrono::milliseconds timeout) {
    return wait_line(err_lines_, needle, timeout);
  }
  // The exit status (128 + signal when killed); nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, timeout, [this] { return status_.has_value(); });
    return status_;
  }
  std::vector<std::string> stdout_lines() {
    std::lock_guard<std::mutex> lock(mutex_);
    return out_lines_;
  }
  std::vector<std::string> stderr_lines() {
    std::lock_guard<std::mutex> lock(mutex_);
    return err_lines_;
  }

 private:
  std::optional<std::string> wait_line(const std::vector<std::string>& lines,
                                       std::string_view needle, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    std::optional<std::string> found;
    changed_.wait_for(lock, timeout, [&] {
      for (const auto& l : lines) {
        if (l.find(needle) != std::string::npos) {
          found = l;
          return true;
        }
      }
      return status_.has_value();
    });
    return found;
  }

  void read_all(int out, int err) {
    std::string partial[2];
    pollfd fds[2] = {{out, POLLIN, 0}, {err, POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0) {
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || fds[i].revents == 0) continue;
        char buffer[4096];
        const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          ::close(fds[i].fd);
          fds[i].fd = -1;
          --open_fds;
          continue;
        }
        partial[i].append(buffer, static_cast<std::size_t>(n));
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto nl = partial[i].find('\n'); nl != std::string::npos; nl = partial[i].find('\n')) {
          (i == 0 ? out_lines_ : err_lines_).push_back(partial[i].substr(0, nl));
          partial[i].erase(0, nl + 1);
        }
        changed_.notify_all();
      }
    }
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    std::lock_guard<std::mutex> lock(mutex_);
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    changed_.notify_all();
  }

  std::string label_;
  pid_t pid_ = -1;
  int stdin_ = -1;
  std::thread reader_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> out_lines_;
  std::vector<std::string> err_lines_;
  std::optional<int> status_;
};

}  // namespace roomwire_test
