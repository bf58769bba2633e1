#include "infra/redis/redis_queue_store.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>

#include "domain/errors.hpp"
#include "domain/queue.hpp"
#include "domain/queue_pacing.hpp"

namespace ticketing::infra::redis {
namespace {

using domain::QueuePlace;
using domain::QueueStatus;

// The mark from which a user's tokens are refused once they lose a slot (left, lapsed, bought) at
// `now_ms`, given their `previous` mark (nil/false: none): the next whole second, or the second
// after the previous mark if that is later. Token times have whole seconds and a slot's tokens are
// issued from the previous mark on (QueuePlace::tokens_valid_from), so every token of the lost slot
// is older than the new mark — also when the user gave up a slot, came back and gave up the next one
// within the same second — and the tokens of a later slot are issued from the mark on. Lua, put in
// front of each script that revokes (revoking_script).
constexpr std::string_view kRevocationMarkLua = R"lua(
local function revocation_mark(now_ms, previous)
  return math.max(math.floor(now_ms / 1000) * 1000 + 1000, (tonumber(previous) or 0) + 1000)
end
)lua";

RedisScript revoking_script(std::string_view body) {
  return RedisScript::from_source(std::string(kRevocationMarkLua) + std::string(body));
}

// place: the user's place, joining the queue when ARGV[3] == '1' (enter) and not otherwise (status).
// Idempotent; a poll is the waiter's heartbeat. KEYS waiting active seq heartbeat stats revoked
// settings pace pow; ARGV user now_ms join pow_threshold (0: never) pow_ttl_ms (0: no solution came)
// max_active admit_per_second active_ttl_ms (the config defaults) admit_on_arrival ('1') read_expiries ('1': the
// ETA's held-slot expiries, see below) first_poll_allowed_ms first_poll_forget_ms (a new waiter's pace record: its
// first status call is paced by the least advice there is). A new arrival who
// finds nobody waiting, a free slot and a token in the admission bucket is admitted at once: exactly what the
// next admission round would do, without the wait and the poll (docs/queue.md "Admission"). Proof of work is required
// while the stats hash's pow_until (set by the admission round from the arrivals it counted) lies ahead: asking costs
// no extra Redis call. Returns {code, position, ms, rate, tokens_valid_from, was_waiting, active, max_active,
// admit_per_second, completion rate, {expiry scores}}: code 1 admitted (ms = slot expiry), 0 waiting (was_waiting 0
// new, 1 waiting, 2 entering again before the next poll is due: ms = when it is, nothing written), -1 not queued, -2
// sale closed, -3 polled too soon (ms = when the next poll is accepted), -4 proof of work required, -5 solution reused.
// Refusals write nothing.
const RedisScript kPlaceScript = revoking_script(R"lua(
local now = tonumber(ARGV[2])
local stats = redis.call('HMGET', KEYS[5], 'rate', 'freed', 'pow_until')
local rate = stats[1] or '0'
-- a solution's challenge is single use: the arrival it places remembers its id until the challenge
-- expires (a refused call, or one from a user already in, neither uses it up nor is refused for it)
local pow_ttl = tonumber(ARGV[5]) or 0
local active_until = redis.call('ZSCORE', KEYS[2], ARGV[1])
if active_until then
  if tonumber(active_until) > now then
    return {1, 0, active_until, rate, redis.call('HGET', KEYS[6], ARGV[1]) or '0'}
  end
  -- lapsed: its tokens are refused from the revocation mark on (86400000 = kRevocationMemoryMs)
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HSET', KEYS[6], ARGV[1], revocation_mark(now, redis.call('HGET', KEYS[6], ARGV[1])))
  redis.call('PEXPIRE', KEYS[6], 86400000)
end
local rank = redis.call('ZRANK', KEYS[1], ARGV[1])
local settings = redis.call('HMGET', KEYS[7], 'state', 'max_active', 'admit_per_second')
local was_waiting = 0
local early = '0'
if rank then
  -- server-paced polling: a waiter's status call before its next poll is due is refused; entering
  -- again then (enter is idempotent) answers the place and writes nothing
  local allowed = redis.call('GET', KEYS[8])
  was_waiting = 1
  if allowed and tonumber(allowed) > now then
    if ARGV[3] ~= '1' then return {-3, 0, allowed, rate} end
    early = allowed
    was_waiting = 2
  end
else
  if ARGV[3] ~= '1' then return {-1, 0, '0', rate} end
  -- a CLOSED sale takes no one new; those already in keep their place
  if settings[1] == 'CLOSED' then return {-2, 0, '0', rate} end
  -- past the arrival threshold (measured by the admission rounds), a new arrival needs a solution
  if (tonumber(ARGV[4]) or 0) > 0 and pow_ttl == 0 and (tonumber(stats[3]) or 0) > now then
    return {-4, 0, '0', rate}
  end
  if pow_ttl > 0 and not redis.call('SET', KEYS[9], '1', 'NX', 'PX', pow_ttl) then return {-5, 0, '0', rate} end
  local seq = redis.call('INCR', KEYS[3])
  if ARGV[9] == '1' and ((not settings[1]) or settings[1] == 'OPEN') and redis.call('ZCARD', KEYS[1]) == 0 and
     redis.call('ZCARD', KEYS[2]) < (tonumber(settings[2]) or tonumber(ARGV[6]) or 0) then
    -- the round's token bucket ('bts': when it was last taken from or refilled)
    local per_second = tonumber(settings[3]) or tonumber(ARGV[7]) or 0
    local bucket = redis.call('HMGET', KEYS[5], 'tokens', 'bts', 'ts')
    local last = tonumber(bucket[2]) or tonumber(bucket[3]) or now
    local tokens = math.min(per_second, (tonumber(bucket[1]) or per_second) + math.max(0, now - last) * per_second / 1000)
    if tokens >= 1 then
      local expiry = now + tonumber(ARGV[8])
      redis.call('ZADD', KEYS[2], expiry, ARGV[1])
      -- 'held' and 'direct' keep the next round's completion and admission rates right
      redis.call('HSET', KEYS[5], 'tokens', tostring(tokens - 1), 'bts', math.max(now, last))
      redis.call('HINCRBY', KEYS[5], 'held', 1)
      redis.call('HINCRBY', KEYS[5], 'direct', 1)
      return {1, 0, expiry, rate, redis.call('HGET', KEYS[6], ARGV[1]) or '0'}
    end
  end
  redis.call('ZADD', KEYS[1], seq, ARGV[1])
  rank = redis.call('ZCARD', KEYS[1]) - 1
  redis.call('SET', KEYS[8], ARGV[11], 'PXAT', ARGV[12])
end
if was_waiting ~= 2 then redis.call('ZADD', KEYS[4], now, ARGV[1]) end
-- the ETA's data: slots, the completion rate and, when the caller has no recent copy of them
-- (ARGV[10] == '1'), the expiries of the first held slots (at most 256; the caller keeps them for
-- a moment: reading them on every enter and poll halved the enters a rush can take)
local active = redis.call('ZCARD', KEYS[2])
local expiries = {}
if ARGV[10] == '1' and active > 0 then
  local held = redis.call('ZRANGE', KEYS[2], 0, math.min(active, 256) - 1, 'WITHSCORES')
  for i = 2, #held, 2 do expiries[#expiries + 1] = held[i] end
end
return {0, rank + 1, early, rate, '0', was_waiting, active, settings[2] or '', settings[3] or '', stats[2] or '0',
        expiries}
)lua");

// leave: KEYS waiting active heartbeat revoked; ARGV user now_ms revoked_ttl_ms. Returns how many
// places were given up. An admitted user's slot is revoked: `revoked` gets the revocation mark.
const RedisScript kLeaveScript = revoking_script(R"lua(
local was_active = redis.call('ZREM', KEYS[2], ARGV[1])
local removed = redis.call('ZREM', KEYS[1], ARGV[1]) + was_active
redis.call('ZREM', KEYS[3], ARGV[1])
if was_active > 0 then
  redis.call('HSET', KEYS[4], ARGV[1], revocation_mark(tonumber(ARGV[2]), redis.call('HGET', KEYS[4], ARGV[1])))
  redis.call('PEXPIRE', KEYS[4], ARGV[3])
end
return removed
)lua");

// touch: KEYS active revoked; ARGV user now_ms ttl_ms token_iat_ms. 1 when the slot is live and the
// token is not one of a slot given up since (and the slot extended by ttl_ms unless it is 0), else 0.
const RedisScript kTouchScript = RedisScript::from_source(R"lua(
local now = tonumber(ARGV[2])
local revoked = redis.call('HGET', KEYS[2], ARGV[1])
if revoked and tonumber(ARGV[4]) < tonumber(revoked) then return 0 end
local active_until = redis.call('ZSCORE', KEYS[1], ARGV[1])
if active_until and tonumber(active_until) > now then
  if tonumber(ARGV[3]) > 0 then redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[3]), ARGV[1]) end
  return 1
