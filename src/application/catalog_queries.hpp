#pragma once
#include <vector>

#include "domain/ports/catalog_repository.hpp"

namespace ticketing::application {

// A date of a concert with its price tiers.
struct ScheduleListing {
  domain::Schedule schedule;
  std::vector<domain::PriceTier> tiers;
};

// Browsing before the sale. Missing resources become NOT_FOUND domain errors here, once.
class CatalogQueries {
 public:
  explicit CatalogQueries(domain::CatalogRepository& repository) : repository_(repository) {}

  Task<std::vector<domain::Concert>> list_concerts();
  // Each date with its price tiers (from the seat-layout cache: no seat statuses are read).
  Task<std::vector<ScheduleListing>> list_schedules(domain::ConcertId concert);
  Task<domain::SeatMap> seat_map(domain::ScheduleId schedule);
  // The seats without their statuses, from the layout cache (no reservation is read): what the
  // web app draws while the live stream's snapshot gives the statuses. Never null.
  Task<domain::SeatLayoutSeats> seat_layout(domain::ScheduleId schedule);

 private:
  domain::CatalogRepository& repository_;
};

}  // namespace ticketing::application
