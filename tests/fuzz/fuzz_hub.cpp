// Fuzz target: the sans-IO hub (core/hub.hpp) driven by several sessions at once.
//
// The input is a little program (see README.md): two configuration bytes, then operations —
// open a session as some user, send a frame (built from the input so that the fuzzer gets past
// validation, or raw bytes), close, advance the virtual clock, tick, stall a session's reader,
// move frames into the transport's backlog, write the backlog out, drain, host pushes. The fake
// transport pops what non-stalled sessions are sent after every operation. Invariants, checked
// through the public API only (abort() on violation):
//   - every frame the hub sends decodes with the protocol codec, and says what hub::frame says;
//   - seq strictly increases per room and priority as each member sees it (§3: in seq order
//     among messages of equal priority), and no seq arrives twice;
//   - a session gets a room `message` only for a room it was a member of (since its queue was
//     last seen empty), never its own message unless deliver_to_sender, and a taskAssign only
//     when addressed to its own user;
//   - answers (messageReceived or error): never more than the session's requests, never one for
//     another session's messageId; at the end each request has exactly one answer, correlated by
//     messageId, unless the hub closed the session;
//   - queues: within queue_hard_bytes for sessions the hub has not closed; no priority 3-4
//     frame left queued past queue_soft_bytes; metrics().queue_bytes is the sum of the sessions';
//   - metrics(): connections and rooms agree with a model of who joined what (fed by join/leave
//     hooks, which run exactly when the built-in rule is about to act);
//   - the transport is asked to close only sessions it has, each at most once; at the end, with
//     every session closed, no room but the declared ones and no queued byte is left.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

#include "roomwire/core/hub.hpp"
#include "roomwire/protocol.hpp"