end
return 0
)lua");

// complete: KEYS active revoked; ARGV user now_ms revoked_ttl_ms token_iat_ms. The purchase's
// slot is the current one only if no slot was given up since its token was issued (every give-up
// records a revocation mark later than all of that slot's token times).
const RedisScript kCompleteScript = revoking_script(R"lua(
local revoked = redis.call('HGET', KEYS[2], ARGV[1])
if revoked and tonumber(ARGV[4]) < tonumber(revoked) then return 0 end
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], revocation_mark(tonumber(ARGV[2]), revoked))
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
)lua");

// Longest a token can live (security.token-ttl is at most 24 h): a revocation older than that
// has no token left to refuse.
constexpr std::int64_t kRevocationMemoryMs = 24LL * 3600 * 1000;

// admit: one admission round. KEYS waiting active heartbeat stats revoked settings seq;
// ARGV now_ms max_active admit_per_second heartbeat_timeout_ms active_ttl_ms (the config
// defaults) pow_threshold (arrivals/s; 0: proof of work off). The schedule's own settings (the console writes them to
// `settings`) win over the defaults, and a sale that is not OPEN admits nobody: everyone waiting keeps their place. The
// token bucket (capacity: one second of admissions) lives in Redis, so N instances running this concurrently still
// admit at most admit_per_second in total and never exceed max_active. Returns {admitted, lapsed, dropped, waiting,
// active}.
const RedisScript kAdmitScript = revoking_script(R"lua(
local now = tonumber(ARGV[1])
local controls = redis.call('HMGET', KEYS[6], 'state', 'max_active', 'admit_per_second')
local max_active = tonumber(controls[2]) or tonumber(ARGV[2])
local per_second = tonumber(controls[3]) or tonumber(ARGV[3])
local admitting = (not controls[1]) or controls[1] == 'OPEN'
local held_before = redis.call('ZCARD', KEYS[2])
local seq = tonumber(redis.call('GET', KEYS[7])) or 0
local lapsed_users = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
local lapsed = #lapsed_users
if lapsed > 0 then
  -- their tokens are refused from their revocation marks on (86400000 = kRevocationMemoryMs)
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  for first = 1, lapsed, 500 do
    local users = {}
    for i = first, math.min(first + 499, lapsed) do users[#users + 1] = lapsed_users[i] end
    local before = redis.call('HMGET', KEYS[5], unpack(users))
    local fields = {}
    for i, user in ipairs(users) do
      fields[#fields + 1] = user
      fields[#fields + 1] = revocation_mark(now, before[i])
    end
    redis.call('HSET', KEYS[5], unpack(fields))
  end
  redis.call('PEXPIRE', KEYS[5], 86400000)
end
local stale = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[4]), 'LIMIT', 0, 1000)
if #stale > 0 then
  redis.call('ZREM', KEYS[1], unpack(stale))
  redis.call('ZREM', KEYS[3], unpack(stale))
end
local state = redis.call('HMGET', KEYS[4], 'tokens', 'ts', 'rate', 'held', 'freed', 'win_ts', 'win_seq', 'pow_until',
                         'bts', 'direct')
local last = tonumber(state[2]) or now
local elapsed = math.max(0, now - last)
-- the bucket is also taken from by enter (an arrival admitted at once), which moves 'bts', not 'ts'
local bucket_last = tonumber(state[9]) or last
local tokens = math.min(per_second, (tonumber(state[1]) or per_second) + math.max(0, now - bucket_last) * per_second / 1000)
-- never moved back (a round's `now` may be older than an enter's): the stretch would refill twice
local bucket_ts = math.max(now, bucket_last)
local free = max_active - redis.call('ZCARD', KEYS[2])
local n = math.min(free, math.floor(tokens), 1000)
if not admitting then n = 0 end
local admitted = 0
if n > 0 then
  local next_users = redis.call('ZRANGE', KEYS[1], 0, n - 1)
  admitted = #next_users
  if admitted > 0 then
    local expiry = now + tonumber(ARGV[5])
    local args = {}
    for _, user in ipairs(next_users) do
      args[#args + 1] = expiry
      args[#args + 1] = user
    end
    redis.call('ZADD', KEYS[2], unpack(args))
    redis.call('ZREM', KEYS[1], unpack(next_users))
    redis.call('ZREM', KEYS[3], unpack(next_users))
    tokens = tokens - admitted
  end
end
local waiting = redis.call('ZCARD', KEYS[1])
local rate = tonumber(state[3]) or 0
-- arrivals enter admitted at once since the last round (counted by the next round that writes)
local direct = tonumber(state[10]) or 0
if elapsed > 0 and (admitted + direct > 0 or waiting > 0) then
  -- admissions per second, exponentially weighted over about 10 s
  local alpha = 1 - math.exp(-elapsed / 10000)
  rate = rate + alpha * ((admitted + direct) * 1000 / elapsed - rate)
end
local freed = tonumber(state[5]) or 0
if elapsed > 0 then
  -- slots given back by purchases and leaves since the last round (lapses are not completions),
  -- per second, exponentially weighted over about 10 s: the ETA's completion rate
  local completed = math.max(0, (tonumber(state[4]) or held_before) - held_before)
  freed = freed + (1 - math.exp(-elapsed / 10000)) * (completed * 1000 / elapsed - freed)
end
-- arrivals (every new place takes a number from seq) in the current window of about a second:
-- more than the proof-of-work threshold (ARGV[6], 0: off) per second, and new arrivals need a
-- solution for the next 2 s (a bot cannot slip through by pausing for one round). Counted over
-- at least a second, so one arrival in a 100 ms round is not "10 per second".
local win_ts = tonumber(state[6]) or now
local win_seq = tonumber(state[7]) or seq
local pow_until = tonumber(state[8]) or 0
local threshold = tonumber(ARGV[6]) or 0
local arrived = seq - win_seq
if threshold > 0 and arrived > threshold and arrived * 1000 / math.max(1000, now - win_ts) > threshold then
  pow_until = now + 2000
end
if now - win_ts >= 1000 then
  win_ts = now
  win_seq = seq
end
local held_after = redis.call('ZCARD', KEYS[2])
-- a round that admitted saves the bucket even in the millisecond of the last one (or the same
-- tokens would be spent again)
if elapsed > 0 or state[2] == false or admitted > 0 then
  redis.call('HSET', KEYS[4], 'tokens', tostring(tokens), 'ts', math.max(now, last), 'bts', bucket_ts, 'rate', tostring(rate), 'held',
             held_after, 'freed', tostring(freed), 'win_ts', win_ts, 'win_seq', win_seq, 'pow_until', pow_until,
             'direct', 0)
else
  direct = 0
end
return {admitted + direct, lapsed, #stale, waiting, held_after}
)lua");

// controls: KEYS settings; ARGV state max_active admit_per_second ('' = the config default)
// restoring version. Written unless the hash holds a newer version (restoring: the same version or
// a newer one); a hash without a readable version (none yet, or written before versions) is older
// than any. Replaces the whole hash in one step, so a round never sees half of a change. Returns
// {1 when written, the version found}.
const RedisScript kControlsScript = RedisScript::from_source(R"lua(
local found = redis.call('HGET', KEYS[1], 'version') or ''
local stored = -1
if #found <= 16 and string.match(found, '^%d+$') then stored = tonumber(found) end
local version = tonumber(ARGV[5])
if stored > version or (ARGV[4] == '1' and stored == version) then return {0, found} end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'version', ARGV[5])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'max_active', ARGV[2]) end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'admit_per_second', ARGV[3]) end
return {1, found}
)lua");

// snapshot: KEYS waiting active stats. Returns {waiting, active, rate}.
const RedisScript kSnapshotScript = RedisScript::from_source(R"lua(
return {redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]), redis.call('HGET', KEYS[3], 'rate') or '0'}
)lua");

