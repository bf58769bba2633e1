#pragma once
#include "domain/ports/ticket_repository.hpp"
#include "infra/mysql/mysql_pool.hpp"

namespace ticketing::infra::mysql {

// Tickets are reservation rows with confirmed_at set (V7): VALID while the row is CONFIRMED,
// REVOKED once it left CONFIRMED (a refund puts the seat back on sale).
class MysqlTicketRepository final : public domain::TicketRepository {
 public:
  explicit MysqlTicketRepository(MysqlPool& pool) : pool_(pool) {}

  Task<std::vector<domain::TicketRecord>> tickets_of(domain::UserId user, int limit) override;
  Task<std::vector<domain::TicketId>> revoked_tickets(domain::Timestamp shows_after, int limit) override;

 private:
  MysqlPool& pool_;
};

}  // namespace ticketing::infra::mysql
