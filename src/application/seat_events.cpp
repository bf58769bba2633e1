#include "application/seat_events.hpp"

#include <spdlog/spdlog.h>

namespace ticketing::application {

void emit_seat_changes(domain::SeatEventSink& sink, const std::vector<domain::SeatChanged>& events) {
  for (const auto& change : events) {
    if (change.seat_nos.empty()) continue;
    try {
      sink.seat_changed(change);
    } catch (const std::exception& error) {
      spdlog::warn("seat change subscriber failed: {}", error.what());
    }
  }
}

void SeatEventFanOut::seat_changed(const domain::SeatChanged& change) {
  for (auto* subscriber : subscribers_) {
    try {
      subscriber->seat_changed(change);
    } catch (const std::exception& error) {
      spdlog::warn("seat change subscriber failed: {}", error.what());
    }
  }
}

}  // namespace ticketing::application
