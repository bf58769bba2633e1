#pragma once
#include <chrono>
#include <string>
#include <vector>

#include "domain/async.hpp"
#include "domain/ids.hpp"
#include "domain/time.hpp"

namespace ticketing::domain {

struct SeatLockResult {
  // Non-empty when someone else holds one of the seats (nothing was taken then): every requested
  // seat with a lock, including the ones the user already holds.
  std::vector<std::string> conflicts;
  std::vector<std::string> taken;  // seats this call locked (to drop again if the DB refuses)
  bool acquired() const noexcept { return conflicts.empty(); }
};

// The Redis fast path in front of the database: all-or-nothing locks per seat, owner = user.
// It only filters contention; the database decides. Throws DependencyUnavailable when down.
class SeatLockStore {
 public:
  virtual ~SeatLockStore() = default;
  virtual Task<SeatLockResult> lock(ScheduleId schedule, UserId user, const std::vector<std::string>& seats,
                                    std::chrono::milliseconds ttl) = 0;
  // Deletes the locks of these seats that `user` owns (compare-and-delete).
  virtual Task<void> unlock(ScheduleId schedule, UserId user, const std::vector<std::string>& seats) = 0;
  // The seats were sold to `user`: the user's own locks stop expiring, so the fast path keeps
  // refusing them (and names them in a 409) long after hold.ttl. A lock that is gone or another
  // user's is left as it is (a refund or a new hold may have come between the commit and this).
  virtual Task<void> mark_sold(ScheduleId schedule, UserId user, const std::vector<std::string>& seats) = 0;
  // The seats went into `user`'s READY order, which the database keeps them for until `until`
  // (ready extends the holds): their locks last at least as long — a lock of the user's gets the
  // later expiry (a sold one keeps none), a lost one is taken again for the user — so the fast path
  // goes on refusing them, and naming them in a 409, after hold.ttl. Another user's lock is left.
  virtual Task<void> extend_for_order(ScheduleId schedule, UserId user, const std::vector<std::string>& seats,
                                      Timestamp until) = 0;
  // The database gave `user` new holds of these seats, whose locks the hold found already theirs
  // (left by a hold of theirs that a parallel release ended, and whose unlock may run any moment):
  // each is set to `user` for a fresh `ttl`, a missing one taken again; another user's is left.
  virtual Task<void> renew_for_new_hold(ScheduleId schedule, UserId user, const std::vector<std::string>& seats,
                                        std::chrono::milliseconds ttl) = 0;
};

}  // namespace ticketing::domain
