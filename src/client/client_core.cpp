#include "roomwire/client/client_core.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <exception>

namespace roomwire {

namespace {

constexpr std::uint16_t close_normal = 1000;
constexpr std::uint16_t close_abnormal = 1006;
constexpr std::uint16_t close_invalid_authentication = 4000;
constexpr std::uint16_t close_rate_limited = 4001;

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// Length in Unicode code points of valid UTF-8 (continuation bytes are not counted).
std::size_t code_points(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string describe_close(std::uint16_t code, const std::string& reason) {
  std::string text = "close " + std::to_string(code);
  if (!reason.empty()) text += " (" + reason + ")";
  return text;
}

// One request's completion: the callback, then the future. Its future is made ready even if the
// callback throws, and even if the queued call is dropped without running (abandon()).
struct completion {
  std::shared_ptr<detail::send_state> state;
  send_result result;
  bool fulfilled = false;

  completion(std::shared_ptr<detail::send_state> s, send_result r)
      : state(std::move(s)), result(std::move(r)) {}
  completion(const completion&) = delete;
  completion& operator=(const completion&) = delete;
  ~completion() { fulfil(); }
  void fulfil() noexcept {
    if (fulfilled) return;
    fulfilled = true;
    state->promise.set_value(result);
  }
  void run() {
    try {
      if (state->on_done) state->on_done(result);
    } catch (...) {
      fulfil();
      throw;
    }
    fulfil();
  }
};

// Decodes the frame's payload as P into one alternative of `out`.
template <class P, class Variant>
bool decode_into(protocol::inbound_frame& frame, Variant& out) {
  protocol::envelope<P> env;
  if (!frame.decode(env)) return false;
  out = std::move(env);
  return true;
}

}  // namespace

std::string with_token_query(std::string_view url, std::string_view token) {
  std::string out(url);
  const auto fragment = out.find('#');
  std::string tail;
  if (fragment != std::string::npos) {
    tail = out.substr(fragment);
    out.resize(fragment);
  }
  out += out.find('?') == std::string::npos ? '?' : '&';
  out += "token=";
  static constexpr char hex[] = "0123456789ABCDEF";
  for (const char ch : token) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c)) {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0x0F];
    }
  }
  return out + tail;
}

client_core::client_core(client_transport& transport, const core::clock& clock,
                         client_core_options options)
    : transport_(transport), clock_(clock), options_(std::move(options)) {
  std::uint64_t seed = options_.seed;
  if (seed == 0) {
    std::random_device device;
    seed = (static_cast<std::uint64_t>(device()) << 32) ^ device();
  }
  random_.seed(seed);
  char prefix[17];
  std::snprintf(prefix, sizeof prefix, "%016llx", static_cast<unsigned long long>(random_()));
  id_prefix_ = prefix;
}

client_core::~client_core() = default;

std::string client_core::make_message_id() {
  return id_prefix_ + '-' + std::to_string(++id_counter_);
}

std::size_t client_core::pending() const noexcept {
  return static_cast<std::size_t>(std::count_if(requests_.begin(), requests_.end(), [](auto& e) {
    return e.second.kind != request_kind::rejoin;
  }));
}

// ---- handlers ------------------------------------------------------------------------------

void client_core::on_frame(std::function<void(std::string_view)> handler) {
  on_frame_ =
      handler ? std::make_shared<const std::function<void(std::string_view)>>(std::move(handler))
              : nullptr;
}

void client_core::on_invalid_frame(
    std::function<void(std::string_view, const protocol::decode_error&)> handler) {
  using fn = std::function<void(std::string_view, const protocol::decode_error&)>;
  on_invalid_ = handler ? std::make_shared<const fn>(std::move(handler)) : nullptr;
}

void client_core::on_connected(std::function<void()> handler) {
  on_connected_ = std::move(handler);
}
void client_core::on_closed(std::function<void(const close_info&)> handler) {
  on_closed_ = std::move(handler);
}
void client_core::on_reconnecting(std::function<void(const reconnect_info&)> handler) {
  on_reconnecting_ = std::move(handler);
}
void client_core::on_gave_up(std::function<void(std::string_view)> handler) {
  on_gave_up_ = std::move(handler);
}
void client_core::on_history_gap(std::function<void(std::string_view)> handler) {
  on_history_gap_ = std::move(handler);
}

