#pragma once

// The non-template engine behind roomwire::client (compiled in src/client/). Users never name
// it; roomwire::client is a thin typed wrapper over it.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <asio/io_context.hpp>

#include "roomwire/client/client_core.hpp"

namespace roomwire {

struct client_options;

namespace detail {

class client_engine {
 public:
  // Owns an io_context and one thread that runs it.
  explicit client_engine(client_options options);
  // Runs on the host's io_context; the host runs it.
  client_engine(asio::io_context& io, client_options options);
  ~client_engine();
  client_engine(const client_engine&) = delete;
  client_engine& operator=(const client_engine&) = delete;

  // Runs fn with the core, serialised with every other core call; then hands the callbacks it
  // made due to the client's thread and re-arms the timer. Exceptions from fn propagate.
  void with_core(const std::function<void(client_core&)>& fn) const;

  // False when called on the client's own thread (it would wait for itself) or on timeout.
  bool wait_for_acks(std::chrono::milliseconds timeout) const;
  bool wait_closed(std::chrono::milliseconds timeout) const;

  void on_error(std::function<void(std::string_view)> handler);
  const client_options& options() const noexcept;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace detail
}  // namespace roomwire
