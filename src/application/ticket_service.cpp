#include "application/ticket_service.hpp"

namespace ticketing::application {

Task<std::vector<Ticket>> TicketService::tickets_of(domain::UserId user) {
  auto records = co_await tickets_.tickets_of(user, kMaxTicketsListed);
  std::vector<Ticket> tickets;
  tickets.reserve(records.size());
  for (auto& record : records) {
    Ticket ticket{std::move(record), std::nullopt};
    if (ticket.record.status == domain::TicketStatus::kValid) {
      ticket.qr_payload = signer_.sign(domain::claims_of(ticket.record));
    }
    tickets.push_back(std::move(ticket));
  }
  co_return tickets;
}

Task<TicketKeyDocument> TicketService::key_document() {
  const auto shows_after = clock_.now() - kRevokedAfterShow;
  auto revoked = co_await tickets_.revoked_tickets(shows_after, kMaxRevokedListed);
  co_return TicketKeyDocument{signer_.key(), std::move(revoked)};
}

}  // namespace ticketing::application
