#pragma once
// Where every committed seat change goes (DESIGN.md §7, last paragraph): the booking core hands
// each SeatChanged to the sink once, after the transaction that made it has committed. The metrics
// subscribe to it, and the live seat map (§13) will.
#include <vector>

#include "domain/seat_change.hpp"

namespace ticketing::domain {

class SeatEventSink {
 public:
  virtual ~SeatEventSink() = default;
  // Called on the thread that committed the change; must not block and should not throw.
  virtual void seat_changed(const SeatChanged& change) = 0;
};

}  // namespace ticketing::domain
