#pragma once
// The one cache of schedules' seat layouts (seat numbers, sections, prices). A layout is fixed
// once a schedule is on sale, and is read by every seat-map request and every hold's existence
// check, so it is loaded once per `ttl` per schedule by one request at a time.
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "domain/async.hpp"
#include "domain/catalog.hpp"
#include "domain/ids.hpp"
#include "domain/money.hpp"
#include "infra/mysql/mysql_pool.hpp"

namespace ticketing::infra::mysql {

using SeatLayoutEntry = domain::ScheduleSeat;

struct SeatLayout {
  std::vector<SeatLayoutEntry> seats;                       // in seat id order
  std::unordered_map<std::string_view, std::size_t> index;  // seat_no → position in `seats`

  const SeatLayoutEntry* find(std::string_view seat_no) const {
    const auto it = index.find(seat_no);
    return it == index.end() ? nullptr : &seats[it->second];
  }
};

// Reads a schedule's seats in seat id order (empty when it has none or does not exist).
std::shared_ptr<const SeatLayout> load_seat_layout(MysqlConnection& db, domain::ScheduleId schedule);

class SeatLayoutCache {
 public:
  explicit SeatLayoutCache(MysqlPool& pool, std::chrono::milliseconds ttl = std::chrono::seconds(60))
      : pool_(pool), ttl_(ttl) {}

  // The cached layout, or a fresh load when none is cached or it is older than `ttl` (while one
  // request reloads it, the others get the old one). nullptr while another request makes the
  // first load: the caller then asks the database for just what it needs (loading 10,000 rows
  // for each of a thousand first-second holds is what made a sale's first second slow). An empty
  // layout (a schedule with no seats yet, or none at all) is returned but not cached. Loads run on
  // the pool given here; DependencyUnavailable when it cannot.
  Task<std::shared_ptr<const SeatLayout>> layout(domain::ScheduleId schedule);

  std::uint64_t loads() const;

 private:
  struct Entry {
    std::shared_ptr<const SeatLayout> layout;
    std::chrono::steady_clock::time_point loaded_at;
    bool loading = false;
  };
  MysqlPool& pool_;
  std::chrono::milliseconds ttl_;
  mutable std::mutex mutex_;
  std::unordered_map<std::int64_t, Entry> entries_;
  std::uint64_t loads_ = 0;
};

}  // namespace ticketing::infra::mysql
