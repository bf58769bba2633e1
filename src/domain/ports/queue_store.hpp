#pragma once
#include <optional>
#include <vector>

#include "domain/async.hpp"
#include "domain/operator_console.hpp"
#include "domain/queue.hpp"

namespace ticketing::domain {

// Waiting-room state. Every change is atomic in the store (Redis Lua scripts) and safe with any
// number of service instances sharing it.
class QueueStore {
 public:
  virtual ~QueueStore() = default;
  // Joins the queue, or returns the existing place (idempotent). Counts as a heartbeat. Refuses,
  // writing nothing, a waiter's re-enter before its next poll is due (QueueRefusal::kPollTooSoon)
  // and, while arrivals exceed gate.pow_threshold per second, a new arrival without a solution;
  // a solution's challenge id is consumed once, whatever the queue state (kProofOfWorkReused).
  virtual Task<QueuePlace> enter(ScheduleId schedule, UserId user, Timestamp now, const EnterGate& gate) = 0;
  // The current place (a heartbeat for waiters); nullopt when neither waiting nor admitted. A
  // waiter asking before its next poll is due gets QueueRefusal::kPollTooSoon and nothing is written.
  virtual Task<std::optional<QueuePlace>> status(ScheduleId schedule, UserId user, Timestamp now) = 0;
  // After answering a waiter: its next status or re-enter is refused before `allowed_at`; the
  // record is forgotten at `forget_at` (shared by every instance).
  virtual Task<void> pace(ScheduleId schedule, UserId user, Timestamp allowed_at, Timestamp forget_at) {
    (void)schedule, (void)user, (void)allowed_at, (void)forget_at;
    co_return;
  }
  // A pre-queued user's status call (DESIGN.md §15: status calls much faster than advised are 429):
  // the time the last answer allowed the next call from when that is still ahead (nothing is
  // written then); otherwise records `allowed_at` / `forget_at` as pace() does and returns nullopt.
  // The record is the waiter's: a user the opening shuffle moves into the waiting line keeps it.
  virtual Task<std::optional<Timestamp>> pace_prequeued(ScheduleId schedule, UserId user, Timestamp now,
                                                        Timestamp allowed_at, Timestamp forget_at) {
    (void)schedule, (void)user, (void)now, (void)allowed_at, (void)forget_at;
    co_return std::nullopt;
  }
  // Leaves the queue or gives up the slot (revoking the tokens issued for it, also once the user is
  // admitted again). True when the user was there.
  virtual Task<bool> leave(ScheduleId schedule, UserId user, Timestamp now) = 0;
  // True when the user holds a live slot and the token (issued at `token_issued_at`) was not issued
  // for a slot given up since; with `extend`, also extends the slot by the active TTL (activity keeps
  // it). Without it nothing is written (a refused call keeps no slot alive).
  virtual Task<bool> touch_active(ScheduleId schedule, UserId user, Timestamp now, Timestamp token_issued_at,
                                  bool extend) = 0;
  // A purchase made with a token of the slot issued at `slot_token_issued_at` completed: that slot
  // is freed and its tokens revoked — unless the user gave it up already (then the slot they have
  // now, or their waiting place, is a newer one and stays). True when a slot was freed.
  virtual Task<bool> complete_slot(ScheduleId schedule, UserId user, Timestamp now, Timestamp slot_token_issued_at) = 0;
  // Expires lapsed slots, drops abandoned waiters and admits the next waiters in arrival order,
  // within max-active and the shared admission rate.
  virtual Task<AdmissionRound> admit(ScheduleId schedule, Timestamp now) = 0;
  // Schedules that have had a queue (for the admission job).
  virtual Task<std::vector<ScheduleId>> queued_schedules() = 0;
  // Takes a schedule out of queued_schedules() when nobody waits, is pre-queued or holds a slot
  // there; true when it was taken out. Entering (or a waiter's status poll) registers it again.
  virtual Task<bool> retire(ScheduleId /*schedule*/) { co_return false; }
  // Publishes a schedule's sale state and queue settings next to its queue: the next admission
  // round of every instance uses them (PAUSED/CLOSED admit nobody; CLOSED refuses new entries).
  // Controls of an older version than the store's are ignored: of two changes published in the
  // opposite order from their commits, the newer stays.
  virtual Task<void> apply_controls(ScheduleId schedule, const QueueControls& controls) = 0;
  // The same, but only where the store has no controls for the schedule (lost with a flush) or older
  // ones (a publication that failed or was overtaken): the same version is left as it is.
  virtual Task<void> restore_controls(ScheduleId schedule, const QueueControls& controls) {
    co_await apply_controls(schedule, controls);
  }
  // Waiting and admitted counts now, and the measured admission rate (shared by all instances).
  virtual Task<QueueSnapshot> snapshot(ScheduleId schedule) = 0;
};

}  // namespace ticketing::domain
