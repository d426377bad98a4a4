#pragma once

// roomwire::redis — a core::broker that lets several roomwire servers share rooms, chat
// sequencing, tasks and dedup memory through one Redis server (tested with Redis 7.0).
//
//   roomwire::redis::redis_options o;
//   o.url = "redis://10.0.0.5:6379/0";
//   auto broker = roomwire::redis::make_broker(io, [&](const std::function<void()>& fn) {
//     std::lock_guard<std::mutex> lock(hub_mutex);
//     fn();
//   }, o);
//   roomwire::core::hub hub(options, policies, transport, clock, broker);
//
// What lives in Redis (every key starts with `prefix:`): seq:<room> and hist:<room> (a room's
// sequence and its history, expiring history_ttl_ms after its last message), dedup:… (the
// dedup memory of chat and of every remembered request), tasks (a hash of task records),
// presence:<user> and alive:<node> (which node has sessions of a user, and which nodes are
// alive), deferred:<user> (taskAssigns waiting for an offline user), health (each node's
// counters) and epoch (a random value that tells a reconnecting node whether Redis lost its
// data). Every node subscribes to the channel `prefix:bus`, on which chat deliveries,
// replays, task and dedup updates and host pushes travel.
//
// Threading: the broker does its Redis I/O on `io` (any number of threads may run it). It calls
// into the hub only inside `serialized`, and expects the hub's calls into it (detach() included)
// to be made under the same lock. `io` must outlive the broker, and the lock behind
// `serialized` must outlive the io_context's handlers (stop the threads running `io` before
// destroying it); after broker::detach() the broker calls neither `serialized` nor the hub.
//
// While Redis is unreachable the broker reports itself unavailable (the hub's health is
// `degraded`): chat commits and recoveries are refused, and what nodes would share (host pushes,
// taskAssigns for offline users, dedup entries) is not shared; tasks stored meanwhile and the
// node's presence are written once it is back. Room chat that the bus published while this node
// was not subscribed is caught up then: for each room it delivered chat of in the last
// min(history_ttl_ms / 2, 1 h), the broker delivers the history after the last seq it delivered,
// then the room's live messages, each seq once and in order (a warning with the count when the
// history no longer reaches back).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <asio/io_context.hpp>

#include "roomwire/core/broker.hpp"
#include "roomwire/server.hpp"

namespace roomwire::redis {

struct redis_options {
  // redis://host:port[/db]; host may be an IPv4 address, [IPv6] or a name (a name other than
  // localhost is resolved by the operating system's resolver, which may block briefly).
  std::string url = "redis://127.0.0.1:6379";
  // Every key and the bus channel start with `prefix:`; servers that share rooms share it.
  std::string prefix = "rw";
  // This server's name among the nodes (1-64 of [A-Za-z0-9_.:-]); empty: random hex, unique
  // per process.
  std::string node_id;
  // Reconnection back-off: the first retry after reconnect_min_ms, each next one twice as late,
  // at most reconnect_max_ms.
  std::int64_t reconnect_min_ms = 100;
  std::int64_t reconnect_max_ms = 5000;
  // A room's seq and history expire this long after its last message.
  std::int64_t history_ttl_ms = 24 * 3600 * 1000;
  // Warnings and state changes ("redis: connection lost; retrying in 400 ms"); never message
  // contents. Called inside `serialized`. Empty: nothing is logged.
  std::function<void(std::string_view line)> log;
};

// Runs fn synchronously while holding the lock under which the hub is called.
using serializer = std::function<void(const std::function<void()>& fn)>;

// The broker for a hub. Throws std::invalid_argument for a malformed url, prefix, node_id or
// back-off. It connects once the hub attaches it and is unavailable until it has connected.
std::shared_ptr<core::broker> make_broker(asio::io_context& io, serializer serialized,
                                          redis_options options);

// For roomwire::server_options::broker: the broker on the server's event loop and hub lock,
// logging through the server's log (a warning for every change of the link to Redis).
inline broker_factory broker_factory(redis_options options) {
  return [options = std::move(options)](const broker_context& server) {
    redis_options o = options;
    if (!o.log) {
      o.log = [log = server.log](std::string_view line) { log(log_level::warning, line); };
    }
    return make_broker(server.io, server.serialized, std::move(o));
  };
}

}  // namespace roomwire::redis
