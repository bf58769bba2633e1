#pragma once
// Every state change of a seat, emitted once after its transaction commits (DESIGN.md §7): the
// live seat map and the metrics subscribe to these through domain::SeatEventSink.
#include <string>
#include <string_view>
#include <vector>

#include "domain/ids.hpp"

namespace ticketing::domain {

enum class SeatChange { kHeld, kReleased, kExpired, kSold, kCancelled, kRefunded };
// "held", "released", "expired", "sold", "cancelled", "refunded".
std::string_view to_string(SeatChange change) noexcept;

struct SeatChanged {
  ScheduleId schedule;
  std::vector<std::string> seat_nos;
  SeatChange status = SeatChange::kHeld;
  friend bool operator==(const SeatChanged&, const SeatChanged&) = default;
};

}  // namespace ticketing::domain
