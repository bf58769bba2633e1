#pragma once
// Redis adapters of the sign-in limits and of the ended sessions (DESIGN.md §6, §12): several
// instances share them.
#include <atomic>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "domain/ports/clock.hpp"
#include "domain/ports/rate_limiter.hpp"
#include "domain/ports/session_revocations.hpp"
#include "infra/redis/redis_client.hpp"

namespace ticketing::infra::redis {

// Fixed windows: one counter key per limit subject with the window as its TTL. When Redis cannot
// answer, the limits fail open (logged): sign-in keeps working and Argon2 still bounds guessing.
class RedisRateLimiter final : public domain::RateLimiter {
 public:
  explicit RedisRateLimiter(RedisClient& redis) : redis_(redis) {}
  Task<domain::LimitState> hit(const std::string& key, domain::Limit limit) override;
  Task<domain::LimitState> peek(const std::string& key, domain::Limit limit) override;
  Task<void> reset(const std::string& key) override;
  Task<void> release(const std::string& key) override;

  std::uint64_t failed_open() const noexcept { return failed_open_.load(std::memory_order_relaxed); }

 private:
  Task<domain::LimitState> run(const std::string& key, domain::Limit limit, bool count);
  RedisClient& redis_;
  std::atomic<std::uint64_t> failed_open_{0};
};

// Revoked sessions: a local map (checked on every request without I/O) mirrored from a Redis
// sorted set `auth:revoked-sessions` (score = when the entry may be forgotten, revocation time +
// 24 h, so newer revocations have higher scores). sync() runs every second on each instance and
// reads only the entries newer than the last it saw (with 5 s of overlap for clocks that differ),
// so its cost does not grow with the size of the set; a logout elsewhere reaches this instance
// within about a second, on the instance that handled it at once. Old entries are forgotten from
// the front of an expiry queue, a few at a time.
class RedisSessionRevocations final : public domain::SessionRevocations {
 public:
  static constexpr std::size_t kMaxEntries = 1'000'000;

  RedisSessionRevocations(RedisClient& redis, const domain::Clock& clock) : redis_(redis), clock_(clock) {}
  bool is_revoked(std::string_view session) const override;
  Task<void> revoke(const std::string& session, domain::Timestamp until) override;
  // Pulls the shared set and forgets entries past their time. Throws DependencyUnavailable.
  Task<void> sync();

  std::size_t size() const;

 private:
  void remember(const std::string& session, std::int64_t until_ms);  // mutex_ held
  void forget_expired(std::int64_t now_ms);
  Task<void> publish(const std::string& session, std::int64_t until_ms);

  RedisClient& redis_;
  const domain::Clock& clock_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, std::int64_t> revoked_;    // session → forget after (epoch ms)
  std::deque<std::pair<std::int64_t, std::string>> expiry_;  // (forget after, session), roughly in order
  std::atomic<bool> empty_{true};
  std::int64_t cursor_ms_ = 0;  // highest score read from Redis (sync() only)
  // Revocations Redis did not take yet (it was down): sync() shares them first.
  std::mutex unpublished_mutex_;
  std::vector<std::pair<std::string, std::int64_t>> unpublished_;
};

}  // namespace ticketing::infra::redis
