#include "infra/redis/redis_seat_lock_store.hpp"

#include <fmt/format.h>

#include <span>

#include "domain/errors.hpp"

namespace ticketing::infra::redis {
namespace {

// All or nothing. KEYS seat locks; ARGV user ttl_ms. Returns {1, taken indexes} or {0, conflict indexes}.
// A lock the user already owns is left exactly as it is — a hold never extends itself (DESIGN.md §5)
// — and is not reported as taken (it is not this request's to drop); the database then refuses
// that seat. When someone else's lock refuses the request, the user's own locked seats are named
// as well: the database would refuse them too (the user already holds or bought them).
const RedisScript kLockScript = RedisScript::from_source(R"lua(
local conflicts = {}
local others = false
for i, key in ipairs(KEYS) do
  local owner = redis.call('GET', key)
  if owner then
    conflicts[#conflicts + 1] = i
    if owner ~= ARGV[1] then others = true end
  end
end
if others then return {0, conflicts} end
local taken = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'PX', ARGV[2], 'NX') then
    taken[#taken + 1] = i
  end
end
return {1, taken}
)lua");

// Compare-and-delete: only locks owned by ARGV[1] go.
const RedisScript kUnlockScript = RedisScript::from_source(R"lua(
local removed = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then removed = removed + redis.call('DEL', key) end
end
return removed
)lua");

// The seats are sold to ARGV[1]: the buyer's own lock stays, without expiry. A missing lock is not
// taken again and another user's is left: the confirmation runs after its commit, so an operator's
// refund (committed and unlocked in between) or a new hold after it may already own the seat, and a
// lock set here would keep the refunded seat from the fast path for good. Without a lock the
// database still refuses the sold seat.
const RedisScript kSoldScript = RedisScript::from_source(R"lua(
local kept = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then kept = kept + redis.call('PERSIST', key) end
end
return kept
)lua");

// The seats went into ARGV[1]'s READY order until ARGV[2] (epoch ms): the user's lock expires no
// sooner (GT: a later expiry only; a lock without one, sold, keeps none), a missing lock is taken
// again, another user's is left.
const RedisScript kOrderScript = RedisScript::from_source(R"lua(
for _, key in ipairs(KEYS) do
  local owner = redis.call('GET', key)
  if owner == ARGV[1] then
    redis.call('PEXPIREAT', key, ARGV[2], 'GT')
  elseif not owner then
    redis.call('SET', key, ARGV[1], 'PXAT', ARGV[2], 'NX')
  end
end
return #KEYS
)lua");

// A new hold of ARGV[1]'s for ARGV[2] ms: the user's lock (or none) is set afresh; another's is left.
const RedisScript kRenewScript = RedisScript::from_source(R"lua(
for _, key in ipairs(KEYS) do
  local owner = redis.call('GET', key)
  if not owner or owner == ARGV[1] then redis.call('SET', key, ARGV[1], 'PX', ARGV[2]) end
end
return #KEYS
)lua");

}  // namespace

std::vector<std::string> RedisSeatLockStore::keys(domain::ScheduleId schedule, const std::vector<std::string>& seats) {
  std::vector<std::string> out;
  out.reserve(seats.size());
  for (const auto& seat : seats) out.push_back(key(schedule, seat));
  return out;
}

std::string RedisSeatLockStore::key(domain::ScheduleId schedule, std::string_view seat_no) {
  return fmt::format("seat:lock:{{{}}}:{}", schedule.value, seat_no);
}

Task<domain::SeatLockResult> RedisSeatLockStore::lock(domain::ScheduleId schedule, domain::UserId user,
                                                      const std::vector<std::string>& seats,
                                                      std::chrono::milliseconds ttl) {
  const auto seat_keys = keys(schedule, seats);
  const std::vector<std::string_view> key_views(seat_keys.begin(), seat_keys.end());
  const std::string user_id = std::to_string(user.value);
  const std::string ttl_ms = std::to_string(ttl.count());
  const std::array<std::string_view, 2> args{user_id, ttl_ms};
  const RedisReply reply = co_await redis_.evalsha(kLockScript, key_views, args);
  if (!reply.is_array() || reply.elements.size() != 2 || !reply.elements[1].is_array()) {
    throw domain::DependencyUnavailable("redis", "seat lock script: unexpected reply " + reply.to_string());
  }
  domain::SeatLockResult result;
  auto& target = reply.elements[0].integer == 1 ? result.taken : result.conflicts;
  for (const auto& index : reply.elements[1].elements) {
    const auto i = static_cast<std::size_t>(index.integer);
    if (i >= 1 && i <= seats.size()) target.push_back(seats[i - 1]);
  }
  co_return result;
}

Task<void> RedisSeatLockStore::run_for_owner(const RedisScript& script, std::string_view name,
                                             domain::ScheduleId schedule, domain::UserId user,
                                             const std::vector<std::string>& seats, std::string_view second_arg) {
  if (seats.empty()) co_return;
  const auto seat_keys = keys(schedule, seats);
  const std::vector<std::string_view> key_views(seat_keys.begin(), seat_keys.end());
  const std::string user_id = std::to_string(user.value);
  const std::array<std::string_view, 2> args{user_id, second_arg};
  const auto given = std::span<const std::string_view>(args).first(second_arg.empty() ? 1 : 2);
  const RedisReply reply = co_await redis_.evalsha(script, key_views, given);
  if (reply.is_error())
    throw domain::DependencyUnavailable("redis", fmt::format("seat {} script: {}", name, reply.str));
}

Task<void> RedisSeatLockStore::unlock(domain::ScheduleId schedule, domain::UserId user,
                                      const std::vector<std::string>& seats) {
  co_await run_for_owner(kUnlockScript, "unlock", schedule, user, seats);
}

Task<void> RedisSeatLockStore::renew_for_new_hold(domain::ScheduleId schedule, domain::UserId user,
                                                  const std::vector<std::string>& seats,
                                                  std::chrono::milliseconds ttl) {
  const std::string ttl_ms = std::to_string(ttl.count());
  co_await run_for_owner(kRenewScript, "renew", schedule, user, seats, ttl_ms);
}

Task<void> RedisSeatLockStore::extend_for_order(domain::ScheduleId schedule, domain::UserId user,
                                                const std::vector<std::string>& seats, domain::Timestamp until) {
  const std::string until_ms =
      std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(until.time_since_epoch()).count());
  co_await run_for_owner(kOrderScript, "order", schedule, user, seats, until_ms);
}

Task<void> RedisSeatLockStore::mark_sold(domain::ScheduleId schedule, domain::UserId user,
                                         const std::vector<std::string>& seats) {
  co_await run_for_owner(kSoldScript, "sold", schedule, user, seats);
}

}  // namespace ticketing::infra::redis
