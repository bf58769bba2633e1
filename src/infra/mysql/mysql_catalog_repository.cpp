#include "infra/mysql/mysql_catalog_repository.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "infra/mysql/row_reader.hpp"

namespace ticketing::infra::mysql {

using domain::Concert;
using domain::Schedule;
using domain::SeatMap;
using domain::SeatMapEntry;
using domain::SeatStatus;

Task<std::vector<Concert>> MysqlCatalogRepository::list_concerts() {
  auto work = [](MysqlConnection& db) {
    std::vector<Concert> concerts;
    for (const auto& row : db.query("SELECT id, title, description, created_at FROM concert ORDER BY id").rows) {
      concerts.push_back(Concert{domain::ConcertId{to_int64(row[0])}, to_string(row[1]), to_string(row[2]),
                                 to_timestamp(row[3])});
    }
    return concerts;
  };
  co_return co_await pool_.run(work);
}

Task<std::optional<std::vector<Schedule>>> MysqlCatalogRepository::list_schedules(domain::ConcertId concert) {
  auto work = [concert](MysqlConnection& db) -> std::optional<std::vector<Schedule>> {
    // One round trip: the concert row (to tell "no schedules" from "no concert") and its schedules.
    const auto result = db.query(fmt::format(
        "SELECT c.id, s.id, s.show_at, s.booking_opens_at FROM concert c "
        "LEFT JOIN schedule s ON s.concert_id = c.id WHERE c.id = {} ORDER BY s.show_at, s.id",
        concert.value));
    if (result.rows.empty()) return std::nullopt;
    std::vector<Schedule> schedules;
    for (const auto& row : result.rows) {
      if (!row[1]) continue;
      schedules.push_back(Schedule{domain::ScheduleId{to_int64(row[1])}, concert, to_timestamp(row[2]),
                                   to_timestamp(row[3])});
    }
    return schedules;
  };
  co_return co_await pool_.run(work);
}

Task<std::optional<Schedule>> MysqlCatalogRepository::find_schedule(domain::ScheduleId schedule) {
  {
    std::lock_guard lock(cache_mutex_);
    const auto it = schedule_cache_.find(schedule.value);
    if (it != schedule_cache_.end() && std::chrono::steady_clock::now() - it->second.loaded_at < schedule_cache_ttl_) {
      co_return it->second.schedule;
    }
  }
  auto work = [schedule](MysqlConnection& db) -> std::optional<Schedule> {
    const auto result = db.query(fmt::format(
        "SELECT id, concert_id, show_at, booking_opens_at FROM schedule WHERE id = {}", schedule.value));
    if (result.rows.empty()) return std::nullopt;
    const auto& row = result.rows[0];
    return Schedule{domain::ScheduleId{to_int64(row[0])}, domain::ConcertId{to_int64(row[1])}, to_timestamp(row[2]),
                    to_timestamp(row[3])};
  };
  auto found = co_await pool_.run(work);
  if (found) {
    std::lock_guard lock(cache_mutex_);
    schedule_cache_[schedule.value] = CachedSchedule{*found, std::chrono::steady_clock::now()};
  }
  co_return found;
}

Task<std::optional<SeatMap>> MysqlCatalogRepository::seat_map(domain::ScheduleId schedule) {
  auto work = [schedule](MysqlConnection& db) -> std::optional<SeatMap> {
    // One query for the whole map: the live reservation (active = 1) decides the status; a HELD
    // row past its expiry is already available even before the expiry job flips it.
    const auto result = db.query(fmt::format(
        "SELECT s.seat_no, s.section, s.price, "
        "CASE WHEN r.status = 'CONFIRMED' THEN 'S' "
        "     WHEN r.status = 'HELD' AND r.expires_at > UTC_TIMESTAMP(3) THEN 'H' ELSE 'A' END "
        "FROM seat s LEFT JOIN reservation r "
        "  ON r.schedule_id = s.schedule_id AND r.seat_no = s.seat_no AND r.active = 1 "
        "WHERE s.schedule_id = {} ORDER BY s.id",
        schedule.value));
    if (result.rows.empty()) {
      const auto exists = db.query(fmt::format("SELECT 1 FROM schedule WHERE id = {}", schedule.value));
      if (exists.rows.empty()) return std::nullopt;
    }
    SeatMap map{schedule, {}};
    map.seats.reserve(result.rows.size());
    for (const auto& row : result.rows) {
      const std::string status = to_string(row[3]);
      map.seats.push_back(SeatMapEntry{to_string(row[0]), to_string(row[1]), to_money(row[2]),
                                       status == "S"   ? SeatStatus::kSold
                                       : status == "H" ? SeatStatus::kHeld
                                                       : SeatStatus::kAvailable});
    }
    return map;
  };
  co_return co_await pool_.run(work);
}

}  // namespace ticketing::infra::mysql
