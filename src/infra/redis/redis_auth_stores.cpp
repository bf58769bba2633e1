#include "infra/redis/redis_auth_stores.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <cstdlib>
#include <mutex>

#include "domain/errors.hpp"

namespace ticketing::infra::redis {
namespace {

constexpr std::string_view kRevokedKey = "auth:revoked-sessions";

// KEYS counter; ARGV window_ms count(1|0). Returns {hits, ttl_ms}.
const RedisScript kLimitScript = RedisScript::from_source(R"lua(
local hits
if ARGV[2] == '1' then
  hits = redis.call('INCR', KEYS[1])
  if hits == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
else
  hits = tonumber(redis.call('GET', KEYS[1]) or '0')
end
local ttl = redis.call('PTTL', KEYS[1])
if hits > 0 and ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {hits, ttl}
)lua");

// KEYS counter: one hit back, never below zero (and no key without its TTL).
const RedisScript kReleaseScript = RedisScript::from_source(R"lua(
local hits = tonumber(redis.call('GET', KEYS[1]) or '0')
if hits > 0 then redis.call('DECR', KEYS[1]) end
return hits
)lua");

std::int64_t millis(domain::Timestamp t) {
  return t.time_since_epoch().count();
}

std::int64_t integer_of(const RedisReply& reply) {
  if (reply.is_integer()) return reply.integer;
  if (reply.is_string()) return static_cast<std::int64_t>(std::strtod(reply.str.c_str(), nullptr));
  return 0;
}

}  // namespace

Task<domain::LimitState> RedisRateLimiter::run(const std::string& key, domain::Limit limit, bool count) {
  try {
    const std::string window = std::to_string(limit.window.count());
    const std::array<std::string_view, 1> keys{key};
    const std::array<std::string_view, 2> args{window, count ? "1" : "0"};
    const RedisReply reply = co_await redis_.evalsha(kLimitScript, keys, args);
    if (reply.is_error() || !reply.is_array() || reply.elements.size() < 2) {
      throw domain::DependencyUnavailable("redis", "limit script: " + reply.to_string());
    }
    const std::int64_t hits = integer_of(reply.elements[0]);
    const std::int64_t ttl_ms = integer_of(reply.elements[1]);
    // hit(): this hit is allowed while the window holds at most `max` (it counted itself);
    // peek(): the next hit would be allowed while fewer than `max` are there.
    const bool allowed = count ? hits <= limit.max : hits < limit.max;
    domain::LimitState state;
    state.allowed = allowed;
    if (!allowed) state.retry_after = std::chrono::seconds(std::max<std::int64_t>(1, (ttl_ms + 999) / 1000));
    co_return state;
  } catch (const domain::DependencyUnavailable& error) {
    failed_open_.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("rate limit {} not checked (failing open): {}", key, error.what());
  }
  co_return domain::LimitState{};
}

Task<domain::LimitState> RedisRateLimiter::hit(const std::string& key, domain::Limit limit) {
  co_return co_await run(key, limit, true);
}

Task<domain::LimitState> RedisRateLimiter::peek(const std::string& key, domain::Limit limit) {
  co_return co_await run(key, limit, false);
}

Task<void> RedisRateLimiter::reset(const std::string& key) {
  try {
    co_await redis_.execute("DEL", key);
  } catch (const domain::DependencyUnavailable& error) {
    spdlog::warn("rate limit {} not reset: {}", key, error.what());
  }
}

Task<void> RedisRateLimiter::release(const std::string& key) {
  try {
    const std::array<std::string_view, 1> keys{key};
    const std::array<std::string_view, 0> args{};
    co_await redis_.evalsha(kReleaseScript, keys, args);
  } catch (const domain::DependencyUnavailable& error) {
    spdlog::warn("rate limit {} not released: {}", key, error.what());
  }
}

bool RedisSessionRevocations::is_revoked(std::string_view session) const {
  if (empty_.load(std::memory_order_acquire)) return false;
  std::shared_lock lock(mutex_);
  return revoked_.find(std::string(session)) != revoked_.end();
}

void RedisSessionRevocations::remember(const std::string& session, std::int64_t until_ms) {
  auto [it, inserted] = revoked_.try_emplace(session, until_ms);
  if (!inserted && it->second >= until_ms) return;
  it->second = until_ms;
  expiry_.emplace_back(until_ms, session);
  empty_.store(false, std::memory_order_release);
}

void RedisSessionRevocations::forget_expired(std::int64_t now_ms) {
  constexpr int kPerLock = 1000;  // short exclusive sections: requests check the map meanwhile
  while (true) {
    std::unique_lock lock(mutex_);
    int done = 0;
    while (!expiry_.empty() && expiry_.front().first <= now_ms && done < kPerLock) {
      const auto& [until, session] = expiry_.front();
      if (auto it = revoked_.find(session); it != revoked_.end() && it->second <= until) revoked_.erase(it);
      expiry_.pop_front();
      ++done;
    }
    empty_.store(revoked_.empty(), std::memory_order_release);
    if (done < kPerLock) return;
  }
}

Task<void> RedisSessionRevocations::publish(const std::string& session, std::int64_t until_ms) {
  const std::string score = std::to_string(until_ms);
  co_await redis_.execute("ZADD", kRevokedKey, score, session);
}

Task<void> RedisSessionRevocations::revoke(const std::string& session, domain::Timestamp until) {
  const auto until_ms = millis(until);
  {
    std::unique_lock lock(mutex_);
    if (revoked_.size() < kMaxEntries) {
      remember(session, until_ms);
    } else {
      spdlog::error("{} revoked sessions held: session {} is refused only by its refresh tokens", kMaxEntries, session);
    }
  }
  try {
    co_await publish(session, until_ms);
  } catch (const domain::DependencyUnavailable& error) {
    // This instance refuses the session already; the others once sync() can share it.
    spdlog::warn("session revocation not shared yet (retried every second): {}", error.what());
    std::lock_guard lock(unpublished_mutex_);
    if (unpublished_.size() < kMaxEntries) unpublished_.emplace_back(session, until_ms);
  }
}

Task<void> RedisSessionRevocations::sync() {
  std::vector<std::pair<std::string, std::int64_t>> pending;
  {
    std::lock_guard lock(unpublished_mutex_);
    pending.swap(unpublished_);
  }
  for (std::size_t i = 0; i < pending.size(); ++i) {
    try {
      co_await publish(pending[i].first, pending[i].second);
    } catch (const domain::DependencyUnavailable&) {
      std::lock_guard lock(unpublished_mutex_);
      unpublished_.insert(unpublished_.end(), pending.begin() + static_cast<std::ptrdiff_t>(i), pending.end());
      throw;
    }
  }
  const auto now_ms = millis(clock_.now());
  const std::string now_text = std::to_string(now_ms);
  co_await redis_.execute("ZREMRANGEBYSCORE", kRevokedKey, "-inf", now_text);
  // Only what is newer than the last entry seen (less 5 s for instances whose clocks differ), a
  // page at a time; the first sync after start reads the whole set over a few pages.
  constexpr int kPage = 10'000;
  constexpr int kMaxPages = 100;
  constexpr std::int64_t kClockOverlapMs = 5'000;
  std::int64_t from = std::max(now_ms, cursor_ms_ - kClockOverlapMs);
  for (int page = 0; page < kMaxPages; ++page) {
    const std::string from_text = std::to_string(from);
    const std::string page_size = std::to_string(kPage);
    const RedisReply reply =
        co_await redis_.execute("ZRANGEBYSCORE", kRevokedKey, from_text, "+inf", "WITHSCORES", "LIMIT", "0", page_size);
    if (!reply.is_array()) throw domain::DependencyUnavailable("redis", "revoked sessions: " + reply.to_string());
    std::int64_t highest = from;
    {
      std::unique_lock lock(mutex_);
      for (std::size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
        const auto until = integer_of(reply.elements[i + 1]);
        highest = std::max(highest, until);
        if (revoked_.size() < kMaxEntries) remember(reply.elements[i].str, until);
      }
    }
    cursor_ms_ = std::max(cursor_ms_, highest);
    if (reply.elements.size() < static_cast<std::size_t>(2 * kPage) || highest == from) break;
    from = highest;  // the next page starts at the last score read (entries there are read again: harmless)
  }
  forget_expired(now_ms);
}

std::size_t RedisSessionRevocations::size() const {
  std::shared_lock lock(mutex_);
  return revoked_.size();
}

}  // namespace ticketing::infra::redis