constexpr auto kRegistrationRefresh = std::chrono::seconds(10);

std::int64_t millis(domain::Timestamp t) {
  return t.time_since_epoch().count();
}

std::int64_t integer_of(const RedisReply& reply) {
  if (reply.is_integer()) return reply.integer;
  if (reply.is_string()) {
    // Scores come back as strings, possibly in exponent form ("1.7e+12").
    return static_cast<std::int64_t>(std::strtod(reply.str.c_str(), nullptr));
  }
  return 0;
}

double double_of(const RedisReply& reply) {
  if (reply.is_integer()) return static_cast<double>(reply.integer);
  if (reply.is_string()) return std::strtod(reply.str.c_str(), nullptr);
  return 0;
}

const RedisReply& checked_array(const RedisReply& reply, std::size_t size, std::string_view script) {
  if (reply.is_error()) throw domain::DependencyUnavailable("redis", fmt::format("{} script: {}", script, reply.str));
  if (!reply.is_array() || reply.elements.size() < size) {
    throw domain::DependencyUnavailable("redis",
                                        fmt::format("{} script: unexpected reply {}", script, reply.to_string()));
  }
  return reply;
}

QueuePlace place_of(const RedisReply& reply, const domain::QueuePolicy& policy) {
  QueuePlace place;
  place.status = integer_of(reply.elements[0]) == 1 ? QueueStatus::kAdmitted : QueueStatus::kWaiting;
  place.position = integer_of(reply.elements[1]);
  place.active_until = domain::Timestamp{std::chrono::milliseconds(integer_of(reply.elements[2]))};
  place.admissions_per_second = double_of(reply.elements[3]);
  if (reply.elements.size() > 4) {
    place.tokens_valid_from = domain::Timestamp{std::chrono::milliseconds(integer_of(reply.elements[4]))};
  }
  if (reply.elements.size() > 10) {
    // The ETA's data (waiters only); the console's per-schedule settings win over the config's.
    const auto setting = [](const RedisReply& value, std::int64_t fallback) {
      return value.is_string() && !value.str.empty() ? integer_of(value) : fallback;
    };
    place.was_waiting = integer_of(reply.elements[5]) >= 1;
    if (integer_of(reply.elements[5]) == 2) {
      place.entered_early = true;
      place.poll_allowed_at = place.active_until;  // the ms field: when the next poll is due
      place.active_until = {};
    }
    auto& outlook = place.outlook;
    outlook.position = place.position;
    outlook.active = integer_of(reply.elements[6]);
    outlook.max_active = setting(reply.elements[7], policy.max_active);
    outlook.admit_per_second = setting(reply.elements[8], policy.admit_per_second);
    outlook.completion_rate = double_of(reply.elements[9]);
    outlook.active_ttl = policy.active_ttl;
    for (const auto& score : reply.elements[10].elements) {
      outlook.expiries.push_back(domain::Timestamp{std::chrono::milliseconds(integer_of(score))});
    }
  }
  return place;
}

}  // namespace

