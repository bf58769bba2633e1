#include "infra/observability/seat_event_metrics.hpp"

#include <string>

namespace ticketing::infra::observability {

using domain::SeatChange;

void SeatEventMetrics::seat_changed(const domain::SeatChanged& change) {
  seats_[static_cast<std::size_t>(change.status)].fetch_add(change.seat_nos.size(), std::memory_order_relaxed);
}

std::uint64_t SeatEventMetrics::seats(SeatChange change) const noexcept {
  return seats_[static_cast<std::size_t>(change)].load(std::memory_order_relaxed);
}

void SeatEventMetrics::sample(SampleWriter& out) const {
  for (auto change : {SeatChange::kHeld, SeatChange::kReleased, SeatChange::kExpired, SeatChange::kSold,
                      SeatChange::kCancelled, SeatChange::kRefunded}) {
    out.counter("ticketing_seat_changes_total", "Committed seat state changes, by new status (seats).",
                static_cast<double>(seats(change)), {{"status", std::string(domain::to_string(change))}});
  }
  out.counter("ticketing_holds_expired_total",
              "Held seats expired (by the expiry job, or taken over by a new hold after their expiry).",
              static_cast<double>(seats(SeatChange::kExpired)));
}

}  // namespace ticketing::infra::observability
