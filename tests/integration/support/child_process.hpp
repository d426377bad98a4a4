#pragma once

// A child process with its standard output and error on pipes, for driving roomwire-server.
// Every wait is on an event (poll on a pipe or on a pidfd) with a timeout.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace rwtest {

class child_process {
 public:
  explicit child_process(const std::vector<std::string>& argv);
  ~child_process();  // kills the child if it still runs; its standard error goes to suite_log
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  bool started() const { return pid_ > 0; }
  // One line of standard output (without the newline); nullopt on timeout or end of output.
  std::optional<std::string> stdout_line(std::chrono::milliseconds timeout);
  // Standard error until it contains `needle` (true) or the timeout / its end (false).
  bool stderr_until(const std::string& needle, std::chrono::milliseconds timeout);
  const std::string& stderr_text() const { return err_; }
  void signal(int sig);
  // The exit status (128 + signal when killed); nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

 private:
  bool read_into(int fd, std::string& into, std::chrono::steady_clock::time_point deadline);

  int pid_ = -1;
  int pidfd_ = -1;
  int out_ = -1;
  int errfd_ = -1;
  std::string out_buffer_;
  std::string err_;
  std::string program_;  // for the suite's log (suite_log.hpp)
  std::optional<int> status_;
};

}  // namespace rwtest
