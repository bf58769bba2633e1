#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "domain/ports/clock.hpp"
#include "domain/ports/ticket_repository.hpp"
#include "domain/ports/ticket_signer.hpp"

namespace ticketing::application {

struct Ticket {
  domain::TicketRecord record;
  std::optional<std::string> qr_payload;  // only for a VALID ticket
};

// What gates fetch: the public key and the ids they must refuse although the payload verifies.
struct TicketKeyDocument {
  domain::TicketKey key;
  std::vector<domain::TicketId> revoked;
};

// E-tickets (DESIGN.md §13, docs/tickets.md).
class TicketService {
 public:
  static constexpr int kMaxTicketsListed = 500;
  // The revocation list names at most this many tickets (a gate refuses the rest by being wrong
  // only about refunds beyond it; docs/tickets.md).
  static constexpr int kMaxRevokedListed = 100'000;
  // A ticket stays on the list until its show started this long ago (gates still scan at the doors).
  static constexpr std::chrono::hours kRevokedAfterShow{24};

  TicketService(domain::TicketRepository& tickets, const domain::TicketSigner& signer, const domain::Clock& clock)
      : tickets_(tickets), signer_(signer), clock_(clock) {}

  // The caller's tickets, newest first: VALID ones with their signed QR payload, REVOKED without.
  Task<std::vector<Ticket>> tickets_of(domain::UserId user);
  Task<TicketKeyDocument> key_document();

 private:
  domain::TicketRepository& tickets_;
  const domain::TicketSigner& signer_;
  const domain::Clock& clock_;
};

}  // namespace ticketing::application
