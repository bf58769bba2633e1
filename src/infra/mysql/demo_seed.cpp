#include "infra/mysql/demo_seed.hpp"

#include <array>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "domain/operator_console.hpp"
#include "infra/mysql/mysql_operator_repository.hpp"

namespace ticketing::infra::mysql {
namespace {

constexpr int kBatchRows = 2000;

// Appends rows to a multi-row INSERT (bound parameters, `columns` per row) and flushes every
// kBatchRows rows: seconds, not minutes.
class BatchInsert {
 public:
  BatchInsert(MysqlConnection& connection, std::string head, std::size_t columns)
      : connection_(connection), head_(std::move(head)) {
    row_ += '(';  // not "(" + ...: GCC 12 reports a false -Wrestrict on operator+(const char*, string&&)
    row_ += placeholders(columns);
    row_ += ')';
  }
  void add(std::initializer_list<Param> row) {
    params_.insert(params_.end(), row);
    if (++rows_ == kBatchRows) flush();
  }
  void flush() {
    if (rows_ == 0) return;
    std::string sql = head_;
    for (int i = 0; i < rows_; ++i) {
      if (i > 0) sql += ',';
      sql += row_;
    }
    connection_.execute(sql, params_);
    params_.clear();
    rows_ = 0;
  }

 private:
  MysqlConnection& connection_;
  std::string head_;
  std::string row_;
  Params params_;
  int rows_ = 0;
};

struct VenueSeed {
  std::string_view name;
  int sections;
  int seats_per_section;
};

struct ScheduleSeed {
  int concert;  // index into the concerts
  int venue;    // index into the venues
  int show_in_days;
  int opens_in_days;  // negative: already open
};

// Front sections cost more: VIP, R and S tiers.
std::pair<std::string, std::string> tier_of_section(int section_index, int sections) {
  if (section_index < sections / 5) return {"VIP", "150.00"};
  if (section_index < sections / 2) return {"R", "110.00"};
  return {"S", "80.00"};
}

// The venue as an operator would import it (one CSV line per section, numbered per section: "A-12"),
// expanded and validated by the same domain::build_layout as POST /admin/venues.
domain::VenueLayout demo_layout(const VenueSeed& venue) {
  std::vector<domain::SeatRun> runs;
  for (int section = 0; section < venue.sections; ++section) {
    const std::string letter(1, static_cast<char>('A' + section));
    auto [tier, price] = tier_of_section(section, venue.sections);
    runs.push_back(domain::SeatRun{"section " + letter, letter, "", 1, venue.seats_per_section, std::move(tier),
                                   std::move(price)});
  }
  return domain::build_layout(runs);
}

// `days` after today's midnight (UTC), at `hour` o'clock.
domain::Timestamp days_from_today(int days, int hour) {
  const auto today = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
  return std::chrono::time_point_cast<std::chrono::milliseconds>(today + std::chrono::days(days) +
                                                                 std::chrono::hours(hour));
}

}  // namespace

SeedReport seed_demo_data(MysqlConnection& connection, const SeedOptions& options) {
  SeedReport report;
  const std::string& hash = options.password_hash;
  const auto existing = connection.query("SELECT COUNT(*) FROM concert");
  if (!existing.rows.empty() && existing.rows[0][0].value_or("0") != "0") {
    // Seeded before accounts had passwords: the demo users get the demo password now.
    connection.execute(
        "UPDATE user_account SET password_hash = ? WHERE password_hash IS NULL AND email LIKE 'user%@example.com'",
        {hash});
    report.skipped = true;
    return report;
  }

  Transaction tx(connection);
  // One hash for everyone, computed once: 100k Argon2 runs would take minutes.
  BatchInsert users(connection, "INSERT INTO user_account (id, email, name, password_hash) VALUES ", 4);
  for (int i = 1; i <= options.users; ++i) {
    const std::string n = std::to_string(i);
    users.add({i, "user" + n + "@example.com", "User " + n, hash});
  }
  users.flush();
  report.users = options.users;

  // Venues, concerts and schedules go through the console's own code (issue 16): the same layout
  // validation, schedule checks and inserts as POST /admin/venues, /admin/concerts and
  // /admin/schedules, audited as done by kSeedActor. On an empty database the schedules get ids 1-4,
  // which the load tests and benchmarks use.
  const domain::AuditContext seed_actor{kSeedActor, "ticketing-seed"};
  const std::array<VenueSeed, 3> venues{{
      {"Olympic Hall", 10, 100},  // 1,000 seats
      {"Grand Arena", 20, 500},   // 10,000 seats
      {"Chamber Hall", 4, 25},    // 100 seats
  }};
  std::vector<domain::VenueId> venue_ids;
  for (const auto& venue : venues)
    venue_ids.push_back(insert_venue(connection, std::string(venue.name), demo_layout(venue), seed_actor).id);

  const std::array<std::array<std::string_view, 2>, 3> concerts{{
      {"The Midnight Orchestra - Live", "Symphonic rock under the lights; the opening night sells out in minutes."},
      {"Neon Harbor Reunion Tour", "The band is back for one season only."},
      {"Aurora Strings Chamber Night", "An intimate evening of strings."},
  }};
  std::vector<domain::ConcertId> concert_ids;
  for (const auto& [title, description] : concerts) {
    concert_ids.push_back(insert_concert(connection, std::string(title), std::string(description), seed_actor).id);
  }
  report.concerts = static_cast<int>(concerts.size());

  const std::array<ScheduleSeed, 4> schedules{{
      {0, 0, 30, -1},  // schedule 1: 1,000 seats, open
      {0, 1, 31, -1},  // schedule 2: 10,000 seats, open
      {1, 0, 60, 30},  // schedule 3: opens in 30 days
      {2, 2, 45, -1},  // schedule 4: 100 seats, open
  }};
  for (const auto& s : schedules) {
    domain::NewSchedule request;
    request.concert = concert_ids[static_cast<std::size_t>(s.concert)];
    request.venue = venue_ids[static_cast<std::size_t>(s.venue)];
    request.times.show_at = days_from_today(s.show_in_days, 19);
    request.times.booking_opens_at = days_from_today(s.opens_in_days, 10);
    domain::check_new_schedule(
        request.times, request.settings,
        std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()));
    const auto created = insert_schedule(connection, request, seed_actor);
    report.schedule_ids.push_back(created.schedule.id.value);
    report.seats += static_cast<int>(created.seats);
  }
  report.schedules = static_cast<int>(schedules.size());
  tx.commit();
  return report;
}

}  // namespace ticketing::infra::mysql
