#pragma once
// The waiting room on Redis (DESIGN.md §6). Per schedule, all keys share the `{sid}` hash tag so a
// schedule lives in one Redis Cluster slot and every script touches one slot:
//   queue:{sid}:waiting    ZSET member userId, score arrival sequence (FIFO order)
//   queue:{sid}:seq        arrival sequence counter
//   queue:{sid}:heartbeat  ZSET member userId, score last poll (ms) — abandoned waiters are dropped
//   queue:{sid}:active     ZSET member userId, score slot expiry (ms)
//   queue:{sid}:stats      HASH tokens/bts (admission token bucket shared by all instances and taken
//                          from by rounds and by arrivals admitted on enter), ts (last round), rate,
//                          held/freed (slots held after the last round; completions per second),
//                          direct (arrivals admitted on enter since the last round),
//                          win_ts/win_seq/pow_until (the arrival-count window; proof of work required until)
//   queue:{sid}:pace:<uid> when the waiter's next poll is accepted (ms; expires with the advice)
//   queue:{sid}:pow:<id>   a used proof-of-work challenge id, until the challenge expires
//   queue:{sid}:settings   HASH state (OPEN|PAUSED|CLOSED), max_active, admit_per_second, version
//                          (schedule.controls_version): the console's per-schedule controls, read
//                          by every admission round; only ever replaced by a newer version
// and `queue:schedules` (SET of schedule ids with a queue) for the admission job; retire() takes an
// idle schedule (no waiting, active or pre-queued key) out of it.
#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "domain/ports/queue_store.hpp"
#include "infra/redis/redis_client.hpp"

namespace ticketing::infra::redis {

class RedisQueueStore final : public domain::QueueStore {
 public:
  RedisQueueStore(RedisClient& redis, domain::QueuePolicy policy);

  Task<domain::QueuePlace> enter(domain::ScheduleId schedule, domain::UserId user, domain::Timestamp now,
                                 const domain::EnterGate& gate) override;
  Task<std::optional<domain::QueuePlace>> status(domain::ScheduleId schedule, domain::UserId user,
                                                 domain::Timestamp now) override;
  Task<std::optional<domain::Timestamp>> pace_prequeued(domain::ScheduleId schedule, domain::UserId user,
                                                        domain::Timestamp now, domain::Timestamp allowed_at,
                                                        domain::Timestamp forget_at) override;
  Task<void> pace(domain::ScheduleId schedule, domain::UserId user, domain::Timestamp allowed_at,
                  domain::Timestamp forget_at) override;
  Task<bool> leave(domain::ScheduleId schedule, domain::UserId user, domain::Timestamp now) override;
  Task<bool> complete_slot(domain::ScheduleId schedule, domain::UserId user, domain::Timestamp now,
                           domain::Timestamp slot_token_issued_at) override;
  Task<bool> touch_active(domain::ScheduleId schedule, domain::UserId user, domain::Timestamp now,
                          domain::Timestamp token_issued_at, bool extend) override;
  Task<domain::AdmissionRound> admit(domain::ScheduleId schedule, domain::Timestamp now) override;
  Task<std::vector<domain::ScheduleId>> queued_schedules() override;
  Task<bool> retire(domain::ScheduleId schedule) override;
  Task<void> apply_controls(domain::ScheduleId schedule, const domain::QueueControls& controls) override;
  Task<void> restore_controls(domain::ScheduleId schedule, const domain::QueueControls& controls) override;
  Task<domain::QueueSnapshot> snapshot(domain::ScheduleId schedule) override;

  static std::string key(domain::ScheduleId schedule, std::string_view suffix);
  static std::string pace_key(domain::ScheduleId schedule, domain::UserId user);

 private:
  Task<void> register_schedule(domain::ScheduleId schedule);
  Task<bool> idle(domain::ScheduleId schedule);
  Task<void> write_controls(domain::ScheduleId schedule, const domain::QueueControls& controls, bool restoring);
  Task<std::optional<domain::QueuePlace>> place(domain::ScheduleId schedule, domain::UserId user, domain::Timestamp now,
                                                bool join, const domain::EnterGate& gate);
  Task<bool> run_slot_script(const RedisScript& script, std::string_view name, domain::ScheduleId schedule,
                             domain::UserId user, domain::Timestamp now, std::int64_t third,
                             domain::Timestamp token_issued_at);
  // The ETA's held-slot expiries (the first 256 of a schedule) are read at most once per
  // kExpiryCopyTtl per instance; every waiter's answer in between uses that copy.
  bool fresh_expiries(domain::ScheduleId schedule, std::chrono::steady_clock::time_point now);
  void outlook_expiries(domain::ScheduleId schedule, domain::AdmissionOutlook& outlook, bool read,
                        std::chrono::steady_clock::time_point read_at);

  RedisClient& redis_;
  domain::QueuePolicy policy_;
  std::mutex registered_mutex_;
  // Per schedule, the newer Redis controls version the restore last warned about.
  std::mutex newer_controls_mutex_;
  std::unordered_map<std::int64_t, std::string> newer_controls_;
  // When this instance last registered each schedule; at most kMaxRegistered entries (older than
  // the refresh interval they mean nothing and are dropped first).
  std::unordered_map<std::int64_t, std::chrono::steady_clock::time_point> registered_;
  static constexpr std::size_t kMaxRegistered = 10'000;

  struct ExpiryCopy {
    std::chrono::steady_clock::time_point read_at;
    std::vector<domain::Timestamp> expiries;
  };
  static constexpr std::chrono::milliseconds kExpiryCopyTtl{200};
  std::mutex expiries_mutex_;
  std::unordered_map<std::int64_t, ExpiryCopy> expiries_;  // by schedule; at most kMaxRegistered
};

}  // namespace ticketing::infra::redis
