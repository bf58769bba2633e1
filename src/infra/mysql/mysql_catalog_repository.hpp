#pragma once
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "domain/ports/catalog_repository.hpp"
#include "infra/mysql/mysql_pool.hpp"
#include "infra/mysql/seat_layout_cache.hpp"

namespace ticketing::infra::mysql {

// A schedule row with its sale state and settings (nullopt: no such schedule). Shared with the
// operator repository, so both read a schedule the same way.
std::optional<domain::Schedule> load_schedule(MysqlConnection& db, domain::ScheduleId schedule);

class MysqlCatalogRepository final : public domain::CatalogRepository {
 public:
  // Schedules are read on every queue enter and almost never change: found schedules are cached
  // for `schedule_cache_ttl` (missing ones are not, so a new schedule is visible at once). Seat
  // layouts come from the shared SeatLayoutCache; the seats' statuses are always read live.
  MysqlCatalogRepository(MysqlPool& pool, SeatLayoutCache& layouts,
                         std::chrono::milliseconds schedule_cache_ttl = std::chrono::seconds(5))
      : pool_(pool), layouts_(layouts), schedule_cache_ttl_(schedule_cache_ttl) {}

  Task<std::vector<domain::Concert>> list_concerts() override;
  Task<std::optional<std::vector<domain::Schedule>>> list_schedules(domain::ConcertId concert) override;
  Task<std::optional<domain::Schedule>> find_schedule(domain::ScheduleId schedule) override;
  void forget_schedule(domain::ScheduleId schedule) override;
  Task<std::optional<domain::SeatMap>> seat_map(domain::ScheduleId schedule) override;
  Task<domain::SeatLayoutSeats> seat_layout(domain::ScheduleId schedule) override;
  Task<std::vector<domain::PriceTier>> price_tiers(domain::ScheduleId schedule) override;

 private:
  struct CachedSchedule {
    domain::Schedule schedule;
    std::chrono::steady_clock::time_point loaded_at;
  };
  MysqlPool& pool_;
  SeatLayoutCache& layouts_;
  std::chrono::milliseconds schedule_cache_ttl_;
  std::mutex cache_mutex_;
  std::unordered_map<std::int64_t, CachedSchedule> schedule_cache_;
  std::uint64_t forgets_ = 0;  // under cache_mutex_: a load that began before a forget is not cached
};

}  // namespace ticketing::infra::mysql