RedisQueueStore::RedisQueueStore(RedisClient& redis, domain::QueuePolicy policy) : redis_(redis), policy_(policy) {}

std::string RedisQueueStore::key(domain::ScheduleId schedule, std::string_view suffix) {
  return fmt::format("queue:{{{}}}:{}", schedule.value, suffix);
}

Task<void> RedisQueueStore::register_schedule(domain::ScheduleId schedule) {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(registered_mutex_);
    if (registered_.size() >= kMaxRegistered && !registered_.contains(schedule.value)) {
      std::erase_if(registered_, [&](const auto& entry) { return now - entry.second >= kRegistrationRefresh; });
      if (registered_.size() >= kMaxRegistered) registered_.clear();  // only costs a few extra SADDs
    }
    auto& last = registered_[schedule.value];
    if (now - last < kRegistrationRefresh) co_return;
    last = now;
  }
  const std::string id = std::to_string(schedule.value);
  co_await redis_.execute("SADD", "queue:schedules", id);
}

Task<std::optional<QueuePlace>> RedisQueueStore::place(domain::ScheduleId schedule, domain::UserId user,
                                                       domain::Timestamp now, bool join,
                                                       const domain::EnterGate& gate) {
  const std::string user_id = std::to_string(user.value);
  const std::array<std::string, 9> keys{
      key(schedule, "waiting"),   key(schedule, "active"),  key(schedule, "seq"),
      key(schedule, "heartbeat"), key(schedule, "stats"),   key(schedule, "revoked"),
      key(schedule, "settings"),  pace_key(schedule, user), key(schedule, "pow:" + gate.pow_id.value_or(""))};
  std::array<std::string_view, 9> key_views{};
  for (std::size_t i = 0; i < keys.size(); ++i) key_views[i] = keys[i];
  const std::string now_ms = std::to_string(millis(now));
  const std::string threshold = std::to_string(gate.pow_threshold);
  // The solution's id is remembered until its challenge expires (at least 1 ms: 0 means none came).
  const std::string pow_ttl =
      std::to_string(gate.pow_id ? std::max<std::int64_t>(1, millis(gate.pow_expires_at) - millis(now)) : 0);
  const std::string max_active = std::to_string(policy_.max_active);
  const std::string per_second = std::to_string(policy_.admit_per_second);
  const std::string active_ttl = std::to_string(policy_.active_ttl.count());
  const auto read_at = std::chrono::steady_clock::now();
  const bool read_expiries = !fresh_expiries(schedule, read_at);
  // A new waiter's first status call is paced like any other (DESIGN.md §15), by the least advice a
  // waiter gets: its own advice is not known inside the script, and is never less.
  const std::int64_t least_advice = domain::min_poll_after_ms(policy_.heartbeat_timeout);
  const std::string first_poll_allowed = std::to_string(millis(domain::next_poll_allowed_at(now, least_advice)));
  const std::string first_poll_forget = std::to_string(millis(now) + least_advice);
  const std::array<std::string_view, 12> args{user_id,
                                              now_ms,
                                              join ? "1" : "0",
                                              threshold,
                                              pow_ttl,
                                              max_active,
                                              per_second,
                                              active_ttl,
                                              policy_.admit_on_arrival ? "1" : "0",
                                              read_expiries ? "1" : "0",
                                              first_poll_allowed,
                                              first_poll_forget};
  const RedisReply reply = co_await redis_.evalsha(kPlaceScript, key_views, args);
  checked_array(reply, 4, "place");
  const auto code = integer_of(reply.elements[0]);
  if (code == -2) {
    throw domain::DomainError(domain::ErrorCode::kSaleClosed,
                              fmt::format("the sale of schedule {} is closed", schedule.value));
  }
  if (code == -1) co_return std::nullopt;
  if (code < 0) {
    QueuePlace refused;
    refused.refusal = code == -3   ? domain::QueueRefusal::kPollTooSoon
                      : code == -4 ? domain::QueueRefusal::kProofOfWorkRequired
                                   : domain::QueueRefusal::kProofOfWorkReused;
    refused.poll_allowed_at = domain::Timestamp{std::chrono::milliseconds(integer_of(reply.elements[2]))};
    co_return refused;
  }
  auto place = place_of(reply, policy_);
  if (place.status == QueueStatus::kWaiting) outlook_expiries(schedule, place.outlook, read_expiries, read_at);
  co_return place;
}

