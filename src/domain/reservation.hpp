#pragma once
// Seat holds (DESIGN.md §7 steps 1 and 5). A reservation row is live (`active = 1`) while HELD or
// CONFIRMED; the database's unique key on (schedule, seat, active) is the final oversell guard.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/ids.hpp"
#include "domain/time.hpp"

namespace ticketing::domain {

enum class ReservationStatus { kHeld, kConfirmed, kExpired, kCancelled };
// "HELD", "CONFIRMED", "EXPIRED", "CANCELLED" — the column values.
std::string_view to_string(ReservationStatus status) noexcept;
std::optional<ReservationStatus> reservation_status_from(std::string_view text) noexcept;

struct HeldSeat {
  ReservationId id;
  std::string seat_no;
};

// Checks a requested seat list: 1..max_seats entries, each a valid seat number, no duplicates.
// Throws DomainError INVALID_ARGUMENT naming the offending `seatNos[i]`.
void validate_seat_request(const std::vector<std::string>& seat_nos, int max_seats);

// Throws DomainError NOT_FOUND naming each of `seats`, which the schedule does not have.
[[noreturn]] void throw_unknown_seats(ScheduleId schedule, const std::vector<std::string>& seats);

}  // namespace ticketing::domain
