#pragma once

// The Lua scripts that make the broker's multi-key steps atomic in Redis. They are loaded with
// SCRIPT LOAD on every connect and run with EVALSHA (EVAL when Redis answers NOSCRIPT). Records
// they publish use the field layout of records.hpp: field(s) is "<length>:<s>".
//
// Keys outside KEYS (alive:<node>) are read by the deferral script: fine on one Redis server,
// not on Redis Cluster.

#include <array>
#include <cstddef>
#include <string_view>

namespace roomwire::redis::detail {

enum class script : std::size_t { commit, recover, defer, cancel, take };
inline constexpr std::size_t script_count = 5;

// KEYS: seq:<room>, hist:<room>, the dedup key.
// ARGV: 1 head, 2 tail, 3 history cap, 4 history ttl (ms), 5 dedup flag ("1": check and keep the
//       ack), 6 dedup ttl (ms), 7 room, 8 timestamp, 9 origin node, 10 origin session,
//       11 priority digit, 12 bus channel, 13 sender, 14 messageId.
// Returns {0, kept ack} for a repeat, else {1, seq} after publishing the M record.
inline constexpr std::string_view commit_lua = R"lua(
local function field(s) return #s .. ':' .. s end
if ARGV[5] == '1' then
  local kept = redis.call('GET', KEYS[3])
  if kept then return {0, kept} end
end
local seq = string.format('%d', redis.call('INCR', KEYS[1]))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local text = ARGV[1] .. seq .. ARGV[2]
local cap = tonumber(ARGV[3])
if cap > 0 then
  redis.call('RPUSH', KEYS[2], ARGV[11] .. text)
  redis.call('LTRIM', KEYS[2], -cap, -1)
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
else
  redis.call('DEL', KEYS[2])
end
if ARGV[5] == '1' then
  redis.call('SET', KEYS[3], field(ARGV[7]) .. field(seq) .. field(ARGV[8]), 'PX', ARGV[6])
end
redis.call('PUBLISH', ARGV[12], 'M' .. field(ARGV[9]) .. field(ARGV[10]) .. field(ARGV[11]) ..
  field(ARGV[7]) .. field(ARGV[13]) .. field(ARGV[14]) .. field(ARGV[8]) .. field(seq) ..
  field(ARGV[5]) .. field(text))
return {1, seq}
)lua";

// The history after `since`, published on the bus (an R record) so that it reaches the asking
// node in order with the room's live deliveries. The history holds seqs (last - #held, last].
// The record also says which seq its first entry has (last + 1 when it has none) and the room's
// last seq, so that a node catching up knows each entry's seq and how many the history lacks.
// With ARGV 5 = "1" (a catch-up), a `since` beyond the room's last seq means that the room
// started again (its keys expired, or Redis lost them): its whole history is then new.
// KEYS: seq:<room>, hist:<room>.  ARGV: 1 since, 2 node, 3 token, 4 bus channel, 5 restart flag.
inline constexpr std::string_view recover_lua = R"lua(
local function field(s) return #s .. ':' .. s end
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local since = tonumber(ARGV[1])
if ARGV[5] == '1' and since > last then since = 0 end
local complete = '0'
local entries = {}
local from = last + 1
if since <= last then
  local held = redis.call('LRANGE', KEYS[2], 0, -1)
  local first = last - #held + 1
  if since + 1 >= first then complete = '1' end
  from = math.max(since + 1, first)
  for i = from - first + 1, #held do
    entries[#entries + 1] = field(held[i])
  end
end
redis.call('PUBLISH', ARGV[4], 'R' .. field(ARGV[2]) .. field(ARGV[3]) .. field(complete) ..
  field(string.format('%d', from)) .. field(string.format('%d', last)) ..
  field(tostring(#entries)) .. table.concat(entries))
return #entries
)lua";

// Keeps a taskAssign for an offline user, unless another live node has a session of the user
// (that node delivered it). Nodes listed with no alive:<node> key are gone: forgotten here.
// KEYS: presence:<user>, deferred:<user>.  ARGV: 1 this node, 2 alive key prefix, 3 cap,
// 4 entry.  Returns 1 when kept.
inline constexpr std::string_view defer_lua = R"lua(
local counts = redis.call('HGETALL', KEYS[1])
local elsewhere = false
for i = 1, #counts, 2 do
  local node = counts[i]
  if node ~= ARGV[1] and (tonumber(counts[i + 1]) or 0) > 0 then
    if redis.call('EXISTS', ARGV[2] .. node) == 1 then
      elsewhere = true
    else
      redis.call('HDEL', KEYS[1], node)
    end
  end
end
if elsewhere then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[4])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1)
return 1
)lua";

// Drops the kept entries of one task. Each entry starts with field(task id), length included,
// so a prefix match cannot confuse "t1" with "t10".
// KEYS: deferred:<user>.  ARGV: 1 field(task id).
inline constexpr std::string_view cancel_lua = R"lua(
local removed = 0
for _, entry in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if string.sub(entry, 1, #ARGV[1]) == ARGV[1] then
    removed = removed + redis.call('LREM', KEYS[1], 1, entry)
  end
end
return removed
)lua";

// Takes (reads and deletes) everything kept for a user, oldest first.  KEYS: deferred:<user>.
inline constexpr std::string_view take_lua = R"lua(
local entries = redis.call('LRANGE', KEYS[1], 0, -1)
if #entries > 0 then redis.call('DEL', KEYS[1]) end
return entries
)lua";

inline constexpr std::array<std::string_view, script_count> script_text = {
    commit_lua, recover_lua, defer_lua, cancel_lua, take_lua};

}  // namespace roomwire::redis::detail