std::vector<std::function<void()>> client_core::take_callbacks() {
  std::vector<std::function<void()>> out;
  out.swap(callbacks_);
  return out;
}

// ---- connecting ----------------------------------------------------------------------------

void client_core::connect(std::string url, std::string token) {
  if (state_ != connection_state::idle && state_ != connection_state::closed) return;
  url_ = std::move(url);
  token_ = std::move(token);
  tokens_ = nullptr;
  attempt_ = 0;
  fresh_token_used_ = false;
  start_attempt();
}

void client_core::connect(std::string url, token_provider tokens) {
  if (state_ != connection_state::idle && state_ != connection_state::closed) return;
  url_ = std::move(url);
  token_.clear();
  tokens_ = std::move(tokens);
  attempt_ = 0;
  fresh_token_used_ = false;
  start_attempt();
}

void client_core::start_attempt() {
  state_ = connection_state::connecting;
  is_open_ = false;
  ++connection_;
  std::string token = token_;
  if (tokens_) {
    try {
      token = tokens_();
    } catch (const std::exception& e) {
      closed(connection_, close_abnormal, std::string("token provider failed: ") + e.what());
      return;
    } catch (...) {
      closed(connection_, close_abnormal, "token provider failed");
      return;
    }
  }
  transport_.open(connection_, url_, token);
}

void client_core::opened(std::uint64_t connection) {
  if (connection != connection_) return;
  if (state_ == connection_state::closing) {
    is_open_ = true;
    // close() came while the attempt was in flight: finish it now that it can be closed.
    transport_.close(connection_, close_code_, close_reason_);
    return;
  }
  if (state_ != connection_state::connecting) return;
  state_ = connection_state::open;
  is_open_ = true;
  attempt_ = 0;
  if (on_connected_) defer(on_connected_);

  // Rooms first, so that what follows finds the session in them; then every request not yet
  // written on this connection (unanswered ones with their original messageId, then the
  // outbox), more urgent priorities first and in creation order within a priority.
  for (auto& room : intended_rooms()) {
    header h;
    h.message_id = make_message_id();
    h.timestamp = clock_.wall_ms();
    protocol::envelope<protocol::join_room> env;
    env.payload.room_id = room;
    if (options_.recover_history) {
      // No since for a room where nothing was seen: since 0 would replay the room's whole
      // history, including what was said before this client ever joined.
      const auto seen = last_seq_.find(room);
      if (seen != last_seq_.end()) env.payload.since = seen->second.contiguous;
    }
    env.timestamp = h.timestamp;
    env.message_id = h.message_id;
    request r;
    r.message_id = h.message_id;
    r.text = protocol::encode(env);
    r.kind = request_kind::rejoin;
    r.room = std::move(room);
    r.since = env.payload.since;
    r.timeout_ms = options_.ack_timeout_ms;
    r.written_once = true;  // never counted in the outbox
    const std::uint64_t order = next_order_++;
    by_id_.emplace(r.message_id, order);
    write(requests_.emplace(order, std::move(r)).first->second);
  }
  std::vector<request*> waiting;
  for (auto& entry : requests_) {
    if (!entry.second.sent) waiting.push_back(&entry.second);
  }
  std::stable_sort(waiting.begin(), waiting.end(),
                   [](const request* a, const request* b) { return a->priority < b->priority; });
  for (request* r : waiting) write(*r);
}

// The rooms the session should be in on a new connection: those joined, changed by the joins
// and leaves written before but not answered (in order). Those are resent with their own ids,
// and the server's dedup may answer them without acting again, so the rejoin has to do it.
std::vector<std::string> client_core::intended_rooms() const {
  std::vector<std::string> rooms = rooms_;
  for (const auto& entry : requests_) {
    const request& r = entry.second;
    if (!r.written_once) continue;
    const auto it = std::find(rooms.begin(), rooms.end(), r.room);
    if (r.kind == request_kind::join && it == rooms.end()) rooms.push_back(r.room);
    if (r.kind == request_kind::leave && it != rooms.end()) rooms.erase(it);
  }
  return rooms;
}

