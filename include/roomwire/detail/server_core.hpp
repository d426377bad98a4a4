#pragma once

// The non-template engine behind roomwire::basic_server (compiled in src/transport/). Users never
// name it; basic_server<UserData> is a thin typed wrapper over it.

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <system_error>

#include <asio/io_context.hpp>

#include "roomwire/core/hub.hpp"

namespace roomwire {

struct server_options;

namespace detail {

class server_core {
 public:
  // Owns an io_context and options.threads threads that run it.
  explicit server_core(server_options options);
  // Runs on the host's io_context; the host runs it.
  server_core(asio::io_context& io, server_options options);
  ~server_core();
  server_core(const server_core&) = delete;
  server_core& operator=(const server_core&) = delete;

  void start(std::error_code& ec) noexcept;
  std::uint16_t port() const noexcept;
  void stop();
  void async_stop(std::function<void()> done);

  // Runs fn with the hub, serialised with every other hub call (a recursive lock: a handler may
  // call it again). Exceptions from fn propagate to the caller.
  void with_hub(const std::function<void(core::hub&)>& fn) const;
  // Reports an exception that a host handler threw (logged at error level).
  void log_handler_failure(std::string_view what) noexcept;

  const server_options& options() const noexcept;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace detail
}  // namespace roomwire
