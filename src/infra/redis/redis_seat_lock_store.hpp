#pragma once
// Seat locks `seat:lock:{sid}:{seatNo}` = userId with PX = hold.ttl (DESIGN.md §6); no expiry once sold. The `{sid}`
// hash tag keeps every seat of a schedule in one Redis Cluster slot, so one script can take them all.
#include "domain/ports/seat_lock_store.hpp"
#include "infra/redis/redis_client.hpp"

namespace ticketing::infra::redis {

class RedisSeatLockStore final : public domain::SeatLockStore {
 public:
  explicit RedisSeatLockStore(RedisClient& redis) : redis_(redis) {}

  Task<domain::SeatLockResult> lock(domain::ScheduleId schedule, domain::UserId user,
                                    const std::vector<std::string>& seats, std::chrono::milliseconds ttl) override;
  Task<void> unlock(domain::ScheduleId schedule, domain::UserId user, const std::vector<std::string>& seats) override;
  Task<void> mark_sold(domain::ScheduleId schedule, domain::UserId user,
                       const std::vector<std::string>& seats) override;
  Task<void> renew_for_new_hold(domain::ScheduleId schedule, domain::UserId user, const std::vector<std::string>& seats,
                                std::chrono::milliseconds ttl) override;
  Task<void> extend_for_order(domain::ScheduleId schedule, domain::UserId user, const std::vector<std::string>& seats,
                              domain::Timestamp until) override;

  static std::string key(domain::ScheduleId schedule, std::string_view seat_no);

 private:
  static std::vector<std::string> keys(domain::ScheduleId schedule, const std::vector<std::string>& seats);
  // Runs `script` over the seats' locks with ARGV = {user} or, given a second argument, {user,
  // second_arg}; `name` goes into the error message.
  Task<void> run_for_owner(const RedisScript& script, std::string_view name, domain::ScheduleId schedule,
                           domain::UserId user, const std::vector<std::string>& seats,
                           std::string_view second_arg = {});

  RedisClient& redis_;
};

}  // namespace ticketing::infra::redis
