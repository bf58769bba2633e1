#pragma once
// The pre-queue and its shuffle's state (DESIGN.md §6, §15). Every change is atomic in the store
// and safe with any number of instances and workers sharing it.
#include <optional>
#include <string>
#include <vector>

#include "domain/async.hpp"
#include "domain/fairness.hpp"

namespace ticketing::domain {

// Who is in the pre-queue, as read at one moment: `last_arrival` is the highest arrival sequence
// among them, so anyone who joined after the read (a higher sequence) is known to be late.
struct PrequeueSnapshot {
  std::vector<UserId> users;
  std::int64_t last_arrival = 0;
};

enum class PrequeueEntry {
  kPrequeued,  // in the pre-queue (new or already there)
  kApplied,    // the shuffle was applied already: the caller joins the waiting line instead
};

class PrequeueStore {
 public:
  virtual ~PrequeueStore() = default;
  // Records the user in the pre-queue unless the shuffle was applied (idempotent, one place per
  // account). `opens_at` is remembered for status answers. `late`: the opening has passed (the
  // shuffle is being applied): the user waits in the pre-queue but is not shuffled — the apply
  // queues them behind, in arrival order. Throws SALE_CLOSED for a closed sale.
  virtual Task<PrequeueEntry> enter(ScheduleId schedule, UserId user, Timestamp opens_at, bool late) = 0;
  // When the user is in the pre-queue: the opening time it waits for.
  virtual Task<std::optional<Timestamp>> prequeued(ScheduleId schedule, UserId user) = 0;
  // Removes the user from the pre-queue; true when they were there.
  virtual Task<bool> leave(ScheduleId schedule, UserId user) = 0;
  virtual Task<std::int64_t> count(ScheduleId schedule) = 0;
  // Stores `candidate` as the schedule's seed unless one exists; returns the stored one. The
  // schedule is then pending (its shuffle, possibly of nobody, is applied at the opening).
  virtual Task<Digest> ensure_seed(ScheduleId schedule, const Digest& candidate) = 0;
  // The shuffle's state; the order list only when `with_order`.
  virtual Task<FairnessState> state(ScheduleId schedule, bool with_order) = 0;
  // Everyone in the pre-queue now who is to be shuffled (not the late ones).
  virtual Task<PrequeueSnapshot> members(ScheduleId schedule) = 0;
  // Moves the pre-queue into the waiting line in `order` (the users of a snapshot whose last
  // arrival was `last_arrival`; those who left since are skipped, those who joined since — after
  // the opening — follow in arrival order) and records the reveal: all in one step, and only if not
  // applied yet.
  virtual Task<ShuffleApplied> apply(ScheduleId schedule, const std::vector<FairnessEntry>& order,
                                     std::int64_t last_arrival, Timestamp now) = 0;
  // Schedules with a pre-queue whose shuffle may still be due (for the worker), and forgetting one.
  virtual Task<std::vector<ScheduleId>> pending_schedules() = 0;
  virtual Task<void> forget_pending(ScheduleId schedule) = 0;
};

}  // namespace ticketing::domain
