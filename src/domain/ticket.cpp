#include "domain/ticket.hpp"

#include <chrono>

namespace ticketing::domain {

std::string_view to_string(TicketStatus status) noexcept {
  switch (status) {
    case TicketStatus::kValid: return "VALID";
    case TicketStatus::kRevoked: return "REVOKED";
  }
  return "REVOKED";
}

TicketClaims claims_of(const TicketRecord& ticket) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(ticket.confirmed_at.time_since_epoch());
  return TicketClaims{ticket.id, ticket.schedule, ticket.seat_no, ticket.holder, seconds.count()};
}

}  // namespace ticketing::domain
