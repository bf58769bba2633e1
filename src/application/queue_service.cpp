#include "application/queue_service.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <set>

#include "domain/errors.hpp"
#include "domain/reservation.hpp"

namespace ticketing::application {

using domain::DomainError;
using domain::ErrorCode;

QueueService::QueueService(domain::QueueStore& store, domain::CatalogRepository& catalog, domain::UserRepository& users,
                           domain::TokenService& tokens, const domain::Clock& clock, domain::QueuePolicy policy,
                           std::chrono::milliseconds token_ttl, FairStart* fair_start)
    : store_(store),
      catalog_(catalog),
      users_(users),
      tokens_(tokens),
      clock_(clock),
      policy_(policy),
      token_ttl_(token_ttl),
      fair_start_(fair_start) {}

namespace {

QueueView prequeued_view(domain::Timestamp opens_at, domain::Timestamp now) {
  QueueView view;
  view.status = domain::QueueStatus::kPrequeued;
  view.opens_at = opens_at;
  view.poll_after_ms = domain::prequeue_poll_after_ms(now, opens_at);
  return view;
}

}  // namespace

QueueView QueueService::view_of(const domain::QueuePlace& place, domain::UserId user, domain::ScheduleId schedule,
                                domain::Timestamp now) const {
  QueueView view;
  view.status = place.status;
  if (place.status == domain::QueueStatus::kAdmitted) {
    view.position = 0;
    view.estimated_wait_seconds = 0;
    // Never before tokens_valid_from: a second ahead after one give-up, a second more for each
    // further one within that second (verifiers allow 60 s of skew; a user who gives up slots
    // faster than that gets tokens refused as issued in the future until the clock catches up).
    const auto issued_at = std::max(now, place.tokens_valid_from);
    view.token = tokens_.issue(domain::AdmissionClaims{user, schedule, issued_at, issued_at + token_ttl_});
  } else {
    view.position = place.position;
    view.estimated_wait_seconds = domain::predict_admission_seconds(place.outlook, now);
  }
  view.poll_after_ms =
      domain::poll_after_ms(view.status, view.estimated_wait_seconds, view.position, policy_.heartbeat_timeout);
  return view;
}

void QueueService::enable_proof_of_work(const domain::ProofOfWork& pow, domain::RandomSource& random,
                                        PowPolicy policy) {
  pow_ = &pow;
  random_ = &random;
  pow_policy_ = policy;
}

void QueueService::refuse(const domain::QueuePlace& place, domain::ScheduleId schedule, domain::Timestamp now) const {
  switch (place.refusal) {
    case domain::QueueRefusal::kPollTooSoon: refuse_early_poll(now, place.poll_allowed_at);
    case domain::QueueRefusal::kProofOfWorkRequired:
      throw DomainError(ErrorCode::kPowRequired,
                        fmt::format("too many arrivals right now: solve a challenge from GET "
                                    "/queue/challenge?scheduleId={} and send powChallenge and powNonce",
                                    schedule.value));
    case domain::QueueRefusal::kProofOfWorkReused:
      throw DomainError(ErrorCode::kPowReused, "this challenge was used already; fetch a new one");
    case domain::QueueRefusal::kNone: break;
  }
  throw DomainError(ErrorCode::kInternal, "queue refusal without a reason");
}

Task<void> QueueService::pace(const QueueView& view, domain::UserId user, domain::ScheduleId schedule,
                              domain::Timestamp now) {
  co_await store_.pace(schedule, user, domain::next_poll_allowed_at(now, view.poll_after_ms),
                       now + std::chrono::milliseconds(view.poll_after_ms));
}

Task<std::optional<domain::Timestamp>> QueueService::pace_prequeued(const QueueView& view, domain::UserId user,
                                                                    domain::ScheduleId schedule,
                                                                    domain::Timestamp now) {
  co_return co_await store_.pace_prequeued(schedule, user, now, domain::next_poll_allowed_at(now, view.poll_after_ms),
                                           now + std::chrono::milliseconds(view.poll_after_ms));
}

void QueueService::refuse_early_poll(domain::Timestamp now, domain::Timestamp allowed_at) {
  const auto wait = domain::poll_retry_after(now, allowed_at);
  throw domain::RetryLater(ErrorCode::kTooManyRequests,
                           fmt::format("polled sooner than pollAfterMs advised; retry in {} s", wait.count()), wait);
}

Task<QueueView> QueueService::enter(domain::UserId user, domain::ScheduleId schedule,
                                    std::optional<PowSolution> solution) {
  const auto found = co_await catalog_.find_schedule(schedule);
  if (!found) throw DomainError(ErrorCode::kNotFound, fmt::format("schedule {} not found", schedule.value));
  const auto now = clock_.now();
  if (found->sale_state == domain::SaleState::kClosed) {
    // Closed: no newcomer (the store checks it again, current to the moment); someone already
    // waiting or admitted keeps their place, and their enter is a poll like any other.
    const auto known = co_await store_.status(schedule, user, now);
    bool prequeued = false;  // a pre-queued user keeps their place too
    if (!known && fair_start_ != nullptr) {
      const auto opens_at = co_await fair_start_->prequeued(schedule, user);
      prequeued = opens_at.has_value();
    }
    if (!known && !prequeued) {
      throw DomainError(ErrorCode::kSaleClosed, fmt::format("the sale of schedule {} is closed", schedule.value));
    }
  }
  const auto phase = domain::fair_start_phase(now, found->prequeue_opens_at, found->booking_opens_at, false);
  const bool prequeue = domain::enters_prequeue(phase) && fair_start_ != nullptr;
  if (phase == domain::FairStartPhase::kClosed ||
      (phase == domain::FairStartPhase::kPrequeue && fair_start_ == nullptr)) {
    throw DomainError(ErrorCode::kBookingNotOpen, fmt::format("booking for schedule {} opens at {}", schedule.value,
                                                              domain::to_iso8601(found->booking_opens_at)));
  }
  if (phase == domain::FairStartPhase::kBeforePrequeue) {
    throw DomainError(
        ErrorCode::kBookingNotOpen,
        fmt::format("the pre-queue of schedule {} opens at {} (booking at {})", schedule.value,
                    domain::to_iso8601(*found->prequeue_opens_at), domain::to_iso8601(found->booking_opens_at)));
  }
  const bool user_exists = co_await users_.exists(user);
  if (!user_exists) {
    throw DomainError(ErrorCode::kNotFound, fmt::format("user {} not found", user.value));
  }
  domain::EnterGate gate;
  if (pow_ != nullptr) gate.pow_threshold = pow_policy_.threshold;
  if (solution) {
    if (pow_ == nullptr) throw DomainError(ErrorCode::kPowInvalid, "proof of work is not enabled on this server");
    const auto check = pow_->verify(solution->challenge, solution->nonce, user, schedule, now);
    if (check.problem == domain::PowProblem::kExpired) {
      throw DomainError(ErrorCode::kPowExpired, "the challenge expired; fetch a new one");
    }
    if (!check.challenge) {
      throw DomainError(ErrorCode::kPowInvalid,
                        "the proof-of-work solution is not valid for this user and schedule; fetch a new challenge");
    }
    gate.pow_id = check.challenge->id;
    gate.pow_expires_at = check.challenge->expires_at;
  }
  if (prequeue) {
    // Also after the opening until the shuffle is applied: nobody can race ahead of the pre-queue.
    // (The pre-queue asks no proof of work: arrivals are counted, and gated, from the opening on.)
    const auto entry = co_await fair_start_->enter(*found, user);
    if (entry == domain::PrequeueEntry::kPrequeued) {
      auto view = prequeued_view(found->booking_opens_at, now);
      // A first enter starts the pacing as the waiting line's does; entering again is idempotent
      // (DESIGN.md §5): before the next poll is due it answers the place and writes nothing.
      const auto early = co_await pace_prequeued(view, user, schedule, now);
      if (early) view.poll_after_ms = domain::poll_after_not_before(now, *early, view.poll_after_ms);
      counters_.entered.fetch_add(1, std::memory_order_relaxed);
      co_return view;
    }
  }
  const auto place = co_await store_.enter(schedule, user, now, gate);
  if (place.refusal != domain::QueueRefusal::kNone) refuse(place, schedule, now);
  counters_.entered.fetch_add(1, std::memory_order_relaxed);
  auto view = view_of(place, user, schedule, now);
  // A first enter's pacing record is written by the store's enter itself (one script: the least
  // advice a waiter gets); a re-enter is a poll, paced by its own advice — or, before that poll is
  // due, the place as it is (enter is idempotent, DESIGN.md §5), with nothing written.
  if (place.entered_early) {
    view.poll_after_ms = domain::poll_after_not_before(now, place.poll_allowed_at, view.poll_after_ms);
  } else if (place.was_waiting) {
    co_await pace(view, user, schedule, now);
  }
  co_return view;
}

Task<QueueView> QueueService::status(domain::UserId user, domain::ScheduleId schedule) {
  const auto now = clock_.now();
  auto place = co_await store_.status(schedule, user, now);
  if (!place && fair_start_ != nullptr) {
    const auto opens_at = co_await fair_start_->prequeued(schedule, user);
    if (opens_at) {
      auto view = prequeued_view(*opens_at, now);
      // like a waiter's poll (DESIGN.md §15)
      if (const auto early = co_await pace_prequeued(view, user, schedule, now)) refuse_early_poll(now, *early);
      co_return view;
    }
    // The shuffle may have moved the user from the pre-queue to the waiting line in between.
    place = co_await store_.status(schedule, user, now);
  }
  if (!place) {
    throw DomainError(ErrorCode::kNotFound,
                      fmt::format("user {} is not in the queue of schedule {}", user.value, schedule.value));
  }
  if (place->refusal != domain::QueueRefusal::kNone) refuse(*place, schedule, now);
  auto view = view_of(*place, user, schedule, now);
  if (view.status == domain::QueueStatus::kWaiting) co_await pace(view, user, schedule, now);
  co_return view;
}

Task<PowChallengeView> QueueService::challenge(domain::UserId user, domain::ScheduleId schedule) {
  if (pow_ == nullptr || random_ == nullptr) {
    throw DomainError(ErrorCode::kNotFound, "proof of work is not enabled on this server");
  }
  const auto found = co_await catalog_.find_schedule(schedule);
  if (!found) throw DomainError(ErrorCode::kNotFound, fmt::format("schedule {} not found", schedule.value));
  const auto now = clock_.now();
  const domain::PowChallenge issued{user, schedule, random_->hex(16), now + pow_policy_.challenge_ttl,
                                    pow_policy_.difficulty};
  co_return PowChallengeView{pow_->issue(issued), issued.difficulty, issued.expires_at};
}

Task<void> QueueService::leave(domain::UserId user, domain::ScheduleId schedule) {
  // The pre-queue first: a user the shuffle moves meanwhile is then in the waiting line, and leaves it.
  // Only a schedule with a pre-queue can have anyone in it (the schedule comes from a cache, so a
  // plain leave costs one Redis call, not two). The database being down must not keep anyone in
  // the queue: without the schedule, both are asked, and the failure is reported only if neither
  // had the user.
  std::optional<domain::Schedule> found;
  std::exception_ptr lookup_failed;
  try {
    found = co_await catalog_.find_schedule(schedule);
  } catch (const std::exception&) {
    lookup_failed = std::current_exception();
  }
  bool was_queued = false;
  if (fair_start_ != nullptr && (lookup_failed || !found || found->prequeue_opens_at)) {
    was_queued = co_await fair_start_->leave(schedule, user);
  }
  if (!was_queued) was_queued = co_await store_.leave(schedule, user, clock_.now());
  if (was_queued) {
    counters_.left.fetch_add(1, std::memory_order_relaxed);
    co_return;
  }
  if (lookup_failed) std::rethrow_exception(lookup_failed);
  // Not queued is still 204 (leaving twice is fine), but a well-formed id that names nothing is 404.
  if (!found) throw DomainError(ErrorCode::kNotFound, fmt::format("schedule {} not found", schedule.value));
  const bool user_exists = co_await users_.exists(user);
  if (!user_exists) throw DomainError(ErrorCode::kNotFound, fmt::format("user {} not found", user.value));
}

domain::AdmissionClaims AdmissionGuard::authenticate(const std::optional<std::string>& queue_token) const {
  if (!queue_token || queue_token->empty()) {
    throw DomainError(ErrorCode::kUnauthenticated,
                      "the queue's admission token is required (Queue-Token header); enter the queue first");
  }
  const auto check = tokens_.verify(*queue_token, clock_.now());
  if (!check.claims) {
    throw DomainError(ErrorCode::kUnauthenticated,
                      fmt::format("admission token rejected: {}", domain::to_string(check.problem)));
  }
  return *check.claims;
}

domain::AdmissionClaims AdmissionGuard::authenticate(const std::optional<std::string>& queue_token,
                                                     domain::UserId user) const {
  auto claims = authenticate(queue_token);
  if (claims.user != user) throw DomainError(ErrorCode::kForbidden, "the queue token was issued to another user");
  return claims;
}

Task<Admission> AdmissionGuard::admit(const std::optional<std::string>& queue_token, domain::UserId user) {
  const InputCheck no_check;
  co_return co_await admit(queue_token, user, no_check);
}

Task<Admission> AdmissionGuard::admit(const std::optional<std::string>& queue_token, domain::UserId user,
                                      const InputCheck& check) {
  const auto claims = authenticate(queue_token, user);
  std::exception_ptr refused;
  if (check) {
    try {
      check(claims);
    } catch (const DomainError&) {
      refused = std::current_exception();
    }
  }
  co_await require_live_slot(claims, refused == nullptr);
  if (refused) std::rethrow_exception(refused);
  co_return Admission(claims);
}

Task<void> AdmissionGuard::require_live_slot(const std::optional<std::string>& queue_token, domain::UserId user) {
  const auto claims = authenticate(queue_token, user);
  co_await require_live_slot(claims, false);
}

Task<void> AdmissionGuard::require_live_slot(const domain::AdmissionClaims& claims, bool extend) {
  bool slot_live = true;
  try {
    slot_live = co_await store_.touch_active(claims.schedule, claims.user, clock_.now(), claims.issued_at, extend);
  } catch (const domain::DependencyUnavailable&) {
    // Redis down: the signed, unexpired token alone admits (booking keeps going, the database
    // still guards every seat); revocation is checked again once Redis is back.
  }
  if (!slot_live) {
    throw DomainError(ErrorCode::kUnauthenticated,
                      "the admission slot is no longer active (left, lapsed or used); enter the queue again");
  }
}

void AdmissionGuard::require_schedule(const Admission& admission, domain::ScheduleId schedule) {
  require_schedule(admission.claims(), schedule);
}

void AdmissionGuard::require_seat_request(const domain::AdmissionClaims& claims, domain::ScheduleId schedule,
                                          const std::vector<std::string>& seat_nos, int max_seats) {
  require_schedule(claims, schedule);
  domain::validate_seat_request(seat_nos, max_seats);
}

void AdmissionGuard::require_schedule(const domain::AdmissionClaims& claims, domain::ScheduleId schedule) {
  if (claims.schedule != schedule) {
    throw DomainError(ErrorCode::kForbidden, "the queue token was issued for another schedule");
  }
}

Task<void> AdmissionJob::run_once() {
  const auto schedules = co_await store_.queued_schedules();
  const auto now = clock_.now();
  for (const auto schedule : schedules) co_await admit_one(schedule, now);
  co_await retire_idle(schedules, now);
}

Task<bool> AdmissionJob::admit_one(domain::ScheduleId schedule, domain::Timestamp now) {
  std::string failure;
  try {
    const auto round = co_await store_.admit(schedule, now);
    counters_.admitted.fetch_add(static_cast<std::uint64_t>(round.admitted), std::memory_order_relaxed);
    counters_.lapsed_slots.fetch_add(static_cast<std::uint64_t>(round.lapsed_slots), std::memory_order_relaxed);
    counters_.dropped_waiters.fetch_add(static_cast<std::uint64_t>(round.dropped_waiters), std::memory_order_relaxed);
    if (round.waiting == 0 && round.active == 0) {
      idle_since_.try_emplace(schedule.value, now);
    } else {
      idle_since_.erase(schedule.value);
    }
    std::lock_guard lock(sizes_mutex_);
    sizes_[schedule.value] = QueueSize{round.waiting, round.active};
    co_return true;
  } catch (const std::exception& error) {
    failure = error.what();
  }
  // One broken schedule (a poisoned key, a script error) must not stop the others' admissions.
  counters_.admission_failures.fetch_add(1, std::memory_order_relaxed);
  idle_since_.erase(schedule.value);  // unknown state: never retired on this round's word
  ++unlogged_failures_;
  const auto wall = std::chrono::steady_clock::now();
  if (wall - last_failure_log_ >= std::chrono::seconds(10)) {
    spdlog::warn("admission round failed for schedule {}: {} ({} schedule rounds failed since the last warning)",
                 schedule.value, failure, unlogged_failures_);
    last_failure_log_ = wall;
    unlogged_failures_ = 0;
  }
  co_return false;
}

Task<void> AdmissionJob::retire_idle(const std::vector<domain::ScheduleId>& listed, domain::Timestamp now) {
  std::set<std::int64_t> present;
  for (const auto schedule : listed) present.insert(schedule.value);
  std::vector<domain::ScheduleId> due;
  for (auto it = idle_since_.begin(); it != idle_since_.end();) {
    if (!present.contains(it->first)) {
      it = idle_since_.erase(it);
      continue;
    }
    if (now - it->second >= retire_after_) due.push_back(domain::ScheduleId{it->first});
    ++it;
  }
  for (const auto schedule : due) {
    bool retired = false;
    try {
      retired = co_await store_.retire(schedule);
    } catch (const std::exception& error) {
      spdlog::warn("retiring idle schedule {} from the admission job failed: {}", schedule.value, error.what());
    }
    idle_since_.erase(schedule.value);
    if (!retired) continue;
    counters_.retired_schedules.fetch_add(1, std::memory_order_relaxed);
    present.erase(schedule.value);
  }
  // Gauges only for listed schedules: the metric's schedule label stays bounded by the live set.
  std::lock_guard lock(sizes_mutex_);
  std::erase_if(sizes_, [&](const auto& entry) { return !present.contains(entry.first); });
}

std::map<std::int64_t, AdmissionJob::QueueSize> AdmissionJob::queue_sizes() const {
  std::lock_guard lock(sizes_mutex_);
  return sizes_;
}

}  // namespace ticketing::application
