// Peer "websocketpp": what a C++ developer writes with websocketpp 0.8.2 + standalone Asio and
// RapidJSON, without roomwire: one thread, logging off, rooms as sets of connection handles, the
// outgoing envelope encoded once per message and handed to websocketpp once per recipient (which
// frames and writes it per connection). It speaks the suite's subset of PROTOCOL.md: joinRoom
// and message are acknowledged with messageReceived, a message is delivered to the other members
// with senderId and seq.
//
//   roomwire_peer_websocketpp [--port 0]   prints "listening on ws://127.0.0.1:PORT/api/ws"

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif

#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

namespace {

// PEER_READ_BUFFER (the roomwire_peer_websocketpp_4k build): websocketpp's per-connection read
// buffer, a char array inside every connection object (16 KiB by default), made smaller — to
// measure what it costs an idle connection (docs/benchmarks.md, scenario 4).
#ifdef PEER_READ_BUFFER
struct peer_config : websocketpp::config::asio {
  static const size_t connection_read_buffer_size = PEER_READ_BUFFER;
};
using ws_server = websocketpp::server<peer_config>;
#else
using ws_server = websocketpp::server<websocketpp::config::asio>;
#endif
using hdl = websocketpp::connection_hdl;

struct room {
  std::set<hdl, std::owner_less<hdl>> members;
  std::uint64_t seq = 0;
};

class peer {
 public:
  explicit peer(int port) {
    s_.clear_access_channels(websocketpp::log::alevel::all);
    s_.clear_error_channels(websocketpp::log::elevel::all);
    s_.init_asio();
    s_.set_reuse_addr(true);
    s_.set_listen_backlog(4096);
    s_.set_open_handler([this](hdl h) {
      auto con = s_.get_con_from_hdl(h);
      asio::error_code ignored;
      con->get_raw_socket().set_option(asio::ip::tcp::no_delay(true), ignored);
      const std::string q = con->get_resource();
      const auto t = q.find("token=");
      users_[h] = t == std::string::npos ? "anonymous" : q.substr(t + 6, q.find('&', t) - t - 6);
    });
    s_.set_close_handler([this](hdl h) {
      for (auto& [id, r] : rooms_) r.members.erase(h);
      users_.erase(h);
    });
    s_.set_message_handler([this](hdl h, ws_server::message_ptr msg) { on_message(h, msg); });
    s_.listen(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                      static_cast<unsigned short>(port)));
    s_.start_accept();
    asio::error_code ec;
    std::printf("listening on ws://127.0.0.1:%u/api/ws\n",
                static_cast<unsigned>(s_.get_local_endpoint(ec).port()));
    std::fflush(stdout);
  }

  void run() { s_.run(); }

 private:
  static std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  void send(hdl h, const std::string& text) {
    websocketpp::lib::error_code ec;
    s_.send(h, text, websocketpp::frame::opcode::text, ec);
  }

  void ack(hdl h, const std::string& id, const std::string& room_id, const std::string& user,
           std::int64_t ts, std::uint64_t seq) {
    rapidjson::StringBuffer out;
    rapidjson::Writer<rapidjson::StringBuffer> w(out);
    w.StartObject();
    w.Key("type"), w.String("messageReceived");
    w.Key("payload");
    w.StartObject();
    w.Key("messageId"), w.String(id.c_str(), static_cast<rapidjson::SizeType>(id.size()));
    w.Key("roomId"), w.String(room_id.c_str(), static_cast<rapidjson::SizeType>(room_id.size()));
    w.Key("senderId"), w.String(user.c_str(), static_cast<rapidjson::SizeType>(user.size()));
    w.Key("timestamp"), w.Int64(ts);
    if (seq > 0) w.Key("seq"), w.Uint64(seq);
    w.EndObject();
    w.Key("timestamp"), w.Int64(ts);
    w.Key("messageId"), w.String("s");
    w.Key("priority"), w.Int(2);
    w.EndObject();
    send(h, std::string(out.GetString(), out.GetSize()));
  }

  void on_message(hdl h, const ws_server::message_ptr& msg) {
    rapidjson::Document d;
    d.Parse(msg->get_payload().c_str(), msg->get_payload().size());
    if (d.HasParseError() || !d.IsObject()) return;
    const auto type = d.FindMember("type");
    const auto payload = d.FindMember("payload");
    if (type == d.MemberEnd() || !type->value.IsString() || payload == d.MemberEnd() ||
        !payload->value.IsObject()) {
      return;
    }
    const auto room_it = payload->value.FindMember("roomId");
    if (room_it == payload->value.MemberEnd() || !room_it->value.IsString()) return;
    const std::string room_id = room_it->value.GetString();
    const auto id_it = d.FindMember("messageId");
    const std::string id =
        id_it != d.MemberEnd() && id_it->value.IsString() ? id_it->value.GetString() : "";
    const std::string& user = users_[h];
    const std::string_view t = type->value.GetString();
    const std::int64_t ts = now_ms();
    if (t == "joinRoom") {
      rooms_[room_id].members.insert(h);
      ack(h, id, room_id, user, ts, 0);
    } else if (t == "message") {
      auto it = rooms_.find(room_id);
      if (it == rooms_.end() || !it->second.members.count(h)) return;
      room& r = it->second;
      const std::uint64_t seq = ++r.seq;
      const auto content = payload->value.FindMember("content");
      rapidjson::StringBuffer out;
      rapidjson::Writer<rapidjson::StringBuffer> w(out);
      w.StartObject();
      w.Key("type"), w.String("message");
      w.Key("messageId"), w.String(id.c_str(), static_cast<rapidjson::SizeType>(id.size()));
      w.Key("timestamp"), w.Int64(ts);
      w.Key("priority"), w.Int(2);
      w.Key("payload");
      w.StartObject();
      w.Key("roomId"), w.String(room_id.c_str(), static_cast<rapidjson::SizeType>(room_id.size()));
      w.Key("content");
      if (content != payload->value.MemberEnd() && content->value.IsString()) {
        w.String(content->value.GetString(), content->value.GetStringLength());
      } else {
        w.String("");
      }
      w.Key("senderId"), w.String(user.c_str(), static_cast<rapidjson::SizeType>(user.size()));
      w.Key("seq"), w.Uint64(seq);
      w.EndObject();
      w.EndObject();
      ack(h, id, room_id, user, ts, seq);
      const std::string text(out.GetString(), out.GetSize());  // encoded once
      for (const auto& m : r.members) {
        if (!m.owner_before(h) && !h.owner_before(m)) continue;
        send(m, text);  // websocketpp frames and writes it per recipient
      }
    }
  }

  ws_server s_;
  std::map<std::string, room> rooms_;
  std::map<hdl, std::string, std::owner_less<hdl>> users_;
};

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--port") == 0) port = std::atoi(argv[++i]);
  }
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  peer p(port);
  p.run();
}
