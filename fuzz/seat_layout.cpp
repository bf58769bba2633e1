// A venue's seat layout as an operator uploads it (POST /admin/venues, text/csv):
// parse_layout_csv then build_layout on arbitrary bytes. Properties: parsing never throws and
// building throws only DomainError (a 400 naming the line); a layout that builds has between 1 and
// kMaxVenueSeats seats, unique seat numbers, and every seat's tier listed once with the seat's price.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "domain/errors.hpp"
#include "domain/operator_console.hpp"

using namespace ticketing;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<domain::FieldError> errors;
  const auto runs = domain::parse_layout_csv(text, errors);
  domain::VenueLayout layout;
  try {
    layout = domain::build_layout(runs, errors);
  } catch (const domain::DomainError& error) {
    if (error.code() != domain::ErrorCode::kInvalidArgument) __builtin_trap();
    return 0;
  }
  if (!errors.empty()) __builtin_trap();  // a parse problem must refuse the layout
  if (layout.seats.empty() || layout.seats.size() > domain::kMaxVenueSeats) __builtin_trap();
  std::set<std::string> seat_nos;
  std::set<std::string> tiers;
  for (const auto& [tier, price] : layout.tiers) {
    if (!tiers.insert(tier).second) __builtin_trap();
  }
  for (const auto& seat : layout.seats) {
    if (!seat_nos.insert(seat.seat_no).second) __builtin_trap();
    bool listed = false;
    for (const auto& [tier, price] : layout.tiers) {
      if (tier == seat.tier) listed = price.to_decimal_string() == seat.price.to_decimal_string();
    }
    if (!listed) __builtin_trap();
  }
  return 0;
}
