#include "domain/catalog.hpp"

#include <functional>
#include <map>
#include <set>

namespace ticketing::domain {

std::string_view to_string(SeatStatus status) noexcept {
  switch (status) {
    case SeatStatus::kAvailable: return "AVAILABLE";
    case SeatStatus::kHeld: return "HELD";
    case SeatStatus::kSold: return "SOLD";
  }
  return "AVAILABLE";
}

bool is_valid_seat_no(std::string_view seat_no) noexcept {
  if (seat_no.empty() || seat_no.size() > 16 || seat_no.front() == '-') return false;
  for (char c : seat_no) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::vector<PriceTier> price_tiers(const std::vector<SeatPrice>& seats) {
  std::map<std::int64_t, std::set<std::string_view>, std::greater<>> by_price;
  for (const auto& seat : seats) by_price[seat.price.cents].insert(seat.section);
  std::vector<PriceTier> tiers;
  tiers.reserve(by_price.size());
  for (const auto& [cents, sections] : by_price) {
    tiers.push_back({Money{cents}, {sections.begin(), sections.end()}});
  }
  return tiers;
}

}  // namespace ticketing::domain
