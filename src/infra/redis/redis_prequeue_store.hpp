#pragma once
// The pre-queue and the fairness shuffle on Redis (DESIGN.md §6, §15). Per schedule, with the
// queue's `{sid}` hash tag (one Cluster slot; every script touches one schedule's keys):
//   queue:{sid}:pre    ZSET member userId, score arrival sequence (queue:{sid}:seq, shared with
//                      the waiting line) — deleted when the shuffle is applied
//   queue:{sid}:fair   HASH seed (hex, drawn once: HSETNX), opens_at (ms), and after the apply
//                      applied_at (ms), pre_queued, late, order (the sorted MACs, comma-separated);
//                      no expiry until applied, then kept kRevealMemory (the published proof)
// and `queue:prequeue` (SET of schedule ids whose shuffle may still be due) for the worker.
#include "domain/ports/prequeue_store.hpp"
#include "infra/redis/redis_client.hpp"

namespace ticketing::infra::redis {

class RedisPrequeueStore final : public domain::PrequeueStore {
 public:
  explicit RedisPrequeueStore(RedisClient& redis) : redis_(redis) {}

  Task<domain::PrequeueEntry> enter(domain::ScheduleId schedule, domain::UserId user,
                                    domain::Timestamp opens_at) override;
  Task<std::optional<domain::Timestamp>> prequeued(domain::ScheduleId schedule, domain::UserId user) override;
  Task<bool> leave(domain::ScheduleId schedule, domain::UserId user) override;
  Task<std::int64_t> count(domain::ScheduleId schedule) override;
  Task<domain::Digest> ensure_seed(domain::ScheduleId schedule, const domain::Digest& candidate) override;
  Task<domain::FairnessState> state(domain::ScheduleId schedule, bool with_order) override;
  Task<std::vector<domain::UserId>> members(domain::ScheduleId schedule) override;
  Task<domain::ShuffleApplied> apply(domain::ScheduleId schedule, const std::vector<domain::FairnessEntry>& order,
                                     domain::Timestamp now) override;
  Task<std::vector<domain::ScheduleId>> pending_schedules() override;
  Task<void> forget_pending(domain::ScheduleId schedule) override;

  // How long the revealed seed and order stay after the apply.
  static constexpr std::chrono::milliseconds kRevealMemory = std::chrono::hours(24 * 400);

 private:
  RedisClient& redis_;
};

}  // namespace ticketing::infra::redis