bool RedisQueueStore::fresh_expiries(domain::ScheduleId schedule, std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(expiries_mutex_);
  const auto copy = expiries_.find(schedule.value);
  return copy != expiries_.end() && now - copy->second.read_at < kExpiryCopyTtl;
}

void RedisQueueStore::outlook_expiries(domain::ScheduleId schedule, domain::AdmissionOutlook& outlook, bool read,
                                       std::chrono::steady_clock::time_point read_at) {
  // As many held slots as must free up before this waiter's turn.
  const std::int64_t free_now = std::max<std::int64_t>(0, outlook.max_active - outlook.active);
  const auto needed = static_cast<std::size_t>(
      std::clamp<std::int64_t>(outlook.position - free_now, 0, std::min<std::int64_t>(outlook.active, 256)));
  std::lock_guard lock(expiries_mutex_);
  if (read) {  // outlook.expiries holds what the script read
    if (expiries_.size() >= kMaxRegistered && !expiries_.contains(schedule.value)) expiries_.clear();
    expiries_[schedule.value] = ExpiryCopy{read_at, outlook.expiries};
    outlook.expiries.resize(std::min(outlook.expiries.size(), needed));
  } else if (const auto copy = expiries_.find(schedule.value); copy != expiries_.end()) {
    const auto& held = copy->second.expiries;
    outlook.expiries.assign(held.begin(), held.begin() + static_cast<std::ptrdiff_t>(std::min(held.size(), needed)));
  }
}

