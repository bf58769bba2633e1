#include "application/queue_service.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "domain/errors.hpp"

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
    // Never before tokens_valid_from (at most a second ahead; verifiers allow clock skew).
    const auto issued_at = std::max(now, place.tokens_valid_from);
    view.token = tokens_.issue(domain::AdmissionClaims{user, schedule, issued_at, issued_at + token_ttl_});
  } else {
    view.position = place.position;
    view.estimated_wait_seconds = domain::estimate_wait_seconds(place.position, place.admissions_per_second, policy_);
  }
  view.poll_after_ms = domain::poll_after_ms(view.status, view.estimated_wait_seconds);
  return view;
}

Task<QueueView> QueueService::enter(domain::UserId user, domain::ScheduleId schedule) {
  const auto found = co_await catalog_.find_schedule(schedule);
  if (!found) throw DomainError(ErrorCode::kNotFound, fmt::format("schedule {} not found", schedule.value));
  if (found->sale_state == domain::SaleState::kClosed) {  // the store checks it again, current to the moment
    throw DomainError(ErrorCode::kSaleClosed, fmt::format("the sale of schedule {} is closed", schedule.value));
  }
  const auto now = clock_.now();
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
  if (prequeue) {
    // Also after the opening until the shuffle is applied: nobody can race ahead of the pre-queue.
    const auto entry = co_await fair_start_->enter(*found, user);
    if (entry == domain::PrequeueEntry::kPrequeued) {
      counters_.entered.fetch_add(1, std::memory_order_relaxed);
      co_return prequeued_view(found->booking_opens_at, now);
    }
  }
  const auto place = co_await store_.enter(schedule, user, now);
  counters_.entered.fetch_add(1, std::memory_order_relaxed);
  co_return view_of(place, user, schedule, now);
}

Task<QueueView> QueueService::status(domain::UserId user, domain::ScheduleId schedule) {
  const auto now = clock_.now();
  auto place = co_await store_.status(schedule, user, now);
  if (!place && fair_start_ != nullptr) {
    const auto opens_at = co_await fair_start_->prequeued(schedule, user);
    if (opens_at) co_return prequeued_view(*opens_at, now);
    // The shuffle may have moved the user from the pre-queue to the waiting line in between.
    place = co_await store_.status(schedule, user, now);
  }
  if (!place) {
    throw DomainError(ErrorCode::kNotFound,
                      fmt::format("user {} is not in the queue of schedule {}", user.value, schedule.value));
  }
  co_return view_of(*place, user, schedule, now);
}

Task<void> QueueService::leave(domain::UserId user, domain::ScheduleId schedule) {
  // The pre-queue first: a user the shuffle moves meanwhile is then in the waiting line, and leaves it.
  bool was_queued = false;
  if (fair_start_ != nullptr) was_queued = co_await fair_start_->leave(schedule, user);
  if (!was_queued) was_queued = co_await store_.leave(schedule, user, clock_.now());
  if (was_queued) {
    counters_.left.fetch_add(1, std::memory_order_relaxed);
    co_return;
  }
  // Not queued is still 204 (leaving twice is fine), but a well-formed id that names nothing is 404.
  const auto found = co_await catalog_.find_schedule(schedule);
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

Task<domain::AdmissionClaims> AdmissionGuard::authorize(const std::optional<std::string>& queue_token,
                                                        domain::UserId user, domain::ScheduleId schedule) {
  const auto claims = authenticate(queue_token);
  const auto now = clock_.now();
  if (claims.user != user || claims.schedule != schedule) {
    throw DomainError(ErrorCode::kForbidden, "the queue token was issued to another user or for another schedule");
  }
  bool slot_live = true;
  try {
    slot_live = co_await store_.touch_active(schedule, user, now, claims.issued_at);
  } catch (const domain::DependencyUnavailable&) {
    // Redis down: the signed, unexpired token alone admits (booking keeps going, the database
    // still guards every seat); revocation is checked again once Redis is back.
  }
  if (!slot_live) {
    throw DomainError(ErrorCode::kUnauthenticated,
                      "the admission slot is no longer active (left, lapsed or used); enter the queue again");
  }
  co_return claims;
}

Task<void> AdmissionJob::run_once() {
  for (const auto schedule : co_await store_.queued_schedules()) {
    const auto round = co_await store_.admit(schedule, clock_.now());
    counters_.admitted.fetch_add(static_cast<std::uint64_t>(round.admitted), std::memory_order_relaxed);
    counters_.lapsed_slots.fetch_add(static_cast<std::uint64_t>(round.lapsed_slots), std::memory_order_relaxed);
    counters_.dropped_waiters.fetch_add(static_cast<std::uint64_t>(round.dropped_waiters), std::memory_order_relaxed);
    std::lock_guard lock(sizes_mutex_);
    sizes_[schedule.value] = QueueSize{round.waiting, round.active};
  }
}

std::map<std::int64_t, AdmissionJob::QueueSize> AdmissionJob::queue_sizes() const {
  std::lock_guard lock(sizes_mutex_);
  return sizes_;
}

}  // namespace ticketing::application