void client_core::write(request& r) {
  transport_.send(connection_, r.text);
  r.sent = true;
  if (!r.written_once) {
    r.written_once = true;
    --outbox_;
  }
  r.deadline = r.timeout_ms > 0 ? clock_.steady_ms() + r.timeout_ms : 0;
}

void client_core::closed(std::uint64_t connection, std::uint16_t code, std::string_view reason) {
  if (connection != connection_) return;
  const std::string why(reason);
  const bool was_open = is_open_;
  is_open_ = false;
  switch (state_) {
    case connection_state::idle:
    case connection_state::waiting:
    case connection_state::closed:
      return;
    case connection_state::closing:
      lost_connection();
      finish(code, why, was_open, make_error_code(client_errc::closed));
      return;
    case connection_state::connecting:
    case connection_state::open:
      break;
  }
  lost_connection();
  if (code == close_normal) {
    finish(code, why, was_open, make_error_code(client_errc::closed));
    return;
  }
  if (code == close_invalid_authentication) {
    if (tokens_ && !fresh_token_used_) {
      fresh_token_used_ = true;
      if (on_closed_)
        defer([h = on_closed_, info = close_info{code, why, was_open, false}] { h(info); });
      if (on_reconnecting_) {
        reconnect_info info;
        info.attempt = attempt_ + 1;
        info.max_attempts = options_.reconnect.max_attempts;
        info.delay_ms = 0;
        info.fresh_token = true;
        defer([h = on_reconnecting_, info] { h(info); });
      }
      start_attempt();
      return;
    }
    finish(code, why, was_open,
           protocol::make_error_code(protocol::close_code::invalid_authentication));
    return;
  }
  schedule_reconnect(code, why, was_open);
}

// Requests written on the lost connection wait to be written again; the core's own rejoins are
// made afresh from the rooms on the next connection.
void client_core::lost_connection() {
  for (auto it = requests_.begin(); it != requests_.end();) {
    if (it->second.kind == request_kind::rejoin) {
      by_id_.erase(it->second.message_id);
      it = requests_.erase(it);
      continue;
    }
    it->second.sent = false;
    it->second.deadline = 0;
    ++it;
  }
}

void client_core::schedule_reconnect(std::uint16_t code, const std::string& reason, bool was_open) {
  const reconnect_options& ro = options_.reconnect;
  if (attempt_ >= ro.max_attempts) {
    const std::string why = std::to_string(attempt_) + " reconnection attempt" +
                            (attempt_ == 1 ? "" : "s") +
                            " failed; last: " + describe_close(code, reason);
    finish(code, reason, was_open, make_error_code(client_errc::gave_up));
    if (on_gave_up_) defer([h = on_gave_up_, why] { h(why); });
    return;
  }
  std::int64_t delay = reconnect_delay(ro, attempt_);
  if (ro.jitter > 0) {
    const double jitter = std::min(ro.jitter, 1.0);
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(random_);
    delay = static_cast<std::int64_t>(static_cast<double>(delay) * (1.0 - jitter * u));
  }
  if (code == close_rate_limited) {
    delay = std::max(delay, retry_after_ms_);
    retry_after_ms_ = 0;
  }
  ++attempt_;
  state_ = connection_state::waiting;
  reconnect_at_ = clock_.steady_ms() + delay;
  if (on_closed_)
    defer([h = on_closed_, info = close_info{code, reason, was_open, false}] { h(info); });
  if (on_reconnecting_) {
    reconnect_info info;
    info.attempt = attempt_;
    info.max_attempts = ro.max_attempts;
    info.delay_ms = delay;
    defer([h = on_reconnecting_, info] { h(info); });
  }
}

