#include "infra/mysql/mysql_catalog_repository.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <stdexcept>

#include "infra/mysql/row_reader.hpp"

namespace ticketing::infra::mysql {

using domain::Concert;
using domain::Schedule;
using domain::SeatMap;
using domain::SeatMapEntry;
using domain::SeatStatus;

namespace {

// The columns schedule_of reads, in order (prefix `s.`).
constexpr std::string_view kScheduleColumns =
    "s.id, s.concert_id, s.show_at, s.booking_opens_at, s.prequeue_opens_at, s.sale_state, s.max_active, "
    "s.admit_per_second, s.max_seats_per_user, s.venue_id, s.controls_version";

Schedule schedule_of(RowReader& read) {
  Schedule schedule{domain::ScheduleId{read.int64()}, domain::ConcertId{read.int64()}, read.timestamp(),
                    read.timestamp()};
  schedule.prequeue_opens_at = read.optional_timestamp();
  schedule.sale_state = domain::sale_state_from(read.text()).value_or(domain::SaleState::kOpen);
  schedule.settings.max_active = read.optional_int64();
  schedule.settings.admit_per_second = read.optional_int64();
  schedule.settings.max_seats_per_user = read.optional_int64();
  if (const auto venue = read.optional_int64()) schedule.venue = domain::VenueId{*venue};
  schedule.controls_version = read.int64();
  return schedule;
}

std::string schedule_select(std::string_view tail) {
  return "SELECT " + std::string(kScheduleColumns) + " FROM schedule s " + std::string(tail);
}

// `cached`, or the layout read now when nothing is cached; nullptr when it is empty because no such
// schedule exists (an existing schedule may have no seats yet).
std::shared_ptr<const SeatLayout> layout_of_existing(MysqlConnection& db, domain::ScheduleId schedule,
                                                     std::shared_ptr<const SeatLayout> cached) {
  auto layout = cached ? std::move(cached) : load_seat_layout(db, schedule);
  if (layout->seats.empty() && db.query("SELECT 1 FROM schedule WHERE id = ?", {schedule.value}).rows.empty()) {
    return nullptr;
  }
  return layout;
}

}  // namespace

std::optional<Schedule> load_schedule(MysqlConnection& db, domain::ScheduleId schedule) {
  const auto result = db.query(schedule_select("WHERE s.id = ?"), {schedule.value});
  if (result.rows.empty()) return std::nullopt;
  RowReader read(result.rows[0]);
  return schedule_of(read);
}

Task<std::vector<Concert>> MysqlCatalogRepository::list_concerts() {
  auto work = [](MysqlConnection& db) {
    std::vector<Concert> concerts;
    for (const auto& row : db.query("SELECT id, title, description, created_at FROM concert ORDER BY id").rows) {
      concerts.push_back(
          Concert{domain::ConcertId{to_int64(row[0])}, to_string(row[1]), to_string(row[2]), to_timestamp(row[3])});
    }
    return concerts;
  };
  co_return co_await pool_.run(work);
}

Task<std::optional<std::vector<Schedule>>> MysqlCatalogRepository::list_schedules(domain::ConcertId concert) {
  auto work = [concert](MysqlConnection& db) -> std::optional<std::vector<Schedule>> {
    // One round trip: the concert row (to tell "no schedules" from "no concert") and its schedules.
    const auto result = db.query(
        "SELECT c.id, " + std::string(kScheduleColumns) +
            " FROM concert c LEFT JOIN schedule s ON s.concert_id = c.id WHERE c.id = ? ORDER BY s.show_at, s.id",
        {concert.value});
    if (result.rows.empty()) return std::nullopt;
    std::vector<Schedule> schedules;
    for (const auto& row : result.rows) {
      if (!row[1]) continue;
      RowReader read(row);
      read.int64();  // c.id
      schedules.push_back(schedule_of(read));
    }
    return schedules;
  };
  co_return co_await pool_.run(work);
}

Task<std::optional<Schedule>> MysqlCatalogRepository::find_schedule(domain::ScheduleId schedule) {
  std::uint64_t forgets_before = 0;
  {
    std::lock_guard lock(cache_mutex_);
    const auto it = schedule_cache_.find(schedule.value);
    if (it != schedule_cache_.end() && std::chrono::steady_clock::now() - it->second.loaded_at < schedule_cache_ttl_) {
      co_return it->second.schedule;
    }
    forgets_before = forgets_;
  }
  auto work = [schedule](MysqlConnection& db) { return load_schedule(db, schedule); };
  auto found = co_await pool_.run(work);
  if (found) {
    std::lock_guard lock(cache_mutex_);
    // A read that began before an operator's change may hold the old settings: not kept.
    if (forgets_ == forgets_before) {
      schedule_cache_[schedule.value] = CachedSchedule{*found, std::chrono::steady_clock::now()};
    }
  }
  co_return found;
}

void MysqlCatalogRepository::forget_schedule(domain::ScheduleId schedule) {
  std::lock_guard lock(cache_mutex_);
  schedule_cache_.erase(schedule.value);
  ++forgets_;
}

Task<std::optional<SeatMap>> MysqlCatalogRepository::seat_map(domain::ScheduleId schedule) {
  // Joined with the reservations in one query this was 25 ms per map of 10,000 seats (a
  // primary-key lookup per seat on each side); the layout comes from the cache instead and the
  // live rows are one range read (8 ms).
  std::shared_ptr<const SeatLayout> cached = co_await layouts_.layout(schedule);
  struct Read {
    std::shared_ptr<const SeatLayout> layout;
    std::vector<SeatStatus> statuses;  // by position in the layout
  };
  auto work = [schedule, cached](MysqlConnection& db) -> std::optional<Read> {
    Read read{layout_of_existing(db, schedule, cached), {}};  // cached nullptr: another request loads it
    if (!read.layout) return std::nullopt;
    // The live reservation (active = 1) decides the status; a stale hold is already available
    // even before the expiry job flips it — stale as domain::hold_is_stale says: past its expiry
    // and not kept by its order (READY and unexpired, or CONFIRMING).
    const auto live = db.query(
        "SELECT r.seat_no, CASE WHEN r.status = 'CONFIRMED' THEN 'S' "
        "WHEN r.status = 'HELD' AND (r.expires_at > UTC_TIMESTAMP(3) OR EXISTS (SELECT 1 FROM payment_order o "
        "WHERE o.id = r.payment_order_id AND (o.status = 'CONFIRMING' OR (o.status = 'READY' AND "
        "o.expires_at > UTC_TIMESTAMP(3))))) THEN 'H' ELSE 'A' END "
        "FROM reservation r WHERE r.schedule_id = ? AND r.active = 1",
        {schedule.value});
    read.statuses.assign(read.layout->seats.size(), SeatStatus::kAvailable);
    for (const auto& row : live.rows) {
      if (!row[0] || !row[1]) continue;
      const auto at = read.layout->index.find(std::string_view(*row[0]));
      if (at == read.layout->index.end()) continue;
      if (*row[1] == "S") read.statuses[at->second] = SeatStatus::kSold;
      if (*row[1] == "H") read.statuses[at->second] = SeatStatus::kHeld;
    }
    return read;
  };
  auto read = co_await pool_.run(work);
  if (!read) co_return std::nullopt;
  SeatMap map{schedule, {}};
  map.seats.reserve(read->layout->seats.size());
  for (std::size_t i = 0; i < read->layout->seats.size(); ++i) {
    const auto& seat = read->layout->seats[i];
    map.seats.push_back(SeatMapEntry{seat.seat_no, seat.section, seat.price, read->statuses[i]});
  }
  co_return map;
}

Task<domain::SeatLayoutSeats> MysqlCatalogRepository::seat_layout(domain::ScheduleId schedule) {
  std::shared_ptr<const SeatLayout> cached = co_await layouts_.layout(schedule);
  // Another request is making the first load (a restart just before a sale: every fan's map at
  // once): this read needs all of it too, so it waits for that load instead of reading the same
  // 10,000 rows again, for up to a second, then loads it itself.
  if (!cached) {
    const auto executor = co_await boost::asio::this_coro::executor;  // named: GCC 12 and co_await temporaries
    boost::asio::steady_timer timer(executor);
    for (int waits = 0; !cached && waits < 50; ++waits) {
      timer.expires_after(std::chrono::milliseconds(20));
      co_await timer.async_wait(boost::asio::use_awaitable);
      cached = co_await layouts_.layout(schedule);
    }
  }
  if (cached && !cached->seats.empty()) co_return domain::SeatLayoutSeats(cached, &cached->seats);
  // Not cached (another request is loading it), or empty: is there such a schedule at all?
  auto work = [schedule, cached](MysqlConnection& db) { return layout_of_existing(db, schedule, cached); };
  const std::shared_ptr<const SeatLayout> layout = co_await pool_.run(work);
  if (!layout) co_return nullptr;
  co_return domain::SeatLayoutSeats(layout, &layout->seats);
}

Task<std::vector<domain::PriceTier>> MysqlCatalogRepository::price_tiers(domain::ScheduleId schedule) {
  // From the layout cache (the seat map's): a concert page lists every date's tiers.
  if (const std::shared_ptr<const SeatLayout> layout = co_await layouts_.layout(schedule)) {
    std::vector<domain::SeatPrice> seats;
    seats.reserve(layout->seats.size());
    for (const auto& seat : layout->seats) seats.push_back({seat.section, seat.price});
    co_return domain::price_tiers(seats);
  }
  // Another request is loading the layout: just the distinct section and price pairs.
  auto work = [schedule](MysqlConnection& db) {
    const auto rows = db.query("SELECT DISTINCT section, price FROM seat WHERE schedule_id = ?", {schedule.value});
    std::vector<std::string> sections;
    sections.reserve(rows.rows.size());
    std::vector<domain::SeatPrice> seats;
    seats.reserve(rows.rows.size());
    for (const auto& row : rows.rows) sections.push_back(RowReader(row).text());
    for (std::size_t i = 0; i < rows.rows.size(); ++i) {
      RowReader read(rows.rows[i]);
      read.text();
      seats.push_back({sections[i], read.money()});
    }
    return domain::price_tiers(seats);
  };
  co_return co_await pool_.run(work);
}

}  // namespace ticketing::infra::mysql
