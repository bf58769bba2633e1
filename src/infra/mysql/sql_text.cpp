#include "infra/mysql/sql_text.hpp"

#include <stdexcept>
#include <unordered_set>

namespace ticketing::infra::mysql {

std::vector<std::string> seats_not_on_schedule(MysqlConnection& db, domain::ScheduleId schedule,
                                               const std::vector<std::string>& seats) {
  if (seats.empty()) return {};
  std::unordered_set<std::string> found;
  Params params{schedule.value};
  append_params(params, seats);
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

domain::ReservationStatus to_reservation_status(const std::string& text) {
  const auto status = domain::reservation_status_from(text);
  if (!status) throw std::runtime_error("bad reservation status column: " + text);
  return *status;
}

domain::OrderStatus to_order_status(const std::string& text) {
  const auto status = domain::order_status_from(text);
  if (!status) throw std::runtime_error("bad order status column: " + text);
  return *status;
}

domain::SeatRow read_seat_row(RowReader& read) {
  domain::SeatRow row;
  row.id = domain::ReservationId{read.int64()};
  row.schedule = domain::ScheduleId{read.int64()};
  row.seat_no = read.text();
  row.owner = domain::UserId{read.int64()};
  row.status = to_reservation_status(read.text());
  row.expires_at = read.timestamp();
  row.created_at = read.timestamp();
  const auto order_id = read.optional_int64();
  const auto order_status = read.optional_text();
  const auto order_expires_at = read.optional_timestamp();
  if (order_id && order_status && order_expires_at) {
    row.order = domain::OrderRef{*order_id, to_order_status(*order_status), *order_expires_at};
  }
  return row;
}

}  // namespace ticketing::infra::mysql