// Closed for good: every request still unanswered completes with `why`.
void client_core::finish(std::uint16_t code, const std::string& reason, bool was_open,
                         std::error_code why) {
  state_ = connection_state::closed;
  if (on_closed_)
    defer([h = on_closed_, info = close_info{code, reason, was_open, true}] { h(info); });
  fail_all(why);
}

void client_core::fail_all(std::error_code why) {
  while (!requests_.empty()) {
    send_result result;
    result.error = why;
    complete(requests_.begin()->first, std::move(result));
  }
}

void client_core::close(std::uint16_t code, std::string reason) {
  close_code_ = code;
  close_reason_ = reason;
  switch (state_) {
    case connection_state::connecting:
    case connection_state::open:
      state_ = connection_state::closing;
      transport_.close(connection_, code, reason);
      return;
    case connection_state::idle:
    case connection_state::waiting:
      finish(code, reason, false, make_error_code(client_errc::closed));
      return;
    case connection_state::closing:
    case connection_state::closed:
      return;
  }
}

void client_core::abandon() {
  state_ = connection_state::closed;
  callbacks_.clear();
  for (auto& entry : requests_) {
    if (!entry.second.state) continue;
    send_result result;
    result.message_id = entry.second.message_id;
    result.error = make_error_code(client_errc::closed);
    completion(std::move(entry.second.state), std::move(result)).fulfil();
  }
  requests_.clear();
  by_id_.clear();
  outbox_ = 0;
}

// ---- time ----------------------------------------------------------------------------------

void client_core::tick() {
  const std::int64_t now = clock_.steady_ms();
  std::vector<std::uint64_t> expired;
  for (const auto& entry : requests_) {
    const request& r = entry.second;
    if (r.sent && r.deadline != 0 && r.deadline <= now) expired.push_back(entry.first);
  }
  for (const std::uint64_t order : expired) {
    send_result result;
    result.error = make_error_code(client_errc::timeout);
    complete(order, std::move(result));
  }
  if (state_ == connection_state::waiting && now >= reconnect_at_) start_attempt();
}

std::optional<std::int64_t> client_core::next_deadline() const {
  std::optional<std::int64_t> next;
  if (state_ == connection_state::waiting) next = reconnect_at_;
  for (const auto& entry : requests_) {
    const request& r = entry.second;
    if (r.sent && r.deadline != 0 && (!next || r.deadline < *next)) next = r.deadline;
  }
  return next;
}

// ---- sending -------------------------------------------------------------------------------

std::optional<send_handle> client_core::refuse_early(const send_options& options, header& out) {
  std::error_code why;
  if (!options.message_id.empty()) {
    const std::size_t length = code_points(options.message_id);
    if (length > protocol::max_id_chars) {
      why = make_error_code(client_errc::invalid_message_id);
    } else if (by_id_.count(options.message_id) != 0) {
      why = make_error_code(client_errc::duplicate_message_id);
    }
    out.message_id = options.message_id;
  } else {
    out.message_id = make_message_id();
  }
  if (!why) {
    switch (state_) {
      case connection_state::closing:
      case connection_state::closed:
        why = make_error_code(client_errc::closed);
        break;
      case connection_state::open:
        break;
      default:
        if (outbox_ >= options_.max_outbox) why = make_error_code(client_errc::outbox_full);
    }
  }
  out.timestamp = clock_.wall_ms();
  out.priority = options.priority.value_or(protocol::priority::normal);
  if (!why) return std::nullopt;

  auto state = std::make_shared<detail::send_state>();
  state->on_done = options.on_done;
  send_handle handle(out.message_id, state->promise.get_future().share());
  send_result result;
  result.message_id = out.message_id;
  result.error = why;
  deliver(std::move(state), std::move(result));
  return handle;
}

