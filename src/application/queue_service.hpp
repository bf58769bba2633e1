#pragma once
#include <atomic>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "application/fair_start.hpp"
#include "domain/ports/catalog_repository.hpp"
#include "domain/ports/clock.hpp"
#include "domain/ports/proof_of_work.hpp"
#include "domain/ports/queue_store.hpp"
#include "domain/ports/random_source.hpp"
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

// Adaptive proof of work (DESIGN.md §15): required while arrivals exceed `threshold` per second.
struct PowPolicy {
  std::int64_t threshold = 0;  // 0: never required
  int difficulty = 17;         // leading zero bits of SHA-256(challenge ‖ nonce)
  std::chrono::milliseconds challenge_ttl{120'000};
};

struct PowSolution {
  std::string challenge;
  std::string nonce;
};

struct PowChallengeView {
  std::string challenge;
  int difficulty = 0;
  domain::Timestamp expires_at{};
};

// Counters for the metrics endpoint; read without locks.
struct QueueCounters {
  std::atomic<std::uint64_t> entered{0};
  std::atomic<std::uint64_t> admitted{0};
  std::atomic<std::uint64_t> lapsed_slots{0};
  std::atomic<std::uint64_t> dropped_waiters{0};
  std::atomic<std::uint64_t> left{0};
  std::atomic<std::uint64_t> admission_failures{0};  // schedules whose admission round failed
  std::atomic<std::uint64_t> retired_schedules{0};   // idle schedules taken out of the admission job
};

// The waiting room's use cases: enter, status, leave.
class QueueService {
 public:
  QueueService(domain::QueueStore& store, domain::CatalogRepository& catalog, domain::UserRepository& users,
               domain::TokenService& tokens, const domain::Clock& clock, domain::QueuePolicy policy,
               std::chrono::milliseconds token_ttl, FairStart* fair_start = nullptr);

  // Challenges are issued and checked only once this is called (the wiring always does).
  void enable_proof_of_work(const domain::ProofOfWork& pow, domain::RandomSource& random, PowPolicy policy);

  // 404 unknown user or schedule, 409 BOOKING_NOT_OPEN before the schedule opens (or before its
  // pre-queue opens). In the pre-queue (DESIGN.md §15) the user is PREQUEUED until the opening's
  // shuffle places them; without a FairStart a pre-queue schedule is not open before the opening.
  // A waiter's or pre-queued user's re-enter is paced like a status poll (429). While arrivals exceed the proof-of-work
  // threshold a new arrival needs `solution` (400 POW_REQUIRED); a solution sent is always checked
  // (400 POW_INVALID / POW_EXPIRED, 409 POW_REUSED).
  Task<QueueView> enter(domain::UserId user, domain::ScheduleId schedule,
                        std::optional<PowSolution> solution = std::nullopt);
  // 404 when the user is not queued; 429 with Retry-After when a waiter polls well before
  // pollAfterMs (nothing written). Admitted users are never paced.
  Task<QueueView> status(domain::UserId user, domain::ScheduleId schedule);
  // A signed challenge for this user and schedule (404 unknown schedule).
  Task<PowChallengeView> challenge(domain::UserId user, domain::ScheduleId schedule);
  Task<void> leave(domain::UserId user, domain::ScheduleId schedule);

  const QueueCounters& counters() const noexcept { return counters_; }
  QueueCounters& counters() noexcept { return counters_; }
  const domain::QueuePolicy& policy() const noexcept { return policy_; }

 private:
  QueueView view_of(const domain::QueuePlace& place, domain::UserId user, domain::ScheduleId schedule,
                    domain::Timestamp now) const;
  // 429 for a paced refusal, 400/409 for proof-of-work refusals.
  [[noreturn]] void refuse(const domain::QueuePlace& place, domain::ScheduleId schedule, domain::Timestamp now) const;
  // Remembers when this waiter's next poll is due (after a status answer or a re-enter).
  Task<void> pace(const QueueView& view, domain::UserId user, domain::ScheduleId schedule, domain::Timestamp now);
  // The same for a pre-queued user's enter or status: when it comes before the last answer allowed,
  // writes nothing and returns when the next poll is due (a status call is 429 then, an enter
  // answers the place); else remembers when the next one is.
  Task<std::optional<domain::Timestamp>> pace_prequeued(const QueueView& view, domain::UserId user,
                                                        domain::ScheduleId schedule, domain::Timestamp now);
  // 429 with Retry-After for a poll before `allowed_at`.
  [[noreturn]] static void refuse_early_poll(domain::Timestamp now, domain::Timestamp allowed_at);

  domain::QueueStore& store_;
  domain::CatalogRepository& catalog_;
  domain::UserRepository& users_;
  domain::TokenService& tokens_;
  const domain::Clock& clock_;
  domain::QueuePolicy policy_;
  std::chrono::milliseconds token_ttl_;
  FairStart* fair_start_;
  QueueCounters counters_;
  const domain::ProofOfWork* pow_ = nullptr;
  domain::RandomSource* random_ = nullptr;
  PowPolicy pow_policy_;
};

// A Queue-Token that AdmissionGuard::admit accepted for the signed-in caller: valid, theirs, and
// its slot live. Only the guard makes one, so no booking call can skip that check.
class Admission {
 public:
  const domain::AdmissionClaims& claims() const noexcept { return claims_; }
  domain::UserId user() const noexcept { return claims_.user; }

