#pragma once

// One plain struct per payload of PROTOCOL.md §3. Where the server adds fields to what it
// delivers (senderId, seq, assignerId), the delivered form is its own struct, so a server never
// reads a client-supplied senderId into its state.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "roomwire/protocol/codes.hpp"
#include "roomwire/protocol/schema.hpp"

namespace roomwire::protocol {

// Length limits of the contract (§2).
inline constexpr std::size_t max_id_chars = 128;  // roomId, taskId, assigneeId, messageId
inline constexpr std::size_t max_file_url_chars = 4096;
inline constexpr std::size_t max_file_name_chars = 1024;
inline constexpr std::size_t max_status_chars = 64;
inline constexpr std::size_t max_content_bytes = 65536;

struct join_room {
  static constexpr std::string_view type = "joinRoom";
  std::string room_id;
  // §6 recovery: the last seq the client saw in the room; the server first replays what the
  // room's history holds after it.
  std::optional<std::int64_t> since;

  static constexpr auto fields() {
    return protocol::fields(field("roomId", &join_room::room_id).chars(1, max_id_chars),
                            field("since", &join_room::since).range(0, 9007199254740991.0));
  }
  friend bool operator==(const join_room& a, const join_room& b) {
    return a.room_id == b.room_id && a.since == b.since;
  }
};

struct leave_room {
  static constexpr std::string_view type = "leaveRoom";
  std::string room_id;

  static constexpr auto fields() {
    return protocol::fields(field("roomId", &leave_room::room_id).chars(1, max_id_chars));
  }
  friend bool operator==(const leave_room& a, const leave_room& b) {
    return a.room_id == b.room_id;
  }
};

enum class content_kind { text, file, system };

template <>
struct enum_names<content_kind> {
  static constexpr std::pair<std::string_view, content_kind> values[] = {
      {"text", content_kind::text},
      {"file", content_kind::file},
      {"system", content_kind::system},
  };
};

// The known part of a chat message's `metadata`; other fields travel on verbatim.
struct chat_metadata {
  content_kind kind = content_kind::text;
  std::optional<std::string> file_url;
  std::optional<std::string> file_name;

  static constexpr auto fields() {
    return protocol::fields(
        field("type", &chat_metadata::kind),
        field("fileUrl", &chat_metadata::file_url).chars(1, max_file_url_chars),
        field("fileName", &chat_metadata::file_name).chars(0, max_file_name_chars));
  }
  static std::optional<invalid_field> validate(const chat_metadata& m) {
    if (m.kind == content_kind::file && !m.file_url) {
      return invalid_field{"/fileUrl", "is required when type is \"file\""};
    }
    return std::nullopt;
  }
  friend bool operator==(const chat_metadata& a, const chat_metadata& b) {
    return a.kind == b.kind && a.file_url == b.file_url && a.file_name == b.file_name;
  }
};

// `message`, client → server.
struct chat_message {
  static constexpr std::string_view type = "message";
  std::string room_id;
  std::string content;
  extensible<chat_metadata> metadata;

  static constexpr auto fields() {
    return protocol::fields(field("roomId", &chat_message::room_id).chars(1, max_id_chars),
                            field("content", &chat_message::content).max_bytes(max_content_bytes),
                            field("metadata", &chat_message::metadata).optional());
  }
  friend bool operator==(const chat_message& a, const chat_message& b) {
    return a.room_id == b.room_id && a.content == b.content && a.metadata == b.metadata;
  }
};

// `message`, server → room members: what was sent, plus who sent it and its place in the room.
struct chat_delivery {
  static constexpr std::string_view type = "message";
  std::string room_id;
  std::string content;
  extensible<chat_metadata> metadata;
  std::string sender_id;
  std::int64_t seq = 0;

  static constexpr auto fields() {
    return protocol::fields(field("roomId", &chat_delivery::room_id).chars(1, max_id_chars),
                            field("content", &chat_delivery::content).max_bytes(max_content_bytes),
                            field("metadata", &chat_delivery::metadata).optional(),
                            field("senderId", &chat_delivery::sender_id),
                            field("seq", &chat_delivery::seq).range(1, 9007199254740991.0));
  }
  friend bool operator==(const chat_delivery& a, const chat_delivery& b) {
    return a.room_id == b.room_id && a.content == b.content && a.metadata == b.metadata &&
           a.sender_id == b.sender_id && a.seq == b.seq;
  }
};

// `messageReceived`, server → client: the acknowledgement of an accepted request.
struct message_received {
  static constexpr std::string_view type = "messageReceived";
  std::string message_id;
  std::string room_id;  // "" for taskAssign, taskUpdate and healthUpdate
  std::string sender_id;
  std::int64_t timestamp = 0;
  std::optional<std::int64_t> seq;  // chat messages only
  // joinRoom with "since" only: the replay reached back to since + 1 (§6 recovery).
  std::optional<bool> recovered;