std::string RedisQueueStore::pace_key(domain::ScheduleId schedule, domain::UserId user) {
  return key(schedule, fmt::format("pace:{}", user.value));
}

Task<QueuePlace> RedisQueueStore::enter(domain::ScheduleId schedule, domain::UserId user, domain::Timestamp now,
                                        const domain::EnterGate& gate) {
  co_await register_schedule(schedule);
  const auto joined = co_await place(schedule, user, now, /*join=*/true, gate);
  if (!joined) throw domain::DependencyUnavailable("redis", "enter script did not place the user");
  co_return *joined;
}

Task<std::optional<QueuePlace>> RedisQueueStore::status(domain::ScheduleId schedule, domain::UserId user,
                                                        domain::Timestamp now) {
  auto found = co_await place(schedule, user, now, /*join=*/false, domain::EnterGate{});
  // A waiter's poll registers the schedule too (at most once per kRegistrationRefresh, as enter
  // does): when Redis lost the registry (restarted empty) right after this instance's last
  // registration, the users who re-entered meanwhile only poll, and without this the admission
  // job would never see their queue again.
  if (found && found->status == QueueStatus::kWaiting && found->refusal == domain::QueueRefusal::kNone) {
    co_await register_schedule(schedule);
  }
  co_return found;
}

Task<void> RedisQueueStore::pace(domain::ScheduleId schedule, domain::UserId user, domain::Timestamp allowed_at,
                                 domain::Timestamp forget_at) {
  const std::string pace = pace_key(schedule, user);
  const std::string allowed_ms = std::to_string(millis(allowed_at));
  const std::string forget_ms = std::to_string(millis(forget_at));
  const RedisReply reply = co_await redis_.execute("SET", pace, allowed_ms, "PXAT", forget_ms);
  if (reply.is_error()) throw domain::DependencyUnavailable("redis", "pace: " + reply.str);
}

namespace {
// KEYS pace; ARGV now_ms allowed_ms forget_ms: the pace record's time when still ahead (refused,
// nothing written), else 0 and the record set.
const RedisScript kPacePrequeuedScript = RedisScript::from_source(R"lua(
local allowed = redis.call('GET', KEYS[1])
if allowed and tonumber(allowed) > tonumber(ARGV[1]) then return allowed end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
return 0
)lua");
}  // namespace

Task<std::optional<domain::Timestamp>> RedisQueueStore::pace_prequeued(domain::ScheduleId schedule, domain::UserId user,
                                                                       domain::Timestamp now,
                                                                       domain::Timestamp allowed_at,
                                                                       domain::Timestamp forget_at) {
  const std::string pace = pace_key(schedule, user);
  const std::array<std::string_view, 1> key_views{pace};
  const std::string now_ms = std::to_string(millis(now));
  const std::string allowed_ms = std::to_string(millis(allowed_at));
  const std::string forget_ms = std::to_string(millis(forget_at));
  const std::array<std::string_view, 3> args{now_ms, allowed_ms, forget_ms};
  const RedisReply reply = co_await redis_.evalsha(kPacePrequeuedScript, key_views, args);
  if (reply.is_error()) throw domain::DependencyUnavailable("redis", "pace_prequeued: " + reply.str);
  const auto refused_until = integer_of(reply);
  if (refused_until <= 0) co_return std::nullopt;
  co_return domain::Timestamp{std::chrono::milliseconds(refused_until)};
}

