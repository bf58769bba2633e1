#include "infra/redis/redis_prequeue_store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdlib>

#include "domain/errors.hpp"
#include "infra/redis/redis_queue_store.hpp"

namespace ticketing::infra::redis {
namespace {

constexpr std::string_view kPendingKey = "queue:prequeue";

// Added to the pre-queue score of users who enter after the opening (before the apply): above every
// shuffled user's, still in arrival order among themselves, and exact in a double (< 2^53).
constexpr std::string_view kLateOffset = "1000000000000000";

// enter: KEYS fair pre settings seq; ARGV user opens_at_ms score_offset ('0' or kLateOffset).
// Returns 1 pre-queued (new or already there), 0 when the shuffle was applied (the caller joins
// the waiting line), -2 sale closed.
const RedisScript kEnterScript = RedisScript::from_source(R"lua(
if redis.call('HEXISTS', KEYS[1], 'applied_at') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'opens_at', ARGV[2])
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 1 end
if redis.call('HGET', KEYS[3], 'state') == 'CLOSED' then return -2 end
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[4]) + tonumber(ARGV[3]), ARGV[1])
return 1
)lua");

// prequeued: KEYS pre fair; ARGV user. Returns opens_at (ms) when the user is pre-queued, else nil.
const RedisScript kPrequeuedScript = RedisScript::from_source(R"lua(
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return false end
return redis.call('HGET', KEYS[2], 'opens_at') or '0'
)lua");

// leave: KEYS pre pace; ARGV user. Out of the pre-queue, and its pacing record with it: entering
// again is a new arrival (its first enter writes the record), as in the waiting line — a refused
// (429) enter would otherwise have put the user back in first. Returns 1 when the user was in it.
const RedisScript kLeaveScript = RedisScript::from_source(R"lua(
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
if removed > 0 then redis.call('DEL', KEYS[2]) end
return removed
)lua");

// seed: KEYS fair; ARGV seed_hex. Draw-once: the first writer wins, every caller gets the stored seed.
const RedisScript kSeedScript = RedisScript::from_source(R"lua(
redis.call('HSETNX', KEYS[1], 'seed', ARGV[1])
return redis.call('HGET', KEYS[1], 'seed')
)lua");

