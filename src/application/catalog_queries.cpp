#include "application/catalog_queries.hpp"

#include <fmt/format.h>

#include "domain/errors.hpp"

namespace ticketing::application {

using domain::DomainError;
using domain::ErrorCode;

Task<std::vector<domain::Concert>> CatalogQueries::list_concerts() {
  co_return co_await repository_.list_concerts();
}

Task<std::vector<ScheduleListing>> CatalogQueries::list_schedules(domain::ConcertId concert) {
  auto schedules = co_await repository_.list_schedules(concert);
  if (!schedules) throw DomainError(ErrorCode::kNotFound, fmt::format("concert {} not found", concert.value));
  std::vector<ScheduleListing> listings;
  listings.reserve(schedules->size());
  for (auto& schedule : *schedules) {
    const domain::ScheduleId id = schedule.id;
    auto tiers = co_await repository_.price_tiers(id);
    listings.push_back({std::move(schedule), std::move(tiers)});
  }
  co_return listings;
}

Task<domain::SeatMap> CatalogQueries::seat_map(domain::ScheduleId schedule) {
  auto seats = co_await repository_.seat_map(schedule);
  if (!seats) throw DomainError(ErrorCode::kNotFound, fmt::format("schedule {} not found", schedule.value));
  co_return std::move(*seats);
}

Task<domain::SeatLayoutSeats> CatalogQueries::seat_layout(domain::ScheduleId schedule) {
  auto seats = co_await repository_.seat_layout(schedule);
  if (!seats) throw DomainError(ErrorCode::kNotFound, fmt::format("schedule {} not found", schedule.value));
  co_return seats;
}

}  // namespace ticketing::application
