#include "infra/mysql/sql_text.hpp"

#include <unordered_set>

#include "infra/mysql/row_reader.hpp"

namespace ticketing::infra::mysql {

std::string seat_list(MysqlConnection& db, const std::vector<std::string>& seats) {
  std::string out = "(";
  for (std::size_t i = 0; i < seats.size(); ++i) {
    if (i > 0) out += ',';
    out += db.quote(seats[i]);
  }
  out += ')';
  return out;
}

std::string sql_time(MysqlConnection& db, domain::Timestamp t) { return db.quote(domain::to_sql_datetime(t)); }

std::vector<std::string> seats_not_on_schedule(MysqlConnection& db, domain::ScheduleId schedule,
                                               const std::vector<std::string>& seats) {
  if (seats.empty()) return {};
  std::unordered_set<std::string> found;
  Params params{schedule.value};
  params.insert(params.end(), seats.begin(), seats.end());
  for (const auto& row :
       db.query("SELECT seat_no FROM seat WHERE schedule_id = ? AND seat_no IN (" + placeholders(seats.size()) + ")",
                params)
           .rows) {
    found.insert(to_string(row[0]));
  }
  std::vector<std::string> missing;
  for (const auto& seat : seats) {
    if (found.count(seat) == 0) missing.push_back(seat);
  }
  return missing;
}

}  // namespace ticketing::infra::mysql
