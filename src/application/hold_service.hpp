#pragma once
#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "application/queue_service.hpp"
#include "domain/ports/catalog_repository.hpp"
#include "domain/ports/clock.hpp"
#include "domain/ports/reservation_repository.hpp"
#include "domain/ports/seat_events.hpp"
#include "domain/ports/seat_lock_store.hpp"

namespace ticketing::application {

struct HoldPolicy {
  std::chrono::milliseconds ttl{300'000};
  int max_seats_per_user = 4;
};

struct HoldView {
  std::vector<domain::HeldSeat> seats;
  domain::Timestamp expires_at;
};

struct HoldCounters {
  std::atomic<std::uint64_t> held{0};          // successful hold requests
  std::atomic<std::uint64_t> conflicts{0};     // refused: seats taken (Redis or database)
  std::atomic<std::uint64_t> db_conflicts{0};  // of those, refused by the database's unique key
  std::atomic<std::uint64_t> limit_refused{0};
  std::atomic<std::uint64_t> redis_bypassed{0};  // Redis down: decided by the database alone
  std::atomic<std::uint64_t> released{0};
};

// Holding and releasing seats. Redis locks filter contention cheaply; the database transaction and
// its unique key decide. If Redis is down or was flushed, holds still go through the database.
class HoldService {
 public:
  // Committed seat changes (held, released, and stale holds expired by a hold) go to `seat_events`.
  HoldService(AdmissionGuard& guard, domain::SeatLockStore& locks, domain::ReservationRepository& reservations,
              const domain::Clock& clock, domain::SeatEventSink& seat_events, HoldPolicy policy,
              domain::CatalogRepository* schedules = nullptr)
      : guard_(guard),
        locks_(locks),
        reservations_(reservations),
        clock_(clock),
        seat_events_(seat_events),
        policy_(policy),
        schedules_(schedules) {}

  // 401 for a missing or invalid token, 403 for someone else's: from the headers alone (before the
  // body arrives).
  void authenticate(const std::optional<std::string>& token, domain::UserId user) const {
    guard_.authenticate(token, user);
  }
  // 401/403 for the caller's Queue-Token, then 401 for an ended slot, then `check`'s error for a bad
  // request (its body); only a call that passes `check` extends the slot (AdmissionGuard::admit).
  Task<Admission> admit(const std::optional<std::string>& token, domain::UserId user,
                        const AdmissionGuard::InputCheck& check) {
    return guard_.admit(token, user, check);
  }
  Task<Admission> admit(const std::optional<std::string>& token, domain::UserId user) {
    return guard_.admit(token, user);
  }
  // 401/403 for the token, 401 for an ended slot; nothing written (AdmissionGuard::require_live_slot).
  Task<void> require_live_slot(const std::optional<std::string>& token, domain::UserId user) {
    return guard_.require_live_slot(token, user);
  }
  // 403 when the admission is for another schedule; then the hold's own rules.
  Task<HoldView> hold_seats(const Admission& admission, domain::ScheduleId schedule,
                            const std::vector<std::string>& seat_nos);
  // Returns the released seats.
  Task<std::vector<std::string>> release_seats(const Admission& admission, domain::ScheduleId schedule,
                                               const std::vector<std::string>& seat_nos);

  HoldCounters& counters() noexcept { return counters_; }

 private:
  Task<void> unlock_quietly(domain::ScheduleId schedule, domain::UserId user, const std::vector<std::string>& seats);
  // The schedule's own max-seats-per-user when the operator set one (read through the catalog's
  // short-lived schedule cache), else the policy's.
  Task<int> seat_limit(domain::ScheduleId schedule);
  // 404 naming the requested seats that do not exist on the schedule.
  Task<void> require_existing_seats(domain::ScheduleId schedule, const std::vector<std::string>& seat_nos);

  AdmissionGuard& guard_;
  domain::SeatLockStore& locks_;
  domain::ReservationRepository& reservations_;
  const domain::Clock& clock_;
  domain::SeatEventSink& seat_events_;
  HoldPolicy policy_;
  domain::CatalogRepository* schedules_;
  HoldCounters counters_;
};

// Expires HELD rows past their expiry (and cancels READY orders past theirs); safe on any number
// of workers at once. The expired seats go to `seat_events`.
class HoldExpiryJob {
 public:
  HoldExpiryJob(domain::ReservationRepository& reservations, const domain::Clock& clock,
                domain::SeatEventSink& seat_events, int batch)
      : reservations_(reservations), clock_(clock), seat_events_(seat_events), batch_(batch) {}
  // Returns the number of held seats expired.
  Task<std::int64_t> run_once();

 private:
  domain::ReservationRepository& reservations_;
  const domain::Clock& clock_;
  domain::SeatEventSink& seat_events_;
  int batch_;
};

}  // namespace ticketing::application
