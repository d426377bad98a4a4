#pragma once

// Every log line that a server or client started by a test writes also goes, when CTest sets
// ROOMWIRE_TEST_LOG_DIR (it does for every test), to a file of this process in that directory.
// The last test of the run, hygiene.logs (tests/check_logs.py), reads them all and fails if any
// holds a secret: a token, an Authorization header, or a message's content (PROTOCOL.md §1,
// issue 6). Files are per process, so tests running in parallel never share one.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <string_view>

namespace roomwire_test {

inline void suite_log(std::string_view origin, std::string_view text) {
  static std::mutex mu;
  static std::FILE* file = [] {
    const char* dir = std::getenv("ROOMWIRE_TEST_LOG_DIR");
    if (dir == nullptr || *dir == '\0') return static_cast<std::FILE*>(nullptr);
    const std::string path = std::string(dir) + "/" + std::to_string(::getpid()) + ".log";
    return std::fopen(path.c_str(), "ae");  // append, close-on-exec
  }();
  if (file == nullptr || text.empty()) return;
  std::lock_guard<std::mutex> lock(mu);
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    std::fprintf(file, "%.*s: %.*s\n", static_cast<int>(origin.size()), origin.data(),
                 static_cast<int>(end - begin), text.data() + begin);
    begin = end + 1;
  }
  std::fflush(file);
}

}  // namespace roomwire_test
