#include "infra/mysql/demo_seed.hpp"

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "domain/operator_console.hpp"

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

struct ScheduleSeed {
  int id;
  int concert_id;
  int show_in_days;
  int opens_in_days;  // negative: already open
  int sections;
  int seats_per_section;
};

// Front sections cost more: VIP, R and S tiers.
std::pair<std::string, std::string> tier_of_section(int section_index, int sections) {
  if (section_index < sections / 5) return {"VIP", "150.00"};
  if (section_index < sections / 2) return {"R", "110.00"};
  return {"S", "80.00"};
}

// The schedule's seats as the operator console would import them (domain::build_layout, the same
// validation and numbering): one run per section, numbered per section ("A-12").
domain::VenueLayout demo_layout(const ScheduleSeed& s) {
  std::vector<domain::SeatRun> runs;
  for (int section = 0; section < s.sections; ++section) {
    const std::string letter(1, static_cast<char>('A' + section));
    auto [tier, price] = tier_of_section(section, s.sections);
    runs.push_back(
        domain::SeatRun{"section " + letter, letter, "", 1, s.seats_per_section, std::move(tier), std::move(price)});
  }
  return domain::build_layout(runs);
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

  const std::array<std::array<std::string_view, 2>, 3> concerts{{
      {"The Midnight Orchestra - Live", "Symphonic rock under the lights; the opening night sells out in minutes."},
      {"Neon Harbor Reunion Tour", "The band is back for one season only."},
      {"Aurora Strings Chamber Night", "An intimate evening of strings."},
  }};
  for (std::size_t i = 0; i < concerts.size(); ++i) {
    connection.execute("INSERT INTO concert (id, title, description) VALUES (?, ?, ?)",
                       {static_cast<std::int64_t>(i + 1), concerts[i][0], concerts[i][1]});
  }
  report.concerts = static_cast<int>(concerts.size());

  const std::array<ScheduleSeed, 4> schedules{{
      {1, 1, 30, -1, 10, 100},
      {2, 1, 31, -1, 20, 500},
      {3, 2, 60, 30, 10, 100},
      {4, 3, 45, -1, 4, 25},
  }};
  BatchInsert seats(connection, "INSERT INTO seat (schedule_id, seat_no, section, price) VALUES ", 4);
  for (const auto& s : schedules) {
    connection.execute(
        "INSERT INTO schedule (id, concert_id, show_at, booking_opens_at) VALUES "
        "(?, ?, DATE_ADD(UTC_DATE(), INTERVAL ? DAY) + INTERVAL 19 HOUR, "
        "DATE_ADD(UTC_DATE(), INTERVAL ? DAY) + INTERVAL 10 HOUR)",
        {s.id, s.concert_id, s.show_in_days, s.opens_in_days});
    for (const auto& seat : demo_layout(s).seats) {
      seats.add({s.id, seat.seat_no, seat.section, seat.price});
      ++report.seats;
    }
  }
  seats.flush();
  report.schedules = static_cast<int>(schedules.size());
  tx.commit();
  return report;
}

}  // namespace ticketing::infra::mysql
