#pragma once

// What a send returns: a handle completed by the server's answer (messageReceived or error), or
// by the client itself (timeout, outbox full, gave up, closed).

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include "roomwire/client/error.hpp"
#include "roomwire/protocol/codes.hpp"
#include "roomwire/protocol/messages.hpp"

namespace roomwire {

// How one request finished.
struct send_result {
  std::string message_id;
  // Empty: acknowledged (`ack` is set). A server refusal: its code in protocol_category
  // (4001-4004, `refusal` is set). Otherwise a client_errc, or close code 4000 (authentication
  // failed for good) in protocol_category.
  std::error_code error;
  std::optional<protocol::message_received> ack;
  std::optional<protocol::error_payload> refusal;
  // From a 4001 refusal's details.retryAfterMs; 0 otherwise.
  std::int64_t retry_after_ms = 0;

  bool ok() const noexcept { return !error; }
  explicit operator bool() const noexcept { return ok(); }
};

using send_callback = std::function<void(const send_result&)>;

struct send_options {
  // Envelope priority; default normal (2). For a taskAssign sent with client::assign_task, the
  // task's priority.
  std::optional<protocol::priority> priority;
  // Empty: the client makes a unique one. A request resent after a reconnect keeps its id.
  std::string message_id;
  // How long to wait for the answer once the request is written to an open connection (the
  // clock stops while disconnected and starts again when it is resent). -1: the client's
  // ack_timeout_ms; 0: no timeout.
  std::int64_t timeout_ms = -1;
  // Called once with the result, before the handle's future becomes ready. It runs where the
  // client runs its handlers (never inside the send call).
  send_callback on_done;
};

namespace detail {
struct send_state {
  std::promise<send_result> promise;
  send_callback on_done;
};
}  // namespace detail

class send_handle {
 public:
  send_handle() = default;
  send_handle(std::string message_id, std::shared_future<send_result> future)
      : message_id_(std::move(message_id)), future_(std::move(future)) {}

  // The envelope's messageId (the client's, or the one given in send_options).
  const std::string& message_id() const noexcept { return message_id_; }
  bool valid() const noexcept { return future_.valid(); }
  bool ready() const {
    return future_.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }
  // Waits for the result. Never call it on the thread that runs the client's handlers.
  const send_result& get() const { return future_.get(); }
  // The result if it arrives within `timeout`.
  template <class Rep, class Period>
  std::optional<send_result> wait_for(std::chrono::duration<Rep, Period> timeout) const {
    if (future_.wait_for(timeout) != std::future_status::ready) return std::nullopt;
    return future_.get();
  }
  const std::shared_future<send_result>& future() const noexcept { return future_; }

 private:
  std::string message_id_;
  std::shared_future<send_result> future_;
};

}  // namespace roomwire
