#pragma once
#include <vector>

#include "domain/async.hpp"
#include "domain/ticket.hpp"

namespace ticketing::domain {

class TicketRepository {
 public:
  virtual ~TicketRepository() = default;
  // The user's tickets (seats that are or were CONFIRMED), newest first, at most `limit`.
  virtual Task<std::vector<TicketRecord>> tickets_of(UserId user, int limit) = 0;
  // Ids of revoked tickets (once CONFIRMED, now not) of schedules that show after `shows_after`,
  // at most `limit`, ascending.
  virtual Task<std::vector<TicketId>> revoked_tickets(Timestamp shows_after, int limit) = 0;
};

}  // namespace ticketing::domain
