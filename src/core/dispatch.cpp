// One inbound frame (§2, §5, §6): rate limit, parse, dedup, host handlers, then the built-in
// rule; and the one answer every request gets. Hot path: an accepted chat message costs one
// parse into a reused buffer, a decode into a reused envelope, one encode for the
// acknowledgement and one for the delivery, which every recipient's queue then shares.

#include <string>
#include <utility>

#include "hub_state.hpp"

namespace roomwire::core {

using namespace hub_detail;

void hub::state::receive(session& s, std::string_view text) {
  const std::int64_t now = clk.steady_ms();
  ++counters.messages_in;
  const rate_limiter::decision rate = s.limiter.offer(now);
  const bool parsed = inbound.parse(text, limits);
  const protocol::envelope_header& h = inbound.header();
  req.kind = builtin_type::none;
  req.hook = nullptr;
  if (parsed) {
    req.kind = classify(h.type);
    if (req.kind != builtin_type::none) {
      const auto& hook = hooks[static_cast<std::size_t>(req.kind)];
      if (hook) req.hook = &*hook;
    } else if (const auto it = host_types.find(h.type); it != host_types.end()) {
      req.hook = &it->second;
    }
    // Client-chosen strings never become metric keys.
    const bool known = req.kind != builtin_type::none || req.hook != nullptr;
    bump(counters.in_by_type, known ? h.type : std::string_view("(unknown)"), h.priority);
  } else {
    bump(counters.in_by_type, "(invalid)", h.priority);
  }

  if (rate.abusive) {
    close_session(s, protocol::close_code::rate_limited, "rate limit exceeded");
    return;
  }
  const protocol::decode_error& e = inbound.error();
  if (!rate.allowed) {  // answered, but neither counts as invalid nor resets the count
    json_object details;
    const std::string_view id = parsed ? h.message_id : std::string_view(e.message_id);
    const std::string_view type = parsed ? h.type : std::string_view(e.type);
    if (!id.empty()) details.string("messageId", id);
    if (!type.empty()) details.string("type", type);
    details.integer("retryAfterMs", rate.retry_after_ms);
    send_error(s, protocol::error_code::rate_limited,
               std::string(protocol::describe(protocol::error_code::rate_limited)),
               details.finish(), h.priority);
    return;
  }
  if (!parsed) {
    invalid(s, e.message_id, e.type, e.path, e.reason, h.priority);
    return;
  }
  dispatch(s, now);
}

void hub::state::dispatch(session& s, std::int64_t now) {
  const protocol::envelope_header& h = inbound.header();
  req.s = &s;
  req.priority = h.priority;
  req.accepted_at = clk.wall_ms();
  req.now = now;
  req.answered = false;
  req.client_id = !h.message_id.empty();
  if (req.client_id) {
    req.message_id.assign(h.message_id);
  } else {
    req.message_id.clear();
    append_message_id(req.message_id);
  }

  try {
    if (req.client_id) {
      if (auto original = brk->recall(s.owner->id, req.message_id, now)) {
        // §6: a repeat gets the original acknowledgement and is not acted on again.
        ack_out.payload = std::move(*original);
        send_ack(s, ack_out, req.priority, req.accepted_at);
        s.invalid_in_row = 0;
        return;
      }
    }
    if (req.kind == builtin_type::none && req.hook == nullptr) {
      invalid("/type", "unknown message type");
      return;
    }
    if (req.hook != nullptr) {
      std::optional<verdict> v;
      {
        session_view view(self, s.id, s.who, s.data);
        v = req.hook->invoke(view, inbound);
      }
      if (s.stage != phase::open) return;  // the handler's own sends overflowed the queue
      if (!v) {
        invalid_payload();
        return;
      }
      switch (v->what()) {
        case verdict::kind::refuse:
          refuse(v->code(), v->message());
          return;
        case verdict::kind::replied:
          req.answered = true;
          s.invalid_in_row = 0;
          return;
        case verdict::kind::accept:
          if (req.kind == builtin_type::none) {
            ack("", std::nullopt);
            return;
          }
          break;
      }
    }
    switch (req.kind) {
      case builtin_type::join:
        return on_join(s);
      case builtin_type::leave:
        return on_leave(s);
      case builtin_type::chat:
        return on_chat(s);
      case builtin_type::assign:
        return on_assign(s);
      case builtin_type::update:
        return on_update(s);
      case builtin_type::health:
        return on_health(s);
      case builtin_type::none:
        return;
    }
  } catch (...) {
    // A host handler or policy threw: the request still gets its one answer. 4004 rather than
    // 4002, which would blame the client's frame and count towards closing its connection.
    ++counters.handler_errors;
    if (!req.answered && s.stage == phase::open) {
      refuse(protocol::error_code::permission_denied, "the server could not handle the request");
    }
  }
}

// ---- answers -----------------------------------------------------------------------------

void hub::state::send_error(session& s, protocol::error_code code, std::string message,
                            std::string details, protocol::priority request_priority) {
  protocol::envelope<protocol::error_payload> env;
  env.payload.code = protocol::to_wire(code);
  env.payload.message = std::move(message);
  env.payload.details.text = std::move(details);
  env.priority = answer_priority(request_priority);
  env.timestamp = clk.wall_ms();
  append_message_id(env.message_id);
  enqueue(s, encode_frame(env, 128 + env.payload.message.size() + env.payload.details.text.size()));
}

// 4002, counted towards max_invalid_in_row (§5).
void hub::state::invalid(session& s, std::string_view message_id, std::string_view type,
                         std::string_view path, std::string_view reason, protocol::priority p) {
  json_object details;
  if (!message_id.empty()) details.string("messageId", message_id);
  if (!type.empty()) details.string("type", type);
  details.string("path", path).string("reason", reason);
  std::string message = "invalid message: ";
  if (!path.empty()) message.append(path).push_back(' ');
  message.append(reason);
  send_error(s, protocol::error_code::invalid_message, std::move(message), details.finish(), p);
  if (++s.invalid_in_row > opt.max_invalid_in_row) {
    close_after_flush(s, protocol::close_code::invalid_message);
  }
}

// The current request is invalid.
void hub::state::invalid(std::string_view path, std::string_view reason) {
  req.answered = true;
  invalid(*req.s, req.message_id, inbound.type(), path, reason, req.priority);
}

void hub::state::invalid_payload() {
  const protocol::decode_error& e = inbound.error();
  invalid(e.path, e.reason);
}

// The current request is refused with 4003, 4004 (or a host's code).
void hub::state::refuse(protocol::error_code code, std::string_view message) {
  if (message.empty()) message = protocol::describe(code);
  if (code == protocol::error_code::invalid_message) {
    invalid("", message);
    return;
  }
  req.answered = true;
  session& s = *req.s;
  json_object details;
  details.string("messageId", req.message_id).string("type", inbound.type());
  send_error(s, code, std::string(message), details.finish(), req.priority);
  if (code != protocol::error_code::rate_limited) s.invalid_in_row = 0;
}

// The current request is accepted: acknowledge it and remember the acknowledgement (§6).
void hub::state::ack(std::string_view room_id, std::optional<std::int64_t> seq) {
  req.answered = true;
  acknowledge(*req.s, req.message_id, req.client_id, req.priority, req.accepted_at, req.now,
              room_id, seq, std::nullopt);
}

void hub::state::acknowledge(session& s, std::string_view message_id, bool client_id,
                             protocol::priority p, std::int64_t accepted_at, std::int64_t now,
                             std::string_view room_id, std::optional<std::int64_t> seq,
                             std::optional<bool> recovered) {
  auto& a = ack_out;
  a.payload.message_id.assign(message_id);
  a.payload.room_id.assign(room_id);
  a.payload.sender_id.assign(s.owner->id);
  a.payload.timestamp = accepted_at;
  a.payload.seq = seq;
  a.payload.recovered = recovered;
  send_ack(s, a, p, accepted_at);
  s.invalid_in_row = 0;
  // Only a client-chosen id can come back in a retry.
  if (client_id) brk->remember(s.owner->id, message_id, a.payload, now);
}

void hub::state::send_ack(session& s, protocol::envelope<protocol::message_received>& a,
                          protocol::priority request_priority, std::int64_t accepted_at) {
  a.priority = answer_priority(request_priority);
  a.timestamp = accepted_at;
  a.message_id.clear();
  append_message_id(a.message_id);
  enqueue(s, encode_frame(a, 160 + a.payload.message_id.size() + a.payload.room_id.size() +
                                 a.payload.sender_id.size()));
}

bool hub::state::refused_while_unavailable() {
  if (broker_available) return false;
  refuse(protocol::error_code::permission_denied, cluster_unavailable);
  return true;
}

hub::state::pending hub::state::pending_request() const {
  return pending{req.message_id, req.client_id, req.priority, req.accepted_at, req.now};
}

}  // namespace roomwire::core
