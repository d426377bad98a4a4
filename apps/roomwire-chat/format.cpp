#include "format.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace roomwire_chat {

std::string one_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out;
}

std::string progress_bar(double progress) {
  const double p = std::clamp(progress, 0.0, 100.0);
  const int cells = static_cast<int>(std::floor(p / 5.0));
  std::string bar = "[" + std::string(static_cast<std::size_t>(cells), '#') +
                    std::string(static_cast<std::size_t>(20 - cells), '-') + "]";
  char pct[16];
  std::snprintf(pct, sizeof pct, " %3.0f%%", std::floor(p));
  return bar + pct;
}

std::string render(const proto::envelope<proto::chat_delivery>& m) {
  const auto& p = m.payload;
  const auto& meta = p.metadata.known;
  std::string line = "[" + one_line(p.room_id) + "] " + one_line(p.sender_id);
  if (meta.kind == proto::content_kind::system) line += " (system)";
  line += ": " + one_line(p.content);
  if (meta.kind == proto::content_kind::file) {
    line += " [file";
    if (meta.file_name && !meta.file_name->empty()) line += " " + one_line(*meta.file_name);
    if (meta.file_url) line += " " + one_line(*meta.file_url);
    line += "]";
  }
  return line;
}

std::string render(const proto::envelope<proto::message_received>& m) {
  const auto& p = m.payload;
  std::string line = "ack " + one_line(p.message_id);
  if (!p.room_id.empty()) line += " [" + one_line(p.room_id) + "]";
  if (p.seq) line += " #" + std::to_string(*p.seq);
  return line;
}

std::string render(const proto::envelope<proto::task_assign_delivery>& m) {
  const auto& p = m.payload;
  return "task " + one_line(p.task_id) + " assigned to " + one_line(p.assignee_id) + " by " +
         one_line(p.assigner_id) + " (priority " + std::to_string(static_cast<int>(p.priority)) +
         ")";
}

std::string render(const proto::envelope<proto::task_update_delivery>& m) {
  const auto& p = m.payload;
  return "task " + one_line(p.task_id) + " " + progress_bar(p.progress) + " " + one_line(p.status) +
         " (" + one_line(p.sender_id) + ")";
}

std::string render(const proto::envelope<proto::error_payload>& m) {
  const auto& p = m.payload;
  std::string line = "error " + one_line(p.code) + ": " + one_line(p.message);
  if (!p.details.empty() && p.details.text != "{}") line += " " + one_line(p.details.text);
  return line;
}

std::string render(const proto::envelope<proto::health_update>& m) {
  const auto& p = m.payload;
  const char* status = p.status == proto::health_status::ok         ? "ok"
                       : p.status == proto::health_status::degraded ? "degraded"
                                                                    : "draining";
  std::string line = std::string("health ") + status;
  if (!p.metrics.empty()) line += " " + one_line(p.metrics.text);
  return line;
}

}  // namespace roomwire_chat
