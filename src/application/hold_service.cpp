#include "application/hold_service.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "application/seat_events.hpp"
#include "domain/errors.hpp"
#include "domain/operator_console.hpp"

namespace ticketing::application {

using domain::DomainError;
using domain::ErrorCode;
using domain::HoldOutcome;
using domain::ReleaseOutcome;

namespace {

std::string joined(const std::vector<std::string>& seats) {
  std::string out;
  for (const auto& seat : seats) out += (out.empty() ? "" : ", ") + seat;
  return out;
}

}  // namespace

Task<void> HoldService::unlock_quietly(domain::ScheduleId schedule, domain::UserId user,
                                       const std::vector<std::string>& seats) {
  if (seats.empty()) co_return;
  try {
    co_await locks_.unlock(schedule, user, seats);
  } catch (const std::exception& error) {
    // The locks expire with hold.ttl; until then they only make the fast path more cautious.
    spdlog::debug("could not drop seat locks: {}", error.what());
  }
}

Task<void> HoldService::require_existing_seats(domain::ScheduleId schedule, const std::vector<std::string>& seat_nos) {
  const auto missing = co_await reservations_.missing_seats(schedule, seat_nos);
  if (!missing.empty()) domain::throw_unknown_seats(schedule, missing);
}

Task<int> HoldService::seat_limit(domain::ScheduleId schedule) {
  if (schedules_ == nullptr) co_return policy_.max_seats_per_user;
  const auto found = co_await schedules_->find_schedule(schedule);
  if (found && found->settings.max_seats_per_user) co_return static_cast<int>(*found->settings.max_seats_per_user);
  co_return policy_.max_seats_per_user;
}

Task<HoldView> HoldService::hold_seats(const Admission& admission, domain::ScheduleId schedule,
                                       const std::vector<std::string>& seat_nos) {
  AdmissionGuard::require_schedule(admission, schedule);
  const auto user = admission.user();
  const int max_seats = co_await seat_limit(schedule);
  domain::validate_seat_request(seat_nos, max_seats);
  co_await require_existing_seats(schedule, seat_nos);

  const auto now = clock_.now();
  const auto expires_at = now + policy_.ttl;
  domain::SeatLockResult locks;
  bool locked = false;
  try {
    locks = co_await locks_.lock(schedule, user, seat_nos, policy_.ttl);
    locked = true;
  } catch (const domain::DependencyUnavailable&) {
    counters_.redis_bypassed.fetch_add(1, std::memory_order_relaxed);  // the database alone decides
  }
  if (locked && !locks.acquired()) {
    counters_.conflicts.fetch_add(1, std::memory_order_relaxed);
    throw domain::SeatConflict(std::move(locks.conflicts));
  }

  HoldOutcome outcome;
  std::exception_ptr failure;
  try {
    outcome = co_await reservations_.hold(schedule, user, seat_nos, now, expires_at, max_seats);
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure || outcome.kind != HoldOutcome::Kind::kHeld) {
    // Exactly the locks we took. When the lock call failed (a timeout), Redis may still run it
    // late: the request's seats are let go by owner, or a seat the database refused this user
    // would stay locked to them for hold.ttl, refused to everyone else after its holder lets go.
    co_await unlock_quietly(schedule, user, locked ? locks.taken : seat_nos);
  }
  if (failure) std::rethrow_exception(failure);

  switch (outcome.kind) {
    case HoldOutcome::Kind::kHeld:
      counters_.held.fetch_add(1, std::memory_order_relaxed);
      if (locked && locks.taken.size() < seat_nos.size()) {
        // Seats whose lock the user already had: a hold of theirs that a parallel release ended in
        // the database left it, and that release's unlock (after its commit) may drop it now —
        // leaving the new hold without the fast path. Their locks are set afresh for this hold.
        std::vector<std::string> found;
        for (const auto& seat : seat_nos) {
          if (std::find(locks.taken.begin(), locks.taken.end(), seat) == locks.taken.end()) found.push_back(seat);
        }
        try {
          co_await locks_.renew_for_new_hold(schedule, user, found, policy_.ttl);
        } catch (const std::exception&) {
          // The fast path only: the database holds the seats either way.
        }
      }
      emit_seat_changes(seat_events_, outcome.events);
      co_return HoldView{std::move(outcome.seats), expires_at};
    case HoldOutcome::Kind::kLimitExceeded:
      counters_.limit_refused.fetch_add(1, std::memory_order_relaxed);
      throw DomainError(
          ErrorCode::kHoldLimitExceeded,
          fmt::format("at most {} seats per user on a schedule; you already have {}", max_seats, outcome.live_seats));
    case HoldOutcome::Kind::kSeatsTaken: break;
  }
  counters_.conflicts.fetch_add(1, std::memory_order_relaxed);
  counters_.db_conflicts.fetch_add(1, std::memory_order_relaxed);
  throw domain::SeatConflict(std::move(outcome.taken_seats));
}

Task<std::vector<std::string>> HoldService::release_seats(const Admission& admission, domain::ScheduleId schedule,
                                                          const std::vector<std::string>& seat_nos) {
  AdmissionGuard::require_schedule(admission, schedule);
  const auto user = admission.user();
  // Not the schedule's current limit: an operator may have lowered it below what the user holds,
  // and their holds stay theirs to give back.
  domain::validate_seat_request(seat_nos, static_cast<int>(domain::kMaxSeatsPerUserLimit));
  co_await require_existing_seats(schedule, seat_nos);
  const auto outcome = co_await reservations_.release(schedule, user, seat_nos, clock_.now());
  switch (outcome.kind) {
    case ReleaseOutcome::Kind::kReleased: break;
    case ReleaseOutcome::Kind::kOtherOwner:
      throw DomainError(ErrorCode::kForbidden, "seats held by someone else: " + joined(outcome.seats));
    case ReleaseOutcome::Kind::kInPayment:
      throw DomainError(ErrorCode::kSeatInPayment, "seats are in a payment in progress: " + joined(outcome.seats));
    case ReleaseOutcome::Kind::kSold:
      throw DomainError(ErrorCode::kConflict, "seats are already sold: " + joined(outcome.seats));
    case ReleaseOutcome::Kind::kNotHeld:
      throw DomainError(ErrorCode::kConflict, "seats are not held by you: " + joined(outcome.seats));
  }
  counters_.released.fetch_add(1, std::memory_order_relaxed);
  emit_seat_changes(seat_events_, outcome.events);
  co_await unlock_quietly(schedule, user, seat_nos);
  co_return seat_nos;
}

Task<std::int64_t> HoldExpiryJob::run_once() {
  std::int64_t total = 0;
  while (true) {
    const auto outcome = co_await reservations_.expire_holds(clock_.now(), batch_);
    emit_seat_changes(seat_events_, outcome.events);
    total += outcome.expired;
    if (outcome.expired < batch_ && outcome.orders_cancelled < batch_) break;
  }
  co_return total;
}

}  // namespace ticketing::application