Task<bool> RedisQueueStore::leave(domain::ScheduleId schedule, domain::UserId user, domain::Timestamp now) {
  const std::array<std::string, 4> keys{key(schedule, "waiting"), key(schedule, "active"), key(schedule, "heartbeat"),
                                        key(schedule, "revoked")};
  const std::array<std::string_view, 4> key_views{keys[0], keys[1], keys[2], keys[3]};
  const std::string user_id = std::to_string(user.value);
  const std::string now_ms = std::to_string(millis(now));
  const std::string memory_ms = std::to_string(kRevocationMemoryMs);
  const std::array<std::string_view, 3> args{user_id, now_ms, memory_ms};
  const RedisReply reply = co_await redis_.evalsha(kLeaveScript, key_views, args);
  if (reply.is_error()) throw domain::DependencyUnavailable("redis", "leave script: " + reply.str);
  co_return integer_of(reply) > 0;
}

// The scripts over one user's slot: KEYS active revoked; ARGV user now_ms <third> token_iat_ms.
// True when the script answered 1.
Task<bool> RedisQueueStore::run_slot_script(const RedisScript& script, std::string_view name,
                                            domain::ScheduleId schedule, domain::UserId user, domain::Timestamp now,
                                            std::int64_t third, domain::Timestamp token_issued_at) {
  const std::string active = key(schedule, "active");
  const std::string revoked = key(schedule, "revoked");
  const std::array<std::string_view, 2> key_views{active, revoked};
  const std::string user_id = std::to_string(user.value);
  const std::string now_ms = std::to_string(millis(now));
  const std::string third_arg = std::to_string(third);
  const std::string issued_ms = std::to_string(millis(token_issued_at));
  const std::array<std::string_view, 4> args{user_id, now_ms, third_arg, issued_ms};
  const RedisReply reply = co_await redis_.evalsha(script, key_views, args);
  if (reply.is_error()) throw domain::DependencyUnavailable("redis", fmt::format("{} script: {}", name, reply.str));
  co_return integer_of(reply) == 1;
}

Task<bool> RedisQueueStore::complete_slot(domain::ScheduleId schedule, domain::UserId user, domain::Timestamp now,
                                          domain::Timestamp slot_token_issued_at) {
  co_return co_await run_slot_script(kCompleteScript, "complete", schedule, user, now, kRevocationMemoryMs,
                                     slot_token_issued_at);
}

Task<bool> RedisQueueStore::touch_active(domain::ScheduleId schedule, domain::UserId user, domain::Timestamp now,
                                         domain::Timestamp token_issued_at, bool extend) {
  const std::int64_t ttl_ms = extend ? policy_.active_ttl.count() : 0;
  co_return co_await run_slot_script(kTouchScript, "touch", schedule, user, now, ttl_ms, token_issued_at);
}

Task<domain::AdmissionRound> RedisQueueStore::admit(domain::ScheduleId schedule, domain::Timestamp now) {
  const std::array<std::string, 7> keys{key(schedule, "waiting"), key(schedule, "active"),  key(schedule, "heartbeat"),
                                        key(schedule, "stats"),   key(schedule, "revoked"), key(schedule, "settings"),
                                        key(schedule, "seq")};
  const std::array<std::string_view, 7> key_views{keys[0], keys[1], keys[2], keys[3], keys[4], keys[5], keys[6]};
  const std::string now_ms = std::to_string(millis(now));
  const std::string max_active = std::to_string(policy_.max_active);
  const std::string per_second = std::to_string(policy_.admit_per_second);
  const std::string heartbeat = std::to_string(policy_.heartbeat_timeout.count());
  const std::string ttl = std::to_string(policy_.active_ttl.count());
  const std::string pow_threshold = std::to_string(policy_.pow_threshold);
  const std::array<std::string_view, 6> args{now_ms, max_active, per_second, heartbeat, ttl, pow_threshold};
  const RedisReply reply = co_await redis_.evalsha(kAdmitScript, key_views, args);
  checked_array(reply, 5, "admit");
  co_return domain::AdmissionRound{integer_of(reply.elements[0]), integer_of(reply.elements[1]),
                                   integer_of(reply.elements[2]), integer_of(reply.elements[3]),
                                   integer_of(reply.elements[4])};
}

Task<std::vector<domain::ScheduleId>> RedisQueueStore::queued_schedules() {
  const RedisReply reply = co_await redis_.execute("SMEMBERS", "queue:schedules");
  std::vector<domain::ScheduleId> schedules;
  if (!reply.is_array()) co_return schedules;
  for (const auto& element : reply.elements) {
    if (const auto id = domain::parse_canonical_id(element.str)) schedules.push_back(domain::ScheduleId{*id});
  }
  co_return schedules;
}

