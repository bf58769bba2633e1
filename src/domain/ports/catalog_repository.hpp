#pragma once
#include <optional>
#include <vector>

#include "domain/async.hpp"
#include "domain/catalog.hpp"

namespace ticketing::domain {

// Read-only access to concerts, schedules and the seat map.
class CatalogRepository {
 public:
  virtual ~CatalogRepository() = default;
  virtual Task<std::vector<Concert>> list_concerts() = 0;
  // nullopt when the concert does not exist (an existing concert may have no schedules).
  virtual Task<std::optional<std::vector<Schedule>>> list_schedules(ConcertId concert) = 0;
  // nullopt when the schedule does not exist. May be served from a short-lived cache.
  virtual Task<std::optional<Schedule>> find_schedule(ScheduleId schedule) = 0;
  // Drops this instance's cached copy of the schedule: an operator changed it here, and the next
  // find_schedule reads the database (other instances' copies age out with their cache).
  virtual void forget_schedule(ScheduleId /*schedule*/) {}
  // nullopt when the schedule does not exist. Status comes from the active reservations.
  virtual Task<std::optional<SeatMap>> seat_map(ScheduleId schedule) = 0;
  // nullptr when the schedule does not exist (empty for one without seats). Reads no reservation;
  // may be served from a cache.
  virtual Task<SeatLayoutSeats> seat_layout(ScheduleId schedule) = 0;
  // The schedule's price tiers (empty for a schedule without seats, or none).
  virtual Task<std::vector<PriceTier>> price_tiers(ScheduleId schedule) = 0;
};

}  // namespace ticketing::domain
