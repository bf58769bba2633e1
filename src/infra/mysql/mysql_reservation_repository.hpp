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

  // Full loads of a schedule's seat set (the hold path's existence check); one per cache period.
  std::uint64_t seat_set_loads() const { return seat_set_loads_.load(std::memory_order_relaxed); }

 private:
  using SeatSet = std::unordered_set<std::string>;
  struct CachedSeats {
    std::shared_ptr<const SeatSet> seats;
    std::chrono::steady_clock::time_point loaded_at;
    bool loading = false;  // one request reloads the set; the others check their seats directly
  };

  MysqlPool& pool_;
  std::atomic<std::uint64_t> seat_set_loads_{0};
  std::atomic<int> autoinc_lock_mode_{-1};  // the server's innodb_autoinc_lock_mode, read once
  std::mutex seats_mutex_;
  // Seat numbers per schedule: static after seeding, read on every hold.
  std::unordered_map<std::int64_t, CachedSeats> seats_cache_;
};

}  // namespace ticketing::infra::mysql
