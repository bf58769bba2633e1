#pragma once
// Strongly typed ids, and the one rule for what a valid id looks like (DESIGN.md §5 "Ids").
#include <compare>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ticketing::domain {

template <typename Tag>
struct Id {
  std::int64_t value = 0;
  friend auto operator<=>(const Id&, const Id&) = default;
};

using UserId = Id<struct UserIdTag>;
using ConcertId = Id<struct ConcertIdTag>;
using ScheduleId = Id<struct ScheduleIdTag>;
using ReservationId = Id<struct ReservationIdTag>;

// Canonical decimal 1..2^63-1: digits only, no sign, no leading zero, no spaces, no exponent.
// Returns nullopt for anything else, including overflow.
std::optional<std::int64_t> parse_canonical_id(std::string_view text) noexcept;

}  // namespace ticketing::domain
