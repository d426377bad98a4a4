// Encodes and decodes a short conversation with the protocol layer alone (no sockets): what a
// client sends, what the server answers. Prints each frame as it would travel on the wire.

#include <cstdio>
#include <string>

#include "roomwire/protocol.hpp"

namespace rp = roomwire::protocol;

template <class P>
static void show(const char* who, const rp::envelope<P>& env) {
  const std::string wire = rp::encode(env);
  const auto back = rp::decode<P>(wire);
  std::printf("%-7s %s%s\n", who, wire.c_str(), back ? "" : "  <- does not decode!");
}

int main() {
  rp::envelope<rp::join_room> join;
  join.payload.room_id = "lobby";
  join.message_id = "c-1";
  show("client", join);

  rp::envelope<rp::message_received> ack;
  ack.payload = {"c-1", "lobby", "alice", 1764489600000, std::nullopt, std::nullopt};
  ack.timestamp = 1764489600000;
  ack.message_id = "s-1";
  show("server", ack);

  rp::envelope<rp::chat_message> chat;
  chat.payload.room_id = "lobby";
  chat.payload.content = "hello, room";
  chat.message_id = "c-2";
  show("client", chat);

  rp::envelope<rp::chat_delivery> delivered;
  delivered.payload.room_id = "lobby";
  delivered.payload.content = "hello, room";
  delivered.payload.sender_id = "alice";
  delivered.payload.seq = 1;
  delivered.timestamp = 1764489600005;
  delivered.message_id = "c-2";
  show("server", delivered);

  const auto bad = rp::decode<rp::join_room>(R"({"type":"joinRoom","payload":{"roomId":42}})");
  std::printf("refused %s: %s\n", bad.error.path.c_str(), bad.error.reason.c_str());
  return bad ? 1 : 0;
}