namespace {

// idle: KEYS waiting active pre. 1 when none of them exists (Redis deletes an emptied ZSET).
const RedisScript kIdleScript = RedisScript::from_source(R"lua(
if redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[3]) == 0 then return 1 end
return 0
)lua");

}  // namespace

Task<bool> RedisQueueStore::idle(domain::ScheduleId schedule) {
  const std::array<std::string, 3> keys{key(schedule, "waiting"), key(schedule, "active"), key(schedule, "pre")};
  const std::array<std::string_view, 3> key_views{keys[0], keys[1], keys[2]};
  const RedisReply reply = co_await redis_.evalsha(kIdleScript, key_views, std::span<const std::string_view>());
  if (reply.is_error()) throw domain::DependencyUnavailable("redis", "idle script: " + reply.str);
  co_return integer_of(reply) == 1;
}

Task<bool> RedisQueueStore::retire(domain::ScheduleId schedule) {
  if (!co_await idle(schedule)) co_return false;
  const std::string id = std::to_string(schedule.value);
  co_await redis_.execute("SREM", "queue:schedules", id);
  {
    std::lock_guard lock(registered_mutex_);
    registered_.erase(schedule.value);  // this instance's next enter registers it again at once
  }
  // The set and the schedule's keys are in different cluster slots, so no one script covers both:
  // enter registers before it places, and a user placed between the check and the SREM is seen
  // here, putting the schedule back. (Any waiter's poll also re-registers within 10 s.)
  if (!co_await idle(schedule)) {
    co_await redis_.execute("SADD", "queue:schedules", id);
    co_return false;
  }
  co_return true;
}

Task<void> RedisQueueStore::apply_controls(domain::ScheduleId schedule, const domain::QueueControls& controls) {
  co_await write_controls(schedule, controls, false);
}

Task<void> RedisQueueStore::restore_controls(domain::ScheduleId schedule, const domain::QueueControls& controls) {
  co_await write_controls(schedule, controls, true);
}

Task<void> RedisQueueStore::write_controls(domain::ScheduleId schedule, const domain::QueueControls& controls,
                                           bool restoring) {
  // A change registers the schedule for the admission job (a resumed sale's waiters are admitted);
  // the periodic restore does not, or a retired schedule would come back every round.
  if (!restoring) co_await register_schedule(schedule);
  const std::string settings = key(schedule, "settings");
  const std::array<std::string_view, 1> key_views{settings};
  const auto text = [](const std::optional<std::int64_t>& value) {
    return value ? std::to_string(*value) : std::string();
  };
  const std::string max_active = text(controls.settings.max_active);
  const std::string per_second = text(controls.settings.admit_per_second);
  const std::string version = std::to_string(controls.version);
  const std::array<std::string_view, 5> args{domain::to_string(controls.state), max_active, per_second,
                                             restoring ? "1" : "0", version};
  const RedisReply reply = co_await redis_.evalsha(kControlsScript, key_views, args);
  if (reply.is_error()) throw domain::DependencyUnavailable("redis", "controls script: " + reply.str);
  checked_array(reply, 2, "controls");
  if (integer_of(reply.elements[0]) == 1) co_return;
  const std::string& found = reply.elements[1].str;
  if (!restoring) {
    // Only a newer change is there (published first although committed later) — or the database
    // went back to an older state (restored from a backup): the next change replaces it.
    spdlog::warn("queue controls of schedule {} version {} not published: Redis holds version {}", schedule.value,
                 controls.version, found);
  } else if (found != version) {
    // Newer than the database's: a change the restore's read just missed (gone by the next round),
    // or a database restored from a backup. Said once per schedule and version, not every round.
    std::lock_guard lock(newer_controls_mutex_);
    if (newer_controls_.size() > 10'000) newer_controls_.clear();
    auto& said = newer_controls_[schedule.value];
    if (said != found) {
      said = found;
      spdlog::warn(
          "queue controls of schedule {} in Redis (version {}) are newer than the database's ({}); if the "
          "database was restored from a backup, set the sale state again in the console",
          schedule.value, found, controls.version);
    }
  }
}

Task<domain::QueueSnapshot> RedisQueueStore::snapshot(domain::ScheduleId schedule) {
  const std::array<std::string, 3> keys{key(schedule, "waiting"), key(schedule, "active"), key(schedule, "stats")};
  const std::array<std::string_view, 3> key_views{keys[0], keys[1], keys[2]};
  const RedisReply reply = co_await redis_.evalsha(kSnapshotScript, key_views, std::array<std::string_view, 0>{});
  checked_array(reply, 3, "snapshot");
  co_return domain::QueueSnapshot{integer_of(reply.elements[0]), integer_of(reply.elements[1]),
                                  double_of(reply.elements[2])};
}

}  // namespace ticketing::infra::redis