send_handle client_core::submit(header&& h, std::string text, request_kind kind, std::string room,
                                send_options&& options) {
  auto state = std::make_shared<detail::send_state>();
  state->on_done = std::move(options.on_done);
  send_handle handle(h.message_id, state->promise.get_future().share());

  request r;
  r.message_id = std::move(h.message_id);
  r.text = std::move(text);
  r.priority = h.priority;
  r.kind = kind;
  r.room = std::move(room);
  r.timeout_ms = options.timeout_ms < 0 ? options_.ack_timeout_ms : options.timeout_ms;
  r.state = std::move(state);
  const std::uint64_t order = next_order_++;
  by_id_.emplace(r.message_id, order);
  request& stored = requests_.emplace(order, std::move(r)).first->second;
  ++outbox_;
  if (state_ == connection_state::open) write(stored);
  return handle;
}

void client_core::complete(std::uint64_t order, send_result result) {
  const auto it = requests_.find(order);
  if (it == requests_.end()) return;
  request r = std::move(it->second);
  requests_.erase(it);
  by_id_.erase(r.message_id);
  if (!r.written_once) --outbox_;
  if (!r.state) return;
  result.message_id = r.message_id;
  deliver(std::move(r.state), std::move(result));
}

void client_core::deliver(std::shared_ptr<detail::send_state> state, send_result result) {
  auto c = std::make_shared<completion>(std::move(state), std::move(result));
  defer([c] { c->run(); });
}

// ---- receiving -----------------------------------------------------------------------------

void client_core::received(std::uint64_t connection, std::string_view text) {
  if (connection != connection_) return;
  if (state_ != connection_state::open && state_ != connection_state::closing) return;
  // A frame from the server proves the token was accepted: a later 4000 may try a fresh one.
  fresh_token_used_ = false;
  if (on_frame_) defer([h = on_frame_, copy = std::string(text)] { (*h)(copy); });
  if (!frame_.parse(text)) {
    if (on_invalid_) {
      defer([h = on_invalid_, copy = std::string(text), error = frame_.error()] {
        (*h)(copy, error);
      });
    }
    return;
  }
  decoded_delivery delivery;
  if (decode_delivery(delivery) && (own_unanswered(delivery) || seen_before(delivery))) return;
  // The typed handler first, then the completion of the request it answers: whoever waits on a
  // handle sees the answer only after its handler ran.
  const auto handler = handlers_.find(frame_.type());
  if (handler != handlers_.end()) {
    auto call = handler->second(frame_, delivery);
    if (call) {
      defer(std::move(call));
    } else if (on_invalid_) {
      defer([h = on_invalid_, copy = std::string(text), error = frame_.error()] {
        (*h)(copy, error);
      });
    }
  }
  if (frame_.type() == protocol::message_received::type) {
    handle_ack();
  } else if (frame_.type() == protocol::error_payload::type) {
    handle_error();
  }
}

// Decodes a delivery when the core has a use for it: its dedup key (delivery_memory), or the
// room's last seq (recover_history). True when `out` holds it; one that does not decode is left
// to its handler, which reports it.
bool client_core::decode_delivery(decoded_delivery& out) {
  const bool dedup = options_.delivery_memory != 0 && !frame_.header().message_id.empty();
  const std::string_view type = frame_.type();
  if (type == protocol::chat_delivery::type) {
    if (!dedup && !options_.recover_history) return false;
    if (!decode_into<protocol::chat_delivery>(frame_, out)) return false;
    const auto& chat = std::get<protocol::envelope<protocol::chat_delivery>>(out).payload;
    // Noted even when the delivery is a repeat: the client has that message all the same.
    note_seq(chat.room_id, chat.seq);
    return true;
  }
  if (!dedup) return false;
  if (type == protocol::task_assign_delivery::type) {
    return decode_into<protocol::task_assign_delivery>(frame_, out);
  }
  if (type == protocol::task_update_delivery::type) {
    return decode_into<protocol::task_update_delivery>(frame_, out);
  }
  return false;
}

