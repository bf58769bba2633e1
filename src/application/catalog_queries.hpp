#pragma once
#include <vector>

#include "domain/ports/catalog_repository.hpp"

namespace ticketing::application {

// Browsing before the sale. Missing resources become NOT_FOUND domain errors here, once.
class CatalogQueries {
 public:
  explicit CatalogQueries(domain::CatalogRepository& repository) : repository_(repository) {}

  Task<std::vector<domain::Concert>> list_concerts();
  Task<std::vector<domain::Schedule>> list_schedules(domain::ConcertId concert);
  Task<domain::SeatMap> seat_map(domain::ScheduleId schedule);

 private:
  domain::CatalogRepository& repository_;
};

}  // namespace ticketing::application
