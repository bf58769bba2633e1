#pragma once
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "application/fair_start.hpp"
#include "domain/ports/catalog_repository.hpp"
#include "domain/ports/clock.hpp"
#include "domain/ports/queue_store.hpp"
#include "domain/ports/token_service.hpp"
#include "domain/ports/user_repository.hpp"

namespace ticketing::application {

struct QueueView {
  domain::QueueStatus status = domain::QueueStatus::kWaiting;
  std::int64_t position = 0;
  std::int64_t estimated_wait_seconds = 0;
  std::int64_t poll_after_ms = domain::kMinPollMs;
  std::optional<std::string> token;           // only when admitted
  std::optional<domain::Timestamp> opens_at;  // only when pre-queued: the opening it waits for
};

// Counters for the metrics endpoint; read without locks.
struct QueueCounters {
  std::atomic<std::uint64_t> entered{0};
  std::atomic<std::uint64_t> admitted{0};
  std::atomic<std::uint64_t> lapsed_slots{0};
  std::atomic<std::uint64_t> dropped_waiters{0};
  std::atomic<std::uint64_t> left{0};
};

// The waiting room's use cases: enter, status, leave.
class QueueService {
 public:
  QueueService(domain::QueueStore& store, domain::CatalogRepository& catalog, domain::UserRepository& users,
               domain::TokenService& tokens, const domain::Clock& clock, domain::QueuePolicy policy,
               std::chrono::milliseconds token_ttl, FairStart* fair_start = nullptr);

  // 404 unknown user or schedule, 409 BOOKING_NOT_OPEN before the schedule opens (or before its
  // pre-queue opens). In the pre-queue (DESIGN.md §15) the user is PREQUEUED until the opening's
  // shuffle places them; without a FairStart a pre-queue schedule is not open before the opening.
  Task<QueueView> enter(domain::UserId user, domain::ScheduleId schedule);
  // 404 when the user is not queued.
  Task<QueueView> status(domain::UserId user, domain::ScheduleId schedule);
  Task<void> leave(domain::UserId user, domain::ScheduleId schedule);

  const QueueCounters& counters() const noexcept { return counters_; }
  QueueCounters& counters() noexcept { return counters_; }
  const domain::QueuePolicy& policy() const noexcept { return policy_; }

 private:
  QueueView view_of(const domain::QueuePlace& place, domain::UserId user, domain::ScheduleId schedule,
                    domain::Timestamp now) const;

  domain::QueueStore& store_;
  domain::CatalogRepository& catalog_;
  domain::UserRepository& users_;
  domain::TokenService& tokens_;
  const domain::Clock& clock_;
  domain::QueuePolicy policy_;
  std::chrono::milliseconds token_ttl_;
  FairStart* fair_start_;
  QueueCounters counters_;
};

// The check every booking endpoint runs first (DESIGN.md §5 "401 vs 403"): a valid token for
// this user and schedule, whose slot is still live. A live check extends the slot.
class AdmissionGuard {
 public:
  AdmissionGuard(domain::TokenService& tokens, domain::QueueStore& store, const domain::Clock& clock)
      : tokens_(tokens), store_(store), clock_(clock) {}

  // 401 unless `queue_token` is a valid, unexpired admission token; returns its claims. Needs no
  // request body, so booking endpoints run it before reading theirs (as a security filter would).
  domain::AdmissionClaims authenticate(const std::optional<std::string>& queue_token) const;
  // `queue_token` is the raw `Queue-Token` header (nullopt when absent); `user` is the signed-in
  // caller. authenticate(), then 403 when the token is another user's or another schedule's, then
  // 401 when its slot was given up. Returns the token's claims.
  Task<domain::AdmissionClaims> authorize(const std::optional<std::string>& queue_token, domain::UserId user,
                                          domain::ScheduleId schedule);

 private:
  domain::TokenService& tokens_;
  domain::QueueStore& store_;
  const domain::Clock& clock_;
};

// One admission round over every queued schedule. Run periodically by every worker instance;
// the store makes concurrent rounds safe.
class AdmissionJob {
 public:
  AdmissionJob(domain::QueueStore& store, const domain::Clock& clock, QueueCounters& counters)
      : store_(store), clock_(clock), counters_(counters) {}
  Task<void> run_once();

  struct QueueSize {
    std::int64_t waiting = 0;
    std::int64_t active = 0;
  };
  // Waiting and active counts per schedule as of the last round (gauges for the metrics endpoint).
  std::map<std::int64_t, QueueSize> queue_sizes() const;

 private:
  domain::QueueStore& store_;
  const domain::Clock& clock_;
  QueueCounters& counters_;
  mutable std::mutex sizes_mutex_;
  std::map<std::int64_t, QueueSize> sizes_;
};

}  // namespace ticketing::application