// Only rooms the client is in: a rejoin asks for nothing else, and the map must not grow with
// rooms the host put the session in behind the client's back.
void client_core::note_seq(const std::string& room, std::int64_t seq) {
  if (!options_.recover_history) return;
  if (std::find(rooms_.begin(), rooms_.end(), room) == rooms_.end()) return;
  const auto [it, inserted] = last_seq_.try_emplace(room);
  seen_seqs& seen = it->second;
  if (inserted) seen.contiguous = seq - 1;  // the first seen since joining
  if (seq <= seen.contiguous) return;
  seen.above.insert(seq);
  // A hole that lasts this long is not a delivery overtaken on the way (a priority 3-4 message
  // shed under back-pressure never comes): stop waiting for it.
  constexpr std::size_t max_seq_holes = 256;
  while (seen.above.size() > max_seq_holes) {
    seen.contiguous = *seen.above.begin();
    seen.above.erase(seen.above.begin());
  }
  while (!seen.above.empty() && *seen.above.begin() == seen.contiguous + 1) {
    ++seen.contiguous;
    seen.above.erase(seen.above.begin());
  }
}

// A delivery keeps the messageId of the request that caused it (§2), so type, sender, room and
// messageId name one request. A replay after a rejoin (§6 recovery) keeps it too, so what the
// client already had is dropped here.
bool client_core::seen_before(const decoded_delivery& delivery) {
  if (options_.delivery_memory == 0 || frame_.header().message_id.empty()) return false;
  std::string key;
  if (const auto* chat = std::get_if<protocol::envelope<protocol::chat_delivery>>(&delivery)) {
    key = chat->payload.sender_id + '\n' + chat->payload.room_id;
  } else if (const auto* assign =
                 std::get_if<protocol::envelope<protocol::task_assign_delivery>>(&delivery)) {
    key = assign->payload.assigner_id + '\n';
  } else if (const auto* update =
                 std::get_if<protocol::envelope<protocol::task_update_delivery>>(&delivery)) {
    key = update->payload.sender_id + '\n';
  } else {
    return false;
  }
  key.append(frame_.type()).append(1, '\n').append(frame_.header().message_id);
  return !remember_delivery(std::move(key));
}

// A rejoin's replay can carry a message this client sent whose acknowledgement was lost with
// the connection (it is resent, and answered as a repeat). It is the client's own message, not
// a delivery: the server never sends a session its own messages back (§5).
bool client_core::own_unanswered(const decoded_delivery& delivery) const {
  const auto* chat = std::get_if<protocol::envelope<protocol::chat_delivery>>(&delivery);
  if (chat == nullptr || chat->message_id.empty()) return false;
  const auto id = by_id_.find(chat->message_id);
  if (id == by_id_.end()) return false;
  const auto it = requests_.find(id->second);
  return it != requests_.end() && it->second.kind == request_kind::chat &&
         it->second.room == chat->payload.room_id;
}

// False when the key was already remembered.
bool client_core::remember_delivery(std::string key) {
  const auto [it, inserted] = delivered_.insert(std::move(key));
  if (!inserted) return false;
  delivered_order_.push_back(&*it);
  if (delivered_order_.size() > options_.delivery_memory) {
    delivered_.erase(delivered_.find(*delivered_order_.front()));
    delivered_order_.pop_front();
  }
  return true;
}

void client_core::handle_ack() {
  protocol::envelope<protocol::message_received> env;
  if (!frame_.decode(env)) return;
  const auto id = by_id_.find(env.payload.message_id);
  if (id == by_id_.end()) return;
  const auto it = requests_.find(id->second);
  if (it == requests_.end()) return;
  const request& r = it->second;
  const auto room = std::find(rooms_.begin(), rooms_.end(), r.room);
  if (r.kind == request_kind::join && room == rooms_.end()) rooms_.push_back(r.room);
  if ((r.kind == request_kind::join || r.kind == request_kind::rejoin) && env.payload.seq &&
      options_.recover_history &&
      std::find(rooms_.begin(), rooms_.end(), r.room) != rooms_.end()) {
    // The room's last seq when the session became a member: what follows is what a rejoin
    // asks for, even when nothing arrives before the connection drops.
    last_seq_.try_emplace(r.room, seen_seqs{*env.payload.seq, {}});
  }
  if (r.kind == request_kind::leave) {
    if (room != rooms_.end()) rooms_.erase(room);
    last_seq_.erase(r.room);
  }
  // The client's own messages are acknowledged with their seq but never delivered back to it:
  // without this a rejoin would ask for them again.
  if ((r.kind == request_kind::chat || r.kind == request_kind::other) && env.payload.seq &&
      !env.payload.room_id.empty()) {
    note_seq(env.payload.room_id, *env.payload.seq);
    // A rejoin may still replay it (its seq can lie past a hole): as a delivery it would be
    // this client's own message coming back, so it counts as one already had.
    if (options_.delivery_memory != 0) {
      remember_delivery(env.payload.sender_id + '\n' + env.payload.room_id +
                        std::string(protocol::chat_delivery::type) + '\n' +
                        env.payload.message_id);
    }
  }
  if (r.kind == request_kind::rejoin && r.since && env.payload.recovered &&
      !*env.payload.recovered) {
    history_gap(r);
  }
  send_result result;
  result.ack = std::move(env.payload);
  complete(id->second, std::move(result));
}

