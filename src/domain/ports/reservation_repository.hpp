#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "domain/async.hpp"
#include "domain/reservation.hpp"
#include "domain/seat_change.hpp"

namespace ticketing::domain {

struct HoldOutcome {
  enum class Kind { kHeld, kSeatsTaken, kLimitExceeded } kind = Kind::kHeld;
  std::vector<HeldSeat> seats;           // kHeld
  std::vector<std::string> taken_seats;  // kSeatsTaken: exactly the requested seats with a live row
  std::int64_t live_seats = 0;           // kLimitExceeded: seats the user already holds or bought
  std::vector<SeatChanged> events;       // kHeld: committed seat changes (stale holds expired, then held)
};

struct ReleaseOutcome {
  enum class Kind { kReleased, kNotHeld, kOtherOwner, kInPayment, kSold } kind = Kind::kReleased;
  std::vector<std::string> seats;   // the seats causing the problem (or released)
  std::vector<SeatChanged> events;  // kReleased: the committed seat change
};

struct ExpiryOutcome {
  std::int64_t expired = 0;           // HELD rows this call expired
  std::int64_t orders_cancelled = 0;  // READY orders cancelled (their own expiry or their holds')
  std::vector<SeatChanged> events;    // committed seat changes, per schedule
};

class ReservationRepository {
 public:
  virtual ~ReservationRepository() = default;
  // Requested seats that do not exist on the schedule.
  virtual Task<std::vector<std::string>> missing_seats(ScheduleId schedule, const std::vector<std::string>& seats) = 0;
  // One transaction: expire stale holds of these seats, check the user's limit (HELD + CONFIRMED on
  // the schedule), insert HELD rows. All or nothing.
  virtual Task<HoldOutcome> hold(ScheduleId schedule, UserId user, const std::vector<std::string>& seats, Timestamp now,
                                 Timestamp expires_at, int max_seats_per_user) = 0;
  // One transaction: the user's live HELD rows of these seats → CANCELLED. All or nothing.
  virtual Task<ReleaseOutcome> release(ScheduleId schedule, UserId user, const std::vector<std::string>& seats,
                                       Timestamp now) = 0;
  // READY orders past their expiry → CANCELLED; HELD rows past their expiry → EXPIRED unless their
  // order can still be paid or is being confirmed (domain::hold_is_stale), and READY orders of
  // expired rows → CANCELLED (at most `batch` each, skipping rows other workers hold).
  virtual Task<ExpiryOutcome> expire_holds(Timestamp now, int batch) = 0;
};

}  // namespace ticketing::domain
