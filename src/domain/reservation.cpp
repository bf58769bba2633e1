#include "domain/reservation.hpp"

#include <fmt/format.h>

#include <set>

#include "domain/catalog.hpp"
#include "domain/errors.hpp"

namespace ticketing::domain {

std::string_view to_string(ReservationStatus status) noexcept {
  switch (status) {
    case ReservationStatus::kHeld: return "HELD";
    case ReservationStatus::kConfirmed: return "CONFIRMED";
    case ReservationStatus::kExpired: return "EXPIRED";
    case ReservationStatus::kCancelled: return "CANCELLED";
  }
  return "CANCELLED";
}

std::optional<ReservationStatus> reservation_status_from(std::string_view text) noexcept {
  for (auto status : {ReservationStatus::kHeld, ReservationStatus::kConfirmed, ReservationStatus::kExpired,
                      ReservationStatus::kCancelled}) {
    if (to_string(status) == text) return status;
  }
  return std::nullopt;
}

void validate_seat_request(const std::vector<std::string>& seat_nos, int max_seats) {
  if (seat_nos.empty() || seat_nos.size() > static_cast<std::size_t>(max_seats)) {
    throw invalid_argument("seatNos", fmt::format("must hold 1 to {} seats", max_seats));
  }
  std::vector<FieldError> errors;
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < seat_nos.size(); ++i) {
    const std::string field = fmt::format("seatNos[{}]", i);
    if (!is_valid_seat_no(seat_nos[i])) {
      errors.push_back({field, "not a seat number (1-16 of A-Z a-z 0-9 -)"});
    } else if (!seen.insert(seat_nos[i]).second) {
      errors.push_back({field, "duplicate seat " + seat_nos[i]});
    }
  }
  if (!errors.empty()) {
    std::string message = "invalid seatNos:";
    for (const auto& e : errors) message += " " + e.field + " " + e.reason + ";";
    message.pop_back();
    throw DomainError(ErrorCode::kInvalidArgument, std::move(message), std::move(errors));
  }
}

void throw_unknown_seats(ScheduleId schedule, const std::vector<std::string>& seats) {
  std::vector<FieldError> errors;
  for (const auto& seat : seats) errors.push_back({"seatNos", "no seat " + seat + " on this schedule"});
  throw DomainError(ErrorCode::kNotFound,
                    fmt::format("schedule {} has no seat {}", schedule.value, fmt::join(seats, ", ")),
                    std::move(errors));
}

}  // namespace ticketing::domain