// apply: KEYS fair pre waiting heartbeat seq stats; ARGV now_ms reveal_ttl_ms last_arrival macs user1
// user2 ... — the shuffle's order of a snapshot of the pre-queue whose highest arrival sequence was
// last_arrival, and their MACs (hex, comma-separated, 64 characters each, one argument). Only if
// not applied yet: each listed user still pre-queued from then (score <= last_arrival) joins the
// waiting line in that order; whoever joined after the snapshot follows in arrival order (first
// those who entered before the opening by their instance's clock, then the late ones); the pre-queue is deleted and the
// reveal recorded. The script holds Redis while it runs, so it makes a few hundred calls for 100,000 users, not one per
// user. Returns {applied 0|1, ordered, late}.
const RedisScript kApplyScript = RedisScript::from_source(R"lua(
if redis.call('HEXISTS', KEYS[1], 'applied_at') == 1 then return {0, 0, 0} end
local now = ARGV[1]
local last_arrival = tonumber(ARGV[3])
local mac_list = ARGV[4]
local seq = tonumber(redis.call('GET', KEYS[5]) or '0')
local first_seq = seq
local waiting, beats = {}, {}
local function flush()
  if #waiting > 0 then
    redis.call('ZADD', KEYS[3], unpack(waiting))
    redis.call('ZADD', KEYS[4], unpack(beats))
    waiting, beats = {}, {}
  end
end
local function place(user)
  seq = seq + 1
  waiting[#waiting + 1] = seq
  waiting[#waiting + 1] = user
  beats[#beats + 1] = now
  beats[#beats + 1] = user
  if #waiting >= 1000 then flush() end
end
local listed = #ARGV - 4
local macs = nil  -- only built when someone left since the snapshot (otherwise ARGV[4] is the list)
for first = 5, #ARGV, 1000 do
  local users = {}
  for i = first, math.min(first + 999, #ARGV) do users[#users + 1] = ARGV[i] end
  local scores = redis.call('ZMSCORE', KEYS[2], unpack(users))
  for j, user in ipairs(users) do
    local index = first - 5 + j - 1
    if scores[j] and tonumber(scores[j]) <= last_arrival then
      place(user)
      if macs then macs[#macs + 1] = string.sub(mac_list, index * 65 + 1, index * 65 + 64) end
    elseif not macs then
      macs = {}
      for k = 0, index - 1 do macs[#macs + 1] = string.sub(mac_list, k * 65 + 1, k * 65 + 64) end
    end
  end
end
local late = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[3], '+inf')
for _, user in ipairs(late) do place(user) end
flush()
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[5], seq)
-- the numbers taken here are places, not arrivals: the admission round's arrival count (proof of
-- work) must not see them
if redis.call('HEXISTS', KEYS[6], 'win_seq') == 1 then redis.call('HINCRBY', KEYS[6], 'win_seq', seq - first_seq) end
local ordered = listed
local order = mac_list
if macs then
  ordered = #macs
  order = table.concat(macs, ',')
end
redis.call('HSET', KEYS[1], 'applied_at', now, 'pre_queued', ordered, 'late', #late, 'order', order)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, ordered, #late}
)lua");

std::string key(domain::ScheduleId schedule, std::string_view suffix) {
  return RedisQueueStore::key(schedule, suffix);
}

std::int64_t integer_of(const RedisReply& reply) {
  if (reply.is_integer()) return reply.integer;
  if (reply.is_string()) return std::strtoll(reply.str.c_str(), nullptr, 10);
  return 0;
}

void check(const RedisReply& reply, std::string_view what) {
  if (reply.is_error()) throw domain::DependencyUnavailable("redis", fmt::format("{}: {}", what, reply.str));
}

domain::Timestamp timestamp_of(const RedisReply& reply) {
  return domain::Timestamp{std::chrono::milliseconds(integer_of(reply))};
}

}  // namespace

Task<domain::PrequeueEntry> RedisPrequeueStore::enter(domain::ScheduleId schedule, domain::UserId user,
                                                      domain::Timestamp opens_at, bool late) {
  const std::array<std::string, 4> keys{key(schedule, "fair"), key(schedule, "pre"), key(schedule, "settings"),
                                        key(schedule, "seq")};
  const std::array<std::string_view, 4> key_views{keys[0], keys[1], keys[2], keys[3]};
  const std::string user_id = std::to_string(user.value);
  const std::string opens_ms = std::to_string(opens_at.time_since_epoch().count());
  const std::array<std::string_view, 3> args{user_id, opens_ms, late ? kLateOffset : std::string_view("0")};
  const RedisReply reply = co_await redis_.evalsha(kEnterScript, key_views, args);
  check(reply, "pre-queue enter script");
  const auto result = integer_of(reply);
  if (result == -2) {
    throw domain::DomainError(domain::ErrorCode::kSaleClosed,
                              fmt::format("the sale of schedule {} is closed", schedule.value));
  }
  if (result == 0) co_return domain::PrequeueEntry::kApplied;
  const std::string id = std::to_string(schedule.value);
  check(co_await redis_.execute("SADD", kPendingKey, id), "pre-queue registry");
  co_return domain::PrequeueEntry::kPrequeued;
}

Task<std::optional<domain::Timestamp>> RedisPrequeueStore::prequeued(domain::ScheduleId schedule, domain::UserId user) {
  const std::array<std::string, 2> keys{key(schedule, "pre"), key(schedule, "fair")};
  const std::array<std::string_view, 2> key_views{keys[0], keys[1]};
  const std::string user_id = std::to_string(user.value);
  const std::array<std::string_view, 1> args{user_id};
  const RedisReply reply = co_await redis_.evalsha(kPrequeuedScript, key_views, args);
  check(reply, "pre-queue status script");
  if (reply.is_nil()) co_return std::nullopt;
  co_return timestamp_of(reply);
}

Task<bool> RedisPrequeueStore::leave(domain::ScheduleId schedule, domain::UserId user) {
  const std::array<std::string, 2> keys{key(schedule, "pre"), RedisQueueStore::pace_key(schedule, user)};
  const std::array<std::string_view, 2> key_views{keys[0], keys[1]};
  const std::string user_id = std::to_string(user.value);
  const std::array<std::string_view, 1> args{user_id};
  const RedisReply reply = co_await redis_.evalsha(kLeaveScript, key_views, args);
  check(reply, "pre-queue leave");
  co_return integer_of(reply) > 0;
}

Task<std::int64_t> RedisPrequeueStore::count(domain::ScheduleId schedule) {
  const std::string pre = key(schedule, "pre");
  const RedisReply reply = co_await redis_.execute("ZCARD", pre);
  check(reply, "pre-queue count");
  co_return integer_of(reply);
}

Task<domain::Digest> RedisPrequeueStore::ensure_seed(domain::ScheduleId schedule, const domain::Digest& candidate) {
  const std::string fair = key(schedule, "fair");
  const std::array<std::string_view, 1> key_views{fair};
  const std::string hex = domain::to_hex(candidate);
  const std::array<std::string_view, 1> args{hex};
  const RedisReply reply = co_await redis_.evalsha(kSeedScript, key_views, args);
  check(reply, "fairness seed script");
  const auto stored = domain::digest_from_hex(reply.str);
  if (!stored) throw domain::DependencyUnavailable("redis", "fairness seed: stored value is not 64 hex digits");
  // A published commitment gets its reveal at the opening even if nobody pre-queued.
  const std::string id = std::to_string(schedule.value);
  check(co_await redis_.execute("SADD", kPendingKey, id), "pre-queue registry");
  co_return *stored;
}

Task<domain::FairnessState> RedisPrequeueStore::state(domain::ScheduleId schedule, bool with_order) {
  const std::string fair = key(schedule, "fair");
  RedisReply reply;
  if (with_order) {
    reply = co_await redis_.execute("HMGET", fair, "seed", "applied_at", "pre_queued", "late", "order");
  } else {
    reply = co_await redis_.execute("HMGET", fair, "seed", "applied_at", "pre_queued", "late");
  }
  check(reply, "fairness state");
  domain::FairnessState state;
  if (!reply.is_array() || reply.elements.size() < 4) co_return state;
  if (reply.elements[0].is_string()) state.seed = domain::digest_from_hex(reply.elements[0].str);
  if (reply.elements[1].is_string()) state.applied_at = timestamp_of(reply.elements[1]);
  state.pre_queued = integer_of(reply.elements[2]);
  state.late = integer_of(reply.elements[3]);
  if (with_order && reply.elements.size() > 4 && reply.elements[4].is_string()) {
    const std::string& text = reply.elements[4].str;
    state.order.reserve(text.size() / 65 + 1);
    for (std::size_t start = 0; start < text.size();) {
      auto end = text.find(',', start);
      if (end == std::string::npos) end = text.size();
      state.order.emplace_back(text, start, end - start);
      start = end + 1;
    }
  }
  co_return state;
}

Task<domain::PrequeueSnapshot> RedisPrequeueStore::members(domain::ScheduleId schedule) {
  const std::string pre = key(schedule, "pre");
  // The users to shuffle (scores below kLateOffset), in arrival order.
  const std::string below_late = "(" + std::string(kLateOffset);
  const RedisReply reply = co_await redis_.execute("ZRANGE", pre, "-inf", below_late, "BYSCORE", "WITHSCORES");
  check(reply, "pre-queue members");
  domain::PrequeueSnapshot snapshot;
  snapshot.users.reserve(reply.elements.size() / 2);
  for (std::size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    if (const auto id = domain::parse_canonical_id(reply.elements[i].str))
      snapshot.users.push_back(domain::UserId{*id});
    snapshot.last_arrival = std::max(snapshot.last_arrival, integer_of(reply.elements[i + 1]));
  }
  co_return snapshot;
}

Task<domain::ShuffleApplied> RedisPrequeueStore::apply(domain::ScheduleId schedule,
                                                       const std::vector<domain::FairnessEntry>& order,
                                                       std::int64_t last_arrival, domain::Timestamp now) {
  const std::array<std::string, 6> keys{key(schedule, "fair"),      key(schedule, "pre"), key(schedule, "waiting"),
                                        key(schedule, "heartbeat"), key(schedule, "seq"), key(schedule, "stats")};
  const std::array<std::string_view, 6> key_views{keys[0], keys[1], keys[2], keys[3], keys[4], keys[5]};
  std::vector<std::string> texts;
  texts.reserve(4 + order.size());
  texts.push_back(std::to_string(now.time_since_epoch().count()));
  texts.push_back(std::to_string(kRevealMemory.count()));
  texts.push_back(std::to_string(last_arrival));
  std::string macs;
  macs.reserve(order.size() * 65);
  for (const auto& entry : order) {
    if (!macs.empty()) macs += ',';
    macs += domain::to_hex(entry.mac);  // 64 characters each: the script slices them by index
  }
  texts.push_back(std::move(macs));
  for (const auto& entry : order) texts.push_back(std::to_string(entry.user.value));
  const std::vector<std::string_view> args(texts.begin(), texts.end());
  const RedisReply reply = co_await redis_.evalsha(kApplyScript, key_views, args);
  check(reply, "shuffle apply script");
  if (!reply.is_array() || reply.elements.size() < 3) {
    throw domain::DependencyUnavailable("redis", "shuffle apply script: unexpected reply " + reply.to_string());
  }
  domain::ShuffleApplied result{integer_of(reply.elements[0]) == 1, integer_of(reply.elements[1]),
                                integer_of(reply.elements[2])};
  // The admission job finds the schedule's waiting line from here on (enter registers it too).
  const std::string id = std::to_string(schedule.value);
  check(co_await redis_.execute("SADD", "queue:schedules", id), "queue registry");
  co_return result;
}

Task<std::vector<domain::ScheduleId>> RedisPrequeueStore::pending_schedules() {
  const RedisReply reply = co_await redis_.execute("SMEMBERS", kPendingKey);
  check(reply, "pre-queue registry");
  std::vector<domain::ScheduleId> schedules;
  for (const auto& element : reply.elements) {
    if (const auto id = domain::parse_canonical_id(element.str)) schedules.push_back(domain::ScheduleId{*id});
  }
  co_return schedules;
}

Task<void> RedisPrequeueStore::forget_pending(domain::ScheduleId schedule) {
  const std::string id = std::to_string(schedule.value);
  check(co_await redis_.execute("SREM", kPendingKey, id), "pre-queue registry");
}

}  // namespace ticketing::infra::redis
