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
#include "infra/mysql/seat_layout_cache.hpp"

namespace ticketing::infra::mysql {

class MysqlReservationRepository final : public domain::ReservationRepository {
 public:
  MysqlReservationRepository(MysqlPool& pool, SeatLayoutCache& layouts) : pool_(pool), layouts_(layouts) {}

  Task<std::vector<std::string>> missing_seats(domain::ScheduleId schedule,
                                               const std::vector<std::string>& seats) override;
  Task<domain::HoldOutcome> hold(domain::ScheduleId schedule, domain::UserId user,
                                 const std::vector<std::string>& seats, domain::Timestamp now,
                                 domain::Timestamp expires_at, int max_seats_per_user) override;
  Task<domain::ReleaseOutcome> release(domain::ScheduleId schedule, domain::UserId user,
                                       const std::vector<std::string>& seats, domain::Timestamp now) override;
  Task<domain::ExpiryOutcome> expire_holds(domain::Timestamp now, int batch) override;

 private:
  MysqlPool& pool_;
  SeatLayoutCache& layouts_;                // the hold path's existence check
  std::atomic<int> autoinc_lock_mode_{-1};  // the server's innodb_autoinc_lock_mode, read once
  // Per schedule and limit: may the hold be a single INSERT (every live row's seat slot within
  // 1..max)? Bounded: forgotten wholesale past 4,096 schedules (a re-check is one query).
  class FastPathChecks {
   public:
    bool known(domain::ScheduleId schedule, int max) const {
      std::lock_guard lock(mutex_);
      const auto it = checks_.find(schedule.value);
      return it != checks_.end() && it->second.first == max;
    }
    bool safe(domain::ScheduleId schedule, int max) const {
      std::lock_guard lock(mutex_);
      const auto it = checks_.find(schedule.value);
      return it != checks_.end() && it->second.first == max && it->second.second;
    }
    void remember(domain::ScheduleId schedule, int max, bool safe) {
      std::lock_guard lock(mutex_);
      if (checks_.size() >= 4096) checks_.clear();
      checks_[schedule.value] = {max, safe};
    }

   private:
    mutable std::mutex mutex_;
    std::unordered_map<std::int64_t, std::pair<int, bool>> checks_;
  };
  FastPathChecks fast_path_;
};

}  // namespace ticketing::infra::mysql
