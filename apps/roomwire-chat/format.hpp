#pragma once

// roomwire-chat's readable form of each envelope it receives: one line each (without `--json`).

#include <string>
#include <string_view>

#include "roomwire/protocol.hpp"

namespace roomwire_chat {

namespace proto = roomwire::protocol;

std::string render(const proto::envelope<proto::chat_delivery>& m);
std::string render(const proto::envelope<proto::message_received>& m);
std::string render(const proto::envelope<proto::task_assign_delivery>& m);
std::string render(const proto::envelope<proto::task_update_delivery>& m);
std::string render(const proto::envelope<proto::error_payload>& m);
std::string render(const proto::envelope<proto::health_update>& m);

// "[#########-----------]  45%": 20 cells, each 5 %.
std::string progress_bar(double progress);

// Control characters (a newline in a message) as visible escapes, so that one envelope stays one
// line.
std::string one_line(std::string_view text);

}  // namespace roomwire_chat