// The server could not replay everything after the rejoin's since: the history no longer
// reached back to since + 1, or the room was created afresh (its seq started again at 1). Its
// replay has arrived by now, before the acknowledgement.
void client_core::history_gap(const request& rejoin) {
  const auto seen = last_seq_.find(rejoin.room);
  if (seen != last_seq_.end()) {
    if (seen->second.highest() <= *rejoin.since) {
      // Nothing newer was replayed, so the room most likely started again and since points
      // past its end: count from its beginning, or every later rejoin would report a gap again
      // and miss what the new room said.
      seen->second = seen_seqs{};
    } else {
      // What the history had is here; the holes below it will never be filled.
      seen->second = seen_seqs{seen->second.highest(), {}};
    }
  }
  if (on_history_gap_) defer([h = on_history_gap_, room = rejoin.room] { h(room); });
}

void client_core::handle_error() {
  protocol::envelope<protocol::error_payload> env;
  if (!frame_.decode(env)) return;
  // details is kept as raw text by the codec; read the two fields the client needs from the
  // parsed frame instead of parsing it again.
  std::string message_id;
  std::int64_t retry_after = 0;
  const rapidjson::Value* payload = frame_.payload();
  if (payload != nullptr) {
    const auto details = payload->FindMember("details");
    if (details != payload->MemberEnd() && details->value.IsObject()) {
      const auto id = details->value.FindMember("messageId");
      if (id != details->value.MemberEnd() && id->value.IsString()) {
        message_id.assign(id->value.GetString(), id->value.GetStringLength());
      }
      const auto retry = details->value.FindMember("retryAfterMs");
      if (retry != details->value.MemberEnd() && retry->value.IsNumber()) {
        const double value = retry->value.GetDouble();
        if (value > 0 && value < 86400000.0) retry_after = static_cast<std::int64_t>(value);
      }
    }
  }
  int code = 0;
  const std::string& text = env.payload.code;
  std::from_chars(text.data(), text.data() + text.size(), code);
  if (code == static_cast<int>(protocol::error_code::rate_limited) && retry_after > 0) {
    retry_after_ms_ = retry_after;
  }
  if (message_id.empty()) return;
  const auto id = by_id_.find(message_id);
  if (id == by_id_.end()) return;
  const auto it = requests_.find(id->second);
  if (it == requests_.end()) return;
  const request& r = it->second;
  // A room the session could not (re)join, or that no longer exists, is not one it is in.
  const bool gone = r.kind == request_kind::rejoin ||
                    (r.kind == request_kind::leave &&
                     code == static_cast<int>(protocol::error_code::room_not_found));
  if (gone) {
    const auto room = std::find(rooms_.begin(), rooms_.end(), r.room);
    if (room != rooms_.end()) rooms_.erase(room);
    last_seq_.erase(r.room);
  }
  send_result result;
  result.error = std::error_code(code, protocol::protocol_category());
  result.retry_after_ms = retry_after;
  result.refusal = std::move(env.payload);
  complete(id->second, std::move(result));
}

}  // namespace roomwire
