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
};

}  // namespace ticketing::infra::mysql
