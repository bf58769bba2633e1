#pragma once
// The one place in the booking core that emits seat changes (DESIGN.md §7): HoldService, the
// expiry job and the ConfirmationHandler (the consumer's and the reconciler's path) pass the
// events the repositories returned after their commit to emit_seat_changes(), which hands them to
// the sink — in the service, a SeatEventFanOut with the metrics (and later the live seat map)
// subscribed.
#include <vector>

#include "domain/ports/seat_events.hpp"

namespace ticketing::application {

// Every event of a committed decision, in order. A subscriber that throws is logged and does not
// stop the others (the change has committed whatever a subscriber does).
void emit_seat_changes(domain::SeatEventSink& sink, const std::vector<domain::SeatChanged>& events);

// Fans each change out to its subscribers. Subscribe while wiring, before any change is emitted.
class SeatEventFanOut final : public domain::SeatEventSink {
 public:
  void subscribe(domain::SeatEventSink& subscriber) { subscribers_.push_back(&subscriber); }
  void seat_changed(const domain::SeatChanged& change) override;

 private:
  std::vector<domain::SeatEventSink*> subscribers_;
};

// A sink that drops everything (tools and tests that do not care).
class NoSeatEvents final : public domain::SeatEventSink {
 public:
  void seat_changed(const domain::SeatChanged&) override {}
};

}  // namespace ticketing::application
