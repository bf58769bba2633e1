#pragma once
// The pre-queue and its shuffle's state (DESIGN.md §6, §15). Every change is atomic in the store
// and safe with any number of instances and workers sharing it.
#include <optional>
#include <string>
#include <vector>

#include "domain/async.hpp"
#include "domain/fairness.hpp"

namespace ticketing::domain {

enum class PrequeueEntry {
  kPrequeued,  // in the pre-queue (new or already there)
  kApplied,    // the shuffle was applied already: the caller joins the waiting line instead
};

class PrequeueStore {
 public:
  virtual ~PrequeueStore() = default;
  // Records the user in the pre-queue unless the shuffle was applied (idempotent, one place per
  // account). `opens_at` is remembered for status answers. Throws SALE_CLOSED for a closed sale.
  virtual Task<PrequeueEntry> enter(ScheduleId schedule, UserId user, Timestamp opens_at) = 0;
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
  // Everyone in the pre-queue now.
  virtual Task<std::vector<UserId>> members(ScheduleId schedule) = 0;
  // Moves the pre-queue into the waiting line in `order` (users who left since are skipped;
  // users who joined since, i.e. after the opening, follow in arrival order) and records the
  // reveal — all in one step, and only if not applied yet.
  virtual Task<ShuffleApplied> apply(ScheduleId schedule, const std::vector<FairnessEntry>& order, Timestamp now) = 0;
  // Schedules with a pre-queue whose shuffle may still be due (for the worker), and forgetting one.
  virtual Task<std::vector<ScheduleId>> pending_schedules() = 0;
  virtual Task<void> forget_pending(ScheduleId schedule) = 0;
};

}  // namespace ticketing::domain
