#include "infra/mysql/seat_layout_cache.hpp"

#include "infra/mysql/row_reader.hpp"

namespace ticketing::infra::mysql {

std::shared_ptr<const SeatLayout> load_seat_layout(MysqlConnection& db, domain::ScheduleId schedule) {
  auto layout = std::make_shared<SeatLayout>();
  const auto rows =
      db.query("SELECT seat_no, section, price FROM seat WHERE schedule_id = ? ORDER BY id", {schedule.value});
  layout->seats.reserve(rows.rows.size());
  for (const auto& row : rows.rows) {
    RowReader read(row);
    auto seat_no = read.text();
    auto section = read.text();
    layout->seats.push_back({std::move(seat_no), std::move(section), read.money()});
  }
  layout->index.reserve(layout->seats.size());
  // Keys view the entries' own strings: `seats` is never resized after this.
  for (std::size_t i = 0; i < layout->seats.size(); ++i) layout->index.emplace(layout->seats[i].seat_no, i);
  return layout;
}

Task<std::shared_ptr<const SeatLayout>> SeatLayoutCache::layout(domain::ScheduleId schedule) {
  {
    std::lock_guard lock(mutex_);
    auto& entry = entries_[schedule.value];
    if (entry.layout && std::chrono::steady_clock::now() - entry.loaded_at < ttl_) co_return entry.layout;
    // While one request reloads an expired layout the others keep using it (a layout is fixed once
    // on sale); only a first load makes them ask the database themselves.
    if (entry.loading) co_return entry.layout;
    entry.loading = true;
  }
  std::shared_ptr<const SeatLayout> loaded;
  try {
    auto work = [schedule](MysqlConnection& db) { return load_seat_layout(db, schedule); };
    loaded = co_await pool_.run(work);
  } catch (...) {
    std::lock_guard lock(mutex_);
    // The next request tries again; an entry with nothing cached goes (ids come from clients).
    if (auto it = entries_.find(schedule.value); it != entries_.end()) {
      if (it->second.layout) {
        it->second.loading = false;
      } else {
        entries_.erase(it);
      }
    }
    throw;
  }
  std::lock_guard lock(mutex_);
  auto& entry = entries_[schedule.value];
  entry.loading = false;
  ++loads_;
  if (loaded->seats.empty()) {
    // Not cached: seats added to an empty schedule show at once, and ids that name no schedule
    // leave nothing behind.
    entries_.erase(schedule.value);
  } else {
    entry.layout = loaded;
    entry.loaded_at = std::chrono::steady_clock::now();
  }
  co_return loaded;
}

std::uint64_t SeatLayoutCache::loads() const {
  std::lock_guard lock(mutex_);
  return loads_;
}

}  // namespace ticketing::infra::mysql