 private:
  friend class AdmissionGuard;
  explicit Admission(const domain::AdmissionClaims& claims) : claims_(claims) {}
  domain::AdmissionClaims claims_;
};

// The check every booking endpoint runs first (DESIGN.md §5 "401 vs 403"): a valid token for
// this user, whose slot is still live, then (once the body names it) for this schedule. A call that
// passes extends the slot; a refused one (its body or headers bad, another schedule) does not.
class AdmissionGuard {
 public:
  AdmissionGuard(domain::TokenService& tokens, domain::QueueStore& store, const domain::Clock& clock)
      : tokens_(tokens), store_(store), clock_(clock) {}

  // 401 unless `queue_token` is a valid, unexpired admission token; returns its claims. Needs no
  // request body, so booking endpoints run it before reading theirs (as a security filter would).
  domain::AdmissionClaims authenticate(const std::optional<std::string>& queue_token) const;
  // authenticate(), then 403 when the token is another user's: all that the headers alone tell
  // (the slot's liveness needs Redis; admit() checks it).
  domain::AdmissionClaims authenticate(const std::optional<std::string>& queue_token, domain::UserId user) const;
  // `queue_token` is the raw `Queue-Token` header (nullopt when absent); `user` is the signed-in
  // caller. authenticate(), then 403 when the token is another user's, then 401 when the slot of
  // its schedule was given up (left, lapsed or used). Needs no request body: DESIGN.md §5 checks
  // auth before the body is read, so a revoked or someone else's token beats a bad body.
  Task<Admission> admit(const std::optional<std::string>& queue_token, domain::UserId user);
  // The call's own input check (its body, its headers; it throws DomainError for bad input), run
  // after the token's 401/403 and before the slot's liveness. The check is given the token's claims.
  using InputCheck = std::function<void(const domain::AdmissionClaims&)>;
  // admit() for a call whose input `check` may refuse: 401/403 for the token first, then 401 for an
  // ended slot, then the check's own error — auth before the body (DESIGN.md §5). Only a call whose
  // input passes extends the slot: a refused one (400, 403 for another schedule) only looks at it,
  // so junk calls keep no slot alive and write nothing.
  Task<Admission> admit(const std::optional<std::string>& queue_token, domain::UserId user, const InputCheck& check);
  // authenticate(), then 401 when the slot has ended; writes nothing (the slot is not extended). For
  // a request refused anyway (a body over the limit), so that a given-up token is still its 401.
  Task<void> require_live_slot(const std::optional<std::string>& queue_token, domain::UserId user);
  // 403 unless the admission is for `schedule` (named by the body, so checked once it is read).
  static void require_schedule(const Admission& admission, domain::ScheduleId schedule);
  static void require_schedule(const domain::AdmissionClaims& claims, domain::ScheduleId schedule);
  // A booking call's input as far as it is known without the store: 403 for another schedule, then
  // 400 for a malformed or repeated seat number (or more than `max_seats`, the body's bound). The
  // schedule's own seat limit and its seats are the service's to check (they are read first).
  static void require_seat_request(const domain::AdmissionClaims& claims, domain::ScheduleId schedule,
                                   const std::vector<std::string>& seat_nos, int max_seats);

 private:
  // 401 unless the slot of `claims` is live; extends it when `extend`.
  Task<void> require_live_slot(const domain::AdmissionClaims& claims, bool extend);

  domain::TokenService& tokens_;
  domain::QueueStore& store_;
  const domain::Clock& clock_;
};

// One admission round over every queued schedule. Run periodically by every worker instance;
// the store makes concurrent rounds safe.
//
// One schedule failing (a script error, a key of the wrong type) is logged and counted and the round
// goes on with the others. A schedule seen idle (nobody waiting or admitted) in every round for
// `retire_after` is retired from the store's list, so the round does not grow with every schedule
// that ever had a queue.
class AdmissionJob {
 public:
  static constexpr std::chrono::milliseconds kDefaultRetireAfter = std::chrono::minutes(10);

  AdmissionJob(domain::QueueStore& store, const domain::Clock& clock, QueueCounters& counters,
               std::chrono::milliseconds retire_after = kDefaultRetireAfter)
      : store_(store), clock_(clock), counters_(counters), retire_after_(retire_after) {}
  Task<void> run_once();

  struct QueueSize {
    std::int64_t waiting = 0;
    std::int64_t active = 0;
  };
  // Waiting and active counts per schedule as of the last round (gauges for the metrics endpoint).
  std::map<std::int64_t, QueueSize> queue_sizes() const;

 private:
  // Admits one schedule; false when its round failed (logged, counted).
  Task<bool> admit_one(domain::ScheduleId schedule, domain::Timestamp now);
  // Retires the schedules idle for retire_after; forgets what it knew of schedules no longer listed.
  Task<void> retire_idle(const std::vector<domain::ScheduleId>& listed, domain::Timestamp now);

  domain::QueueStore& store_;
  const domain::Clock& clock_;
  QueueCounters& counters_;
  std::chrono::milliseconds retire_after_;
  mutable std::mutex sizes_mutex_;
  std::map<std::int64_t, QueueSize> sizes_;
  std::map<std::int64_t, domain::Timestamp> idle_since_;  // run_once only (one round at a time)
  std::chrono::steady_clock::time_point last_failure_log_{};
  std::uint64_t unlogged_failures_ = 0;
};

}  // namespace ticketing::application