  static constexpr auto fields() {
    return protocol::fields(field("messageId", &message_received::message_id),
                            field("roomId", &message_received::room_id),
                            field("senderId", &message_received::sender_id),
                            field("timestamp", &message_received::timestamp),
                            field("seq", &message_received::seq),
                            field("recovered", &message_received::recovered));
  }
  friend bool operator==(const message_received& a, const message_received& b) {
    return a.message_id == b.message_id && a.room_id == b.room_id && a.sender_id == b.sender_id &&
           a.timestamp == b.timestamp && a.seq == b.seq && a.recovered == b.recovered;
  }
};

// `taskAssign`, client → server.
struct task_assign {
  static constexpr std::string_view type = "taskAssign";
  std::string task_id;
  std::string assignee_id;
  protocol::priority priority = protocol::priority::normal;

  static constexpr auto fields() {
    return protocol::fields(field("taskId", &task_assign::task_id).chars(1, max_id_chars),
                            field("assigneeId", &task_assign::assignee_id).chars(1, max_id_chars),
                            field("priority", &task_assign::priority).optional());
  }
  friend bool operator==(const task_assign& a, const task_assign& b) {
    return a.task_id == b.task_id && a.assignee_id == b.assignee_id && a.priority == b.priority;
  }
};

// `taskAssign`, server → every session of the assignee.
struct task_assign_delivery {
  static constexpr std::string_view type = "taskAssign";
  std::string task_id;
  std::string assignee_id;
  protocol::priority priority = protocol::priority::normal;
  std::string assigner_id;

  static constexpr auto fields() {
    return protocol::fields(
        field("taskId", &task_assign_delivery::task_id).chars(1, max_id_chars),
        field("assigneeId", &task_assign_delivery::assignee_id).chars(1, max_id_chars),
        field("priority", &task_assign_delivery::priority).optional(),
        field("assignerId", &task_assign_delivery::assigner_id));
  }
  friend bool operator==(const task_assign_delivery& a, const task_assign_delivery& b) {
    return a.task_id == b.task_id && a.assignee_id == b.assignee_id && a.priority == b.priority &&
           a.assigner_id == b.assigner_id;
  }
};

// `taskUpdate`, client → server (and host code → watchers).
struct task_update {
  static constexpr std::string_view type = "taskUpdate";
  std::string task_id;
  std::string status;
  double progress = 0;
  raw_json metadata;

  static constexpr auto fields() {
    return protocol::fields(field("taskId", &task_update::task_id).chars(1, max_id_chars),
                            field("status", &task_update::status).chars(1, max_status_chars),
                            field("progress", &task_update::progress).range(0, 100),
                            field("metadata", &task_update::metadata).optional());
  }
  friend bool operator==(const task_update& a, const task_update& b) {
    return a.task_id == b.task_id && a.status == b.status && a.progress == b.progress &&
           a.metadata == b.metadata;
  }
};

// `taskUpdate`, server → the task's assigner, assignee and `task:<id>` watchers.
struct task_update_delivery {
  static constexpr std::string_view type = "taskUpdate";
  std::string task_id;
  std::string status;
  double progress = 0;
  raw_json metadata;
  std::string sender_id;

  static constexpr auto fields() {
    return protocol::fields(
        field("taskId", &task_update_delivery::task_id).chars(1, max_id_chars),
        field("status", &task_update_delivery::status).chars(1, max_status_chars),
        field("progress", &task_update_delivery::progress).range(0, 100),
        field("metadata", &task_update_delivery::metadata).optional(),
        field("senderId", &task_update_delivery::sender_id));
  }
  friend bool operator==(const task_update_delivery& a, const task_update_delivery& b) {
    return a.task_id == b.task_id && a.status == b.status && a.progress == b.progress &&
           a.metadata == b.metadata && a.sender_id == b.sender_id;
  }
};

// `error`, server → client. `details` holds messageId and type of the offending request when
// known, and `path` and `reason` for 4002.
struct error_payload {
  static constexpr std::string_view type = "error";
  std::string code;  // decimal, "4002"
  std::string message;
  raw_json details;

  static constexpr auto fields() {
    return protocol::fields(field("code", &error_payload::code),
                            field("message", &error_payload::message),
                            field("details", &error_payload::details).optional());
  }
  friend bool operator==(const error_payload& a, const error_payload& b) {
    return a.code == b.code && a.message == b.message && a.details == b.details;
  }
};

enum class health_status { ok, degraded, draining };

template <>
struct enum_names<health_status> {
  static constexpr std::pair<std::string_view, health_status> values[] = {
      {"ok", health_status::ok},
      {"degraded", health_status::degraded},
      {"draining", health_status::draining},
  };
};

// `healthUpdate`, server → client.
struct health_update {
  static constexpr std::string_view type = "healthUpdate";
  health_status status = health_status::ok;
  raw_json metrics;

  static constexpr auto fields() {
    return protocol::fields(field("status", &health_update::status),
                            field("metrics", &health_update::metrics).optional());
  }
  friend bool operator==(const health_update& a, const health_update& b) {
    return a.status == b.status && a.metrics == b.metrics;
  }
};

}  // namespace roomwire::protocol
