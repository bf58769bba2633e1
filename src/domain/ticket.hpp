#pragma once
// E-tickets (DESIGN.md §13): one per CONFIRMED seat of a PAID order. The ticket id is the
// reservation id; the QR payload that carries it is signed (infra/security/ticket_payload.hpp), so
// knowing another ticket's id forges nothing.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "domain/ids.hpp"
#include "domain/money.hpp"
#include "domain/time.hpp"

namespace ticketing::domain {

using TicketId = ReservationId;

// What a gate needs to let someone in, and what the signature covers.
struct TicketClaims {
  TicketId ticket;
  ScheduleId schedule;
  std::string seat_no;
  UserId holder;
  std::int64_t issued_at = 0;  // unix seconds: when the seat was confirmed
  friend bool operator==(const TicketClaims&, const TicketClaims&) = default;
};

// VALID: the seat is still CONFIRMED. REVOKED: it was CONFIRMED and no longer is (the order was
// refunded); its id is on the revocation list until the show is over.
enum class TicketStatus { kValid, kRevoked };
std::string_view to_string(TicketStatus status) noexcept;

// A ticket as its holder sees it.
struct TicketRecord {
  TicketId id;
  std::string order_no;
  ScheduleId schedule;
  std::string concert_title;
  Timestamp show_at;
  std::string seat_no;
  std::string section;
  Money price;
  TicketStatus status = TicketStatus::kValid;
  UserId holder;
  Timestamp confirmed_at;
};

TicketClaims claims_of(const TicketRecord& ticket);

// The public half of the ticket-signing key, as gates fetch it.
struct TicketKey {
  std::string algorithm;   // "Ed25519"
  std::string key_id;      // names the key in every payload it signed
  std::string public_key;  // unpadded base64url
};

}  // namespace ticketing::domain
