#pragma once
// Counts committed seat changes by status, as a subscriber of the booking core's seat events
// (application::SeatEventFanOut); sampled into ticketing_seat_changes_total{status} and
// ticketing_holds_expired_total.
#include <array>
#include <atomic>
#include <cstdint>

#include "domain/ports/seat_events.hpp"
#include "infra/observability/metrics.hpp"

namespace ticketing::infra::observability {

class SeatEventMetrics final : public domain::SeatEventSink {
 public:
  void seat_changed(const domain::SeatChanged& change) override;
  // Seats that went through `change` since start.
  std::uint64_t seats(domain::SeatChange change) const noexcept;
  void sample(SampleWriter& out) const;

 private:
  static constexpr std::size_t kStatuses = 6;
  std::array<std::atomic<std::uint64_t>, kStatuses> seats_{};
};

}  // namespace ticketing::infra::observability
