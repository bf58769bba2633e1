#pragma once
// Read models of the catalog: what a fan browses before the sale.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/ids.hpp"
#include "domain/money.hpp"
#include "domain/operator_console.hpp"
#include "domain/time.hpp"

namespace ticketing::domain {

struct Concert {
  ConcertId id;
  std::string title;
  std::string description;
  Timestamp created_at;
};

struct Schedule {
  ScheduleId id;
  ConcertId concert_id;
  Timestamp show_at;
  Timestamp booking_opens_at;
  std::optional<Timestamp> prequeue_opens_at = std::nullopt;
  SaleState sale_state = SaleState::kOpen;
  QueueSettings settings = {};  // per-schedule overrides of the queue and hold defaults
  std::optional<VenueId> venue = std::nullopt;
  // Bumped by every change of sale_state or settings: the queue's copy of them (in Redis) is only
  // ever replaced by a newer version.
  std::int64_t controls_version = 0;
};

enum class SeatStatus { kAvailable, kHeld, kSold };
std::string_view to_string(SeatStatus status) noexcept;

struct SeatMapEntry {
  std::string seat_no;
  std::string section;
  Money price;
  SeatStatus status = SeatStatus::kAvailable;
};

struct SeatMap {
  ScheduleId schedule_id;
  std::vector<SeatMapEntry> seats;
};

// A seat of a schedule's layout: what never changes during a sale (the seat map without statuses).
struct ScheduleSeat {
  std::string seat_no;
  std::string section;
  Money price;
};
// The layout in seat id order (the seat map's order), shared read-only: it is cached.
using SeatLayoutSeats = std::shared_ptr<const std::vector<ScheduleSeat>>;

// One price of a schedule and the sections that have seats at it: what a fan compares before the
// sale, without the seat map's 10,000 statuses.
struct PriceTier {
  Money price;
  std::vector<std::string> sections;  // byte order
};
struct SeatPrice {
  std::string_view section;
  Money price;
};
// The tiers of a layout, dearest first, each section named once.
std::vector<PriceTier> price_tiers(const std::vector<SeatPrice>& seats);

// Seat numbers look like "A-12": 1..16 characters of [A-Za-z0-9-], starting with a letter or digit.
bool is_valid_seat_no(std::string_view seat_no) noexcept;

}  // namespace ticketing::domain
