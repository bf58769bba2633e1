#include "domain/seat_change.hpp"

namespace ticketing::domain {

std::string_view to_string(SeatChange change) noexcept {
  switch (change) {
    case SeatChange::kHeld: return "held";
    case SeatChange::kReleased: return "released";
    case SeatChange::kExpired: return "expired";
    case SeatChange::kSold: return "sold";
    case SeatChange::kCancelled: return "cancelled";
    case SeatChange::kRefunded: return "refunded";
  }
  return "cancelled";
}

}  // namespace ticketing::domain
