#include "domain/catalog.hpp"

namespace ticketing::domain {

std::string_view to_string(SeatStatus status) noexcept {
  switch (status) {
    case SeatStatus::kAvailable: return "AVAILABLE";
    case SeatStatus::kHeld: return "HELD";
    case SeatStatus::kSold: return "SOLD";
  }
  return "AVAILABLE";
}

bool is_valid_seat_no(std::string_view seat_no) noexcept {
  if (seat_no.empty() || seat_no.size() > 16 || seat_no.front() == '-') return false;
  for (char c : seat_no) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace ticketing::domain
