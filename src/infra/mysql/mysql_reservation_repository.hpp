#pragma once
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "domain/ports/reservation_repository.hpp"
#include "infra/mysql/mysql_pool.hpp"

namespace ticketing::infra::mysql {

class MysqlReservationRepository final : public domain::ReservationRepository {
 public:
  explicit MysqlReservationRepository(MysqlPool& pool) : pool_(pool) {}

  Task<std::vector<std::string>> missing_seats(domain::ScheduleId schedule,
                                               const std::vector<std::string>& seats) override;
  Task<domain::HoldOutcome> hold(domain::ScheduleId schedule, domain::UserId user,
                                 const std::vector<std::string>& seats, domain::Timestamp now,
                                 domain::Timestamp expires_at, int max_seats_per_user) override;
  Task<domain::ReleaseOutcome> release(domain::ScheduleId schedule, domain::UserId user,
                                       const std::vector<std::string>& seats, domain::Timestamp now) override;
  Task<std::int64_t> expire_holds(domain::Timestamp now, int batch) override;

 private:
  using SeatSet = std::unordered_set<std::string>;
  struct CachedSeats {
    std::shared_ptr<const SeatSet> seats;
    std::chrono::steady_clock::time_point loaded_at;
  };

  MysqlPool& pool_;
  std::atomic<int> autoinc_lock_mode_{-1};  // the server's innodb_autoinc_lock_mode, read once
  std::mutex seats_mutex_;
  // Seat numbers per schedule: static after seeding, read on every hold.
  std::unordered_map<std::int64_t, CachedSeats> seats_cache_;
};

}  // namespace ticketing::infra::mysql