namespace {

namespace core = roomwire::core;
namespace proto = roomwire::protocol;

[[noreturn]] void violated(const std::string& what) {
  std::fprintf(stderr, "fuzz_hub: invariant violated: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

void require(bool ok, const std::string& what) {
  if (!ok) violated(what);
}

// ---- host types, hooked like a host application would --------------------------------------

struct ping {
  static constexpr std::string_view type = "ping";
  std::string note;
  static constexpr auto fields() {
    return proto::fields(proto::field("note", &ping::note).optional());
  }
};

// Answered by the handler itself (verdict::replied) with a messageReceived.
struct echo {
  static constexpr std::string_view type = "echo";
  std::int64_t n = 0;
  static constexpr auto fields() { return proto::fields(proto::field("n", &echo::n).optional()); }
};

constexpr std::array<const char*, 4> users = {"u0", "u1", "u2", "u3"};  // u0 is an admin
constexpr std::array<const char*, 8> room_names = {
    "r0", "r1", "r2", "r3", "task:t0", "task:t1", "system:health", ""};
constexpr std::array<const char*, 5> task_names = {"t0", "t1", "t2", "t3", ""};
constexpr std::size_t slot_count = 4;

bool is_implicit(std::string_view room) {
  return room.substr(0, 5) == "task:" || room.substr(0, 7) == "system:";
}

// The host's join policy, also used by the model.
bool may_join(std::string_view user, std::string_view room) {
  return !(user == "u3" && room == "r1");
}

// ---- reading the program -------------------------------------------------------------------

class reader {
 public:
  reader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool done() const { return pos_ >= size_; }
  std::uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  std::string bytes(std::size_t n) {
    n = std::min(n, size_ - std::min(pos_, size_));
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

// A JSON string literal of arbitrary bytes (each byte >= 0x80 as the code point of that value, so
// that the text stays valid UTF-8).
std::string quote(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20 || u >= 0x80) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", u);
      out += esc;
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

// ---- the fake transport --------------------------------------------------------------------

class fake_transport final : public core::transport {
 public:
  void wake(core::session_id) override {}
  void close(core::session_id session, proto::close_code, std::string_view) override {
    ++closes[session];
  }
  std::map<core::session_id, int> closes;
};

// ---- the model -----------------------------------------------------------------------------

struct room_seqs {
  std::uint64_t incarnation = 0;
  std::array<std::int64_t, proto::priority_count> last{};
  std::set<std::int64_t> seen;
  // The queue may hold messages of an earlier incarnation of the room (whose seq started again
  // at 1): not checked until the queue is next seen empty.
  bool mixed = false;
};

struct tracked {
  std::size_t user = 0;
  std::set<std::string, std::less<>> rooms;       // member now
  std::set<std::string, std::less<>> seen_rooms;  // member at some time since the queue was empty
  std::map<std::string, room_seqs, std::less<>> seqs;
  std::uint64_t requests = 0;
  std::uint64_t answers = 0;
  std::size_t backlog = 0;
  bool stalled = false;
  std::vector<std::string> own_ids;
};

struct model_room {
  std::uint64_t incarnation = 0;
  bool declared = false;
  std::set<core::session_id> members;
};

struct harness_id {
  core::session_id owner = 0;
  std::uint32_t sent = 0;
  std::uint32_t answered = 0;
  bool tainted = false;  // a raw frame used it too: not correlated exactly
};

class harness {
 public:
  explicit harness(reader& in) : in_(in) {
    const std::uint8_t c0 = in_.byte();
    const std::uint8_t c1 = in_.byte();
    declared_mode_ = (c0 & 1) != 0;
    opt_.deliver_to_sender = (c0 & 2) != 0;
    if ((c0 & 4) != 0) {
      opt_.queue_soft_bytes = 256 + std::size_t{c1} * 16;
      opt_.queue_hard_bytes = opt_.queue_soft_bytes * (2 + (c1 & 3));
    }
    if ((c0 & 8) != 0) {
      opt_.rate_per_second = 5;
      opt_.burst = 5;
      opt_.abusive_windows = 2;
    } else {
      opt_.rate_per_second = 1e6;
      opt_.burst = 1e6;
    }
    opt_.offline_task_delivery = (c0 & 16) != 0;
    opt_.offline_tasks_per_user = 3;
    if ((c0 & 32) != 0) {
      opt_.dedup_entries = 4;
      opt_.dedup_ttl_ms = 2000;
    }
    opt_.max_invalid_in_row = (c0 & 64) != 0 ? 2 : 10;
    opt_.health_interval_ms = (c0 & 128) != 0 ? 1000 : 10000;
    opt_.drain_timeout_ms = 3000;

    core::hub_policies pol;
    pol.may_join = [](const core::identity& who, std::string_view room) {
      return may_join(who.user_id, room);
    };
    pol.may_send_system = [](const core::identity& who, std::string_view room) {
      if (room == "r2") throw std::runtime_error("policy failure");  // caught by the hub: 4004
      return who.has_role("admin");
    };
    pol.may_publish_health = [](const core::identity& who) { return who.user_id == "u0"; };
    pol.may_create_task = [](const core::identity&, std::string_view task) { return task != "t3"; };
    if (declared_mode_) {
      pol.declared_rooms.emplace();
      pol.declared_rooms->insert("r0");
      pol.declared_rooms->insert("r1");
      for (const char* r : {"r0", "r1"}) {
        model_room& m = rooms_[r];
        m.declared = true;
        m.incarnation = ++incarnations_;
      }
    }
    hub_ = std::make_unique<core::hub>(opt_, std::move(pol), transport_, clock_);

    hub_->on<proto::join_room>(
        [this](core::session_view& s, const proto::envelope<proto::join_room>& e) {
          model_join(s.id(), e.payload.room_id);
        });
    hub_->on<proto::leave_room>(
        [this](core::session_view& s, const proto::envelope<proto::leave_room>& e) {
          model_leave(s.id(), e.payload.room_id);
        });
    hub_->on<proto::chat_message>(
        [](core::session_view&, const proto::envelope<proto::chat_message>& e) {
          if (e.payload.content == "throw") throw std::runtime_error("handler failure");
          if (e.payload.content == "refuse") {
            return core::verdict::refuse(proto::error_code::permission_denied, "refused by host");
          }
          return core::verdict::accept();
        });
    hub_->on<ping>([](core::session_view&, const proto::envelope<ping>&) {});
    hub_->on<echo>([](core::session_view& s, const proto::envelope<echo>& e) {
      proto::envelope<proto::message_received> reply;
      reply.payload.message_id = e.message_id;
      reply.payload.sender_id = s.user_id();
      reply.priority = std::min(e.priority, proto::priority::normal);
      s.send(reply);
      return core::verdict::replied();
    });
  }

  void run() {
    while (!in_.done()) {
      step(in_.byte());
      pump();
      check();
    }
    finish();
  }

 private:
  // ---- operations ----------------------------------------------------------------------------

  void step(std::uint8_t op) {
    switch (op % 13) {
      case 0:
        return op_open(in_.byte());
      case 1:
      case 2:
      case 3:
        return op_send_built();
      case 4:
        return op_send_raw();
      case 5:
        return op_close(in_.byte());
      case 6:
        return op_advance(in_.byte());
      case 7:
        return hub_->tick();
      case 8:
        if (tracked* t = find(slot_of(in_.byte()))) t->stalled = !t->stalled;
        return;
      case 9:
        return op_pop(in_.byte());
      case 10:
        return op_write(in_.byte());
      case 11:
        return op_misc(in_.byte());
      default:  // tick when the hub says it has work
        if (clock_.steady_ms() < hub_->next_deadline_ms()) {
          clock_.advance(
              std::min<std::int64_t>(hub_->next_deadline_ms() - clock_.steady_ms(), 600000));
        }
        return hub_->tick();
    }
  }

  std::size_t slot_of(std::uint8_t b) const { return b % slot_count; }

  tracked* find(std::size_t slot) {
    if (slots_[slot] == 0) return nullptr;
    return &sessions_.at(slots_[slot]);
  }

  void op_open(std::uint8_t b) {
    const std::size_t slot = slot_of(b);
    if (slots_[slot] != 0) return;
    const std::size_t user = (b / slot_count) % users.size();
    core::identity who{users[user], {}};
    if (user == 0) who.roles.push_back("admin");
    // Known before open(): open() may already queue (offline tasks, a draining notice).
    const core::session_id id = hub_->open(std::move(who));
    require(sessions_.count(id) == 0 && gone_.count(id) == 0, "open() reused a session id");
    slots_[slot] = id;
    sessions_[id].user = user;
  }

  void op_close(std::uint8_t b) {
    const std::size_t slot = slot_of(b);
    const core::session_id id = slots_[slot];
    if (id == 0) return;
    static constexpr std::array<proto::close_code, 4> codes = {
        proto::close_code::normal, proto::close_code::going_away,
        proto::close_code::policy_violation, proto::close_code::invalid_message};
    hub_->closed(id, codes[(b / slot_count) % codes.size()]);
    gone_.insert(id);
    forget(id);
    slots_[slot] = 0;
  }

  void op_advance(std::uint8_t b) {
    clock_.advance(b < 128 ? std::int64_t{b} * 10 : std::int64_t{b - 128} * 1000);
  }

  // The transport takes frames into its own send queue (its backlog).
  void op_pop(std::uint8_t b) {
    tracked* t = find(slot_of(b));
    if (t == nullptr) return;
    const core::session_id id = slots_[slot_of(b)];
    for (int n = b / slot_count % 8 + 1; n > 0; --n) {
      const core::frame_ptr f = pop_checked(id);
      if (!f) break;
      t->backlog += f->text.size();
    }
    hub_->set_backlog(id, t->backlog);
  }

  // The transport writes part of its backlog to the socket.
  void op_write(std::uint8_t b) {
    tracked* t = find(slot_of(b));
    if (t == nullptr) return;
    const std::size_t share = b / slot_count;  // 0..63
    t->backlog = share >= 48 ? 0 : t->backlog - t->backlog * share / 48;
    hub_->set_backlog(slots_[slot_of(b)], t->backlog);
  }

  void op_misc(std::uint8_t b) {
    switch (b % 8) {
      case 0:
        if (b >= 128) hub_->drain();  // rarely: a drain ends the interesting part
        return;
      case 1:
        return hub_->set_health(b & 8 ? proto::health_status::degraded : proto::health_status::ok);
      case 2: {
        proto::task_assign a;
        a.task_id = task_names[(b / 8) % 4];
        a.assignee_id = users[(b / 32) % users.size()];
        return hub_->assign_task("host", a, static_cast<proto::priority>((b / 8) % 5));
      }
      case 3: {
        proto::task_update u;
        u.task_id = task_names[(b / 8) % 4];
        u.status = "host";
        u.progress = b % 101;
        return hub_->publish_task_update("host", u, static_cast<proto::priority>((b / 8) % 5));
      }
      case 4:  // events for sessions the hub does not have
        hub_->receive(next_unknown(), "{}");
        hub_->set_backlog(next_unknown(), 10);
        require(hub_->pop(next_unknown()) == nullptr, "pop() of an unknown session gave a frame");
        hub_->closed(next_unknown(), proto::close_code::normal);
        return;
      default:
        return;
    }
  }

  core::session_id next_unknown() { return 1000000 + in_.byte(); }

  // A frame that passes validation (mostly), so that the fuzzer reaches the rules.
  void op_send_built() {
    const std::uint8_t b = in_.byte();
    const std::size_t slot = slot_of(b);
    tracked* t = find(slot);
    const std::uint8_t kind = (b / slot_count) % 10;
    const std::uint8_t p1 = in_.byte();
    const std::uint8_t p2 = in_.byte();
    std::string type;
    std::string payload;
    switch (kind) {
      case 0:
      case 1:
        type = "joinRoom";
        payload = "{\"roomId\":" + quote(room_names[p1 % room_names.size()]) + "}";
        break;
      case 2:
        type = "leaveRoom";
        payload = "{\"roomId\":" + quote(room_names[p1 % room_names.size()]) + "}";
        break;
      case 3:
      case 4:
      case 5: {
        type = "message";
        std::string content;
        const std::uint8_t len = in_.byte();
        if (len == 255) {
          content = "throw";
        } else if (len == 254) {
          content = "refuse";
        } else if (len >= 200) {  // large: reaches the queue limits
          content.assign(static_cast<std::size_t>(len - 199) * 97, 'x');
        } else {
          content = in_.bytes(len % 24);
        }
        payload = "{\"roomId\":" + quote(room_names[p1 % room_names.size()]) +
                  ",\"content\":" + quote(content);
        switch (p2 % 7) {
          case 1:
            payload += ",\"metadata\":{\"type\":\"text\"}";
            break;
          case 2:
            payload +=
                ",\"metadata\":{\"type\":\"file\",\"fileUrl\":\"https://x/y\",\"fileName\":\"y\"}";
            break;
          case 3:
            payload += ",\"metadata\":{\"type\":\"file\"}";  // 4002: fileUrl required
            break;
          case 4:
            payload += ",\"metadata\":{\"type\":\"system\"}";
            break;
          case 5:
            payload += ",\"metadata\":{\"type\":\"text\",\"x\":[1,{\"y\":null}],\"z\":\"\\u00e9\"}";
            break;
          default:
            break;
        }
        payload += "}";
        break;
      }
      case 6: {
        type = "taskAssign";
        const std::size_t who = p2 % (users.size() + 1);
        payload = "{\"taskId\":" + quote(task_names[p1 % task_names.size()]) +
                  ",\"assigneeId\":" + quote(who < users.size() ? users[who] : "ghost");
        if (p2 / 8 % 6 != 5) payload += ",\"priority\":" + std::to_string(p2 / 8 % 6);
        payload += "}";
        break;
      }
      case 7: {
        type = "taskUpdate";
        static constexpr std::array<const char*, 3> statuses = {"running", "done", ""};
        char progress[32];
        std::snprintf(progress, sizeof progress, "%g", p2 * 0.5);
        payload = "{\"taskId\":" + quote(task_names[p1 % task_names.size()]) +
                  ",\"status\":" + quote(statuses[p1 / 8 % statuses.size()]) +
                  ",\"progress\":" + progress;
        if ((p1 & 128) != 0) payload += ",\"metadata\":{\"step\":" + std::to_string(p1) + "}";
        payload += "}";
        break;
      }
      case 8:
        type = "healthUpdate";
        payload =
            p1 % 2 == 0 ? "{\"status\":\"ok\",\"metrics\":{\"n\":1}}" : "{\"status\":\"bad\"}";
        break;
      default:
        type = p1 % 3 == 0 ? "ping" : p1 % 3 == 1 ? "echo" : "nope";
        payload = type == "echo" ? "{\"n\":" + std::to_string(p2) + "}" : "{\"note\":\"n\"}";
        break;
    }
    std::string text = "{\"type\":" + quote(type) + ",\"payload\":" + payload;
    const std::uint8_t m = in_.byte();
    if (m % 8 < 5) text += ",\"priority\":" + std::to_string(m % 8);  // else absent
    std::string id;
    if (t != nullptr) {
      const int mode = m / 8 % 4;
      if (mode == 3 && !t->own_ids.empty()) {
        id = t->own_ids[m / 32 % t->own_ids.size()];  // a retry: answered once more
      } else if (mode != 0) {
        id = "h" + std::to_string(slots_[slot]) + "-" + std::to_string(++id_counter_);
        t->own_ids.push_back(id);
        if (t->own_ids.size() > 8) t->own_ids.erase(t->own_ids.begin());
      }
      if (!id.empty()) text += ",\"messageId\":" + quote(id);
    }
    text += "}";
    send(slot, text, id.empty() ? nullptr : &id);
  }

  void op_send_raw() {
    const std::size_t slot = slot_of(in_.byte());
    const std::string text = in_.bytes(in_.byte());
    // What the hub will read as the frame's messageId, if anything: such an id is no longer
    // correlated exactly.
    proto::inbound_frame f;
    const std::string id =
        f.parse(text) ? std::string(f.header().message_id) : f.error().message_id;
    if (!id.empty()) raw_ids_.insert(id);
    if (const auto it = ids_.find(id); it != ids_.end()) it->second.tainted = true;
    send(slot, text, nullptr);
  }

  void send(std::size_t slot, const std::string& text, const std::string* id) {
    const core::session_id session = slots_[slot];
    if (session == 0) return;
    if (trace_)
      std::fprintf(stderr, "session %llu -> %s\n", static_cast<unsigned long long>(session),
                   text.c_str());
    const std::uint64_t before = hub_->metrics().messages_in;
    hub_->receive(session, text);
    const std::uint64_t taken = hub_->metrics().messages_in - before;
    require(taken <= 1, "messages_in grew by more than one for one frame");
    tracked& t = sessions_.at(session);
    t.requests += taken;
    if (taken == 1 && id != nullptr) {
      harness_id& h = ids_[*id];
      h.owner = session;
      h.tainted = h.tainted || raw_ids_.count(*id) != 0;
      ++h.sent;
    }
  }

  // ---- the model of membership (called from the join/leave hooks) ---------------------------

  void model_join(core::session_id id, const std::string& room) {
    tracked& t = sessions_.at(id);
    const bool exists = rooms_.count(room) != 0;
    if (declared_mode_ && !exists && !is_implicit(room)) return;  // 4003
    if (!may_join(users[t.user], room)) return;                   // 4004
    model_room& r = rooms_[room];
    if (!exists) r.incarnation = ++incarnations_;
    r.members.insert(id);
    t.rooms.insert(room);
    t.seen_rooms.insert(room);
    auto [it, fresh] = t.seqs.try_emplace(room);
    if (fresh) {
      it->second.incarnation = r.incarnation;
    } else if (it->second.incarnation != r.incarnation) {
      it->second.mixed = true;
    }
  }

  void model_leave(core::session_id id, const std::string& room) {
    tracked& t = sessions_.at(id);
    t.rooms.erase(room);
    const auto it = rooms_.find(room);
    if (it == rooms_.end()) return;
    it->second.members.erase(id);
    if (it->second.members.empty() && !it->second.declared) rooms_.erase(it);
  }

  void forget(core::session_id id) {
    tracked& t = sessions_.at(id);
    for (const std::string& room : std::set<std::string, std::less<>>(t.rooms))
      model_leave(id, room);
    sessions_.erase(id);
  }

  // ---- the outbound side -------------------------------------------------------------------

  // Non-stalled sessions have everything written at once.
  void pump() {
    for (const core::session_id id : slots_) {
      if (id == 0 || sessions_.at(id).stalled) continue;
      while (pop_checked(id)) {
      }
    }
  }

  core::frame_ptr pop_checked(core::session_id id) {
    tracked& t = sessions_.at(id);
    const std::size_t queued = hub_->queued_bytes(id);
    core::frame_ptr f = hub_->pop(id);
    if (!f) {
      // The queue was empty: whatever comes next was queued from now on.
      t.seen_rooms = t.rooms;
      for (auto it = t.seqs.begin(); it != t.seqs.end();) {
        const auto room = rooms_.find(it->first);
        if (t.rooms.count(it->first) == 0 || room == rooms_.end()) {
          it = t.seqs.erase(it);
          continue;
        }
        if (it->second.mixed) it->second = room_seqs{room->second.incarnation, {}, {}, false};
        ++it;
      }
      return f;
    }
    require(f->priority < proto::priority::low || queued <= opt_.queue_soft_bytes,
            "a priority 3-4 frame was still queued past queue_soft_bytes");
    check_frame(t, id, *f);
    return f;
  }

  void check_frame(tracked& t, core::session_id id, const core::frame& f) {
    if (trace_)
      std::fprintf(stderr, "  session %llu <- %s\n", static_cast<unsigned long long>(id),
                   f.text.c_str());
    proto::inbound_frame parsed;
    require(parsed.parse(f.text),
            "the hub sent a frame its own codec refuses: " + parsed.error().path + " " +
                parsed.error().reason + ": " + f.text);
    const proto::envelope_header& h = parsed.header();
    require(h.type == f.type, "frame::type disagrees with the frame: " + f.text);
    require(h.priority == f.priority, "frame::priority disagrees with the frame: " + f.text);
    require(h.timestamp.has_value() && !h.message_id.empty(),
            "a server frame without timestamp or messageId: " + f.text);
    const std::string who = users[t.user];

    if (h.type == proto::message_received::type) {
      proto::envelope<proto::message_received> e;
      require(parsed.decode(e), "undecodable messageReceived: " + f.text);
      answer(t, id, e.payload.message_id, f);
    } else if (h.type == proto::error_payload::type) {
      proto::envelope<proto::error_payload> e;
      require(parsed.decode(e), "undecodable error: " + f.text);
      rapidjson::Document details;
      details.Parse(e.payload.details.text.empty() ? "{}" : e.payload.details.text.c_str());
      require(!details.HasParseError() && details.IsObject(), "error details not an object");
      std::string msg_id;
      if (details.HasMember("messageId") && details["messageId"].IsString()) {
        msg_id = details["messageId"].GetString();
      }
      answer(t, id, msg_id, f);
    } else if (h.type == proto::chat_delivery::type) {
      proto::envelope<proto::chat_delivery> e;
      require(parsed.decode(e), "undecodable message delivery: " + f.text);
      const std::string& room = e.payload.room_id;
      require(t.seen_rooms.count(room) != 0,
              "session " + std::to_string(id) + " got a message of a room it is not in: " + f.text);
      if (!opt_.deliver_to_sender) {
        const auto it = ids_.find(e.message_id);
        require(it == ids_.end() || it->second.tainted || it->second.owner != id,
                "a session got its own message back: " + f.text);
      }
      const auto s = t.seqs.find(room);
      require(s != t.seqs.end(), "no seq record for a room the session was in");
      room_seqs& rs = s->second;
      if (!rs.mixed) {
        std::int64_t& last = rs.last[static_cast<std::size_t>(f.priority)];
        require(e.payload.seq > last, "seq did not increase (" + std::to_string(last) + " then " +
                                          std::to_string(e.payload.seq) + ") in " + room +
                                          " for session " + std::to_string(id));
        require(rs.seen.insert(e.payload.seq).second, "seq delivered twice: " + f.text);
        last = e.payload.seq;
      }
    } else if (h.type == proto::task_assign_delivery::type) {
      proto::envelope<proto::task_assign_delivery> e;
      require(parsed.decode(e), "undecodable taskAssign: " + f.text);
      require(e.payload.assignee_id == who,
              "session of " + who + " got another user's taskAssign: " + f.text);
    } else if (h.type == proto::task_update_delivery::type) {
      proto::envelope<proto::task_update_delivery> e;
      require(parsed.decode(e), "undecodable taskUpdate: " + f.text);
    } else if (h.type == proto::health_update::type) {
      proto::envelope<proto::health_update> e;
      require(parsed.decode(e), "undecodable healthUpdate: " + f.text);
    } else {
      violated("a frame of unexpected type: " + f.text);
    }
  }

  void answer(tracked& t, core::session_id id, const std::string& message_id,
              const core::frame& f) {
    require(f.priority <= proto::priority::normal, "an answer above priority 2: " + f.text);
    ++t.answers;
    require(t.answers <= t.requests,
            "more answers than requests for session " + std::to_string(id) + ": " + f.text);
    const auto it = ids_.find(message_id);
    if (it == ids_.end() || it->second.tainted) return;
    require(it->second.owner == id, "an answer to another session's request: " + f.text);
    ++it->second.answered;
    require(it->second.answered <= it->second.sent, "a request answered twice: " + f.text);
  }

  // ---- invariants after each operation ---------------------------------------------------

  void check() {
    const core::hub_metrics m = hub_->metrics();
    require(m.connections == sessions_.size(), "metrics().connections disagrees");
    require(m.rooms == rooms_.size(), "metrics().rooms is " + std::to_string(m.rooms) +
                                          ", the model has " + std::to_string(rooms_.size()));
    std::uint64_t sum = 0;
    for (const auto& [id, t] : sessions_) {
      const std::size_t q = hub_->queued_bytes(id);
      sum += q;
      if (closed_by_hub(id)) continue;
      require(q <= opt_.queue_hard_bytes, "session " + std::to_string(id) + " holds " +
                                              std::to_string(q) + " bytes past queue_hard_bytes");
      require(t.answers <= t.requests, "more answers than requests");
    }
    require(m.queue_bytes == sum, "metrics().queue_bytes " + std::to_string(m.queue_bytes) +
                                      " is not the sum of the sessions' " + std::to_string(sum));
    for (const auto& [id, n] : transport_.closes) {
      require(n == 1, "transport::close() asked twice for one session");
      require(sessions_.count(id) != 0 || gone_.count(id) != 0, "close of an unknown session");
    }
  }

  bool closed_by_hub(core::session_id id) const { return transport_.closes.count(id) != 0; }

  // Everything written out: every request of a session still open has exactly one answer.
  void finish() {
    for (auto& [id, t] : sessions_) {
      if (closed_by_hub(id)) continue;
      t.backlog = 0;
      hub_->set_backlog(id, 0);
      while (!closed_by_hub(id) && pop_checked(id)) {
      }
      if (closed_by_hub(id)) continue;  // closed once flushed (drain, invalid in a row)
      require(t.answers == t.requests, "session " + std::to_string(id) + ": " +
                                           std::to_string(t.requests) + " requests but " +
                                           std::to_string(t.answers) + " answers");
    }
    for (const auto& [mid, h] : ids_) {
      if (h.tainted || closed_by_hub(h.owner) || sessions_.count(h.owner) == 0) continue;
      require(h.answered == h.sent, "request " + mid + " sent " + std::to_string(h.sent) +
                                        " times, answered " + std::to_string(h.answered));
    }
    for (std::size_t slot = 0; slot < slot_count; ++slot) {
      if (slots_[slot] == 0) continue;
      hub_->closed(slots_[slot], proto::close_code::normal);
      gone_.insert(slots_[slot]);
      forget(slots_[slot]);
      slots_[slot] = 0;
    }
    check();
    const core::hub_metrics m = hub_->metrics();
    require(m.connections == 0 && m.queue_bytes == 0, "state left after every session closed");
    require(m.rooms == (declared_mode_ ? 2u : 0u), "rooms left after every session closed");
  }

  reader& in_;
  const bool trace_ = std::getenv("FUZZ_HUB_TRACE") != nullptr;  // print the traffic
  core::hub_options opt_;
  bool declared_mode_ = false;
  core::manual_clock clock_;
  fake_transport transport_;
  std::unique_ptr<core::hub> hub_;

  std::array<core::session_id, slot_count> slots_{};
  std::map<core::session_id, tracked> sessions_;
  std::set<core::session_id> gone_;
  std::map<std::string, model_room, std::less<>> rooms_;
  std::uint64_t incarnations_ = 0;
  std::map<std::string, harness_id, std::less<>> ids_;
  std::set<std::string, std::less<>> raw_ids_;  // messageIds that raw frames used
  std::uint64_t id_counter_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  reader in(data, size);
  harness h(in);
  h.run();
  return 0;
}
