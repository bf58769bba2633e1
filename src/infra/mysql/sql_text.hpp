#pragma once
// SQL fragments and small queries shared by the repositories. No SQL here is built from values:
// values are bound to `?`, and only the number of placeholders of an IN list varies.
#include <string>
#include <string_view>
#include <vector>

#include "domain/booking_rules.hpp"
#include "domain/ids.hpp"
#include "domain/time.hpp"
#include "infra/mysql/mysql_connection.hpp"
#include "infra/mysql/row_reader.hpp"

namespace ticketing::infra::mysql {

// The seats of `seats` the schedule does not have, in the order given (one indexed query).
std::vector<std::string> seats_not_on_schedule(MysqlConnection& db, domain::ScheduleId schedule,
                                               const std::vector<std::string>& seats);

// The columns of a reservation row `r` as the booking rules see it (domain::SeatRow), its order's
// status and expiry read by scalar subqueries (which a FOR UPDATE does not lock). Read them back
// with read_seat_row().
inline constexpr std::string_view kSeatRowColumns =
    "r.id, r.schedule_id, r.seat_no, r.user_id, r.status, r.expires_at, r.created_at, r.payment_order_id, "
    "(SELECT so.status FROM payment_order so WHERE so.id = r.payment_order_id), "
    "(SELECT so.expires_at FROM payment_order so WHERE so.id = r.payment_order_id)";
domain::SeatRow read_seat_row(RowReader& read);
domain::ReservationStatus to_reservation_status(const std::string& text);
domain::OrderStatus to_order_status(const std::string& text);

// `params` + `values`, for an IN (placeholders(values.size())) list.
template <typename T>
void append_params(Params& params, const std::vector<T>& values) {
  for (const auto& value : values) params.emplace_back(value);
}
inline void append_params(Params& params, const std::vector<domain::ReservationId>& ids) {
  for (const auto id : ids) params.emplace_back(id.value);
}

}  // namespace ticketing::infra::mysql
