#pragma once
#include "domain/ports/dead_letter_store.hpp"
#include "infra/mysql/mysql_pool.hpp"

namespace ticketing::infra::mysql {

// The dead_letter table (V8). Payloads are decoded as payment.completed events on read.
class MysqlDeadLetterStore final : public domain::DeadLetterStore {
 public:
  explicit MysqlDeadLetterStore(MysqlPool& pool) : pool_(pool) {}

  Task<void> record(const domain::DeadLetter& letter) override;
  Task<std::vector<domain::DeadLetter>> list(int limit, bool pending_only, std::optional<std::int64_t> before) override;
  Task<std::optional<domain::ReplayableDeadLetter>> find(std::int64_t id) override;
  Task<void> mark_replayed(std::int64_t id, domain::Timestamp now, const domain::AuditContext& who,
                           const std::string& outcome) override;
  Task<domain::DeadLetter> discard(std::int64_t id, domain::Timestamp now, const domain::AuditContext& who,
                                   const std::string& reason) override;

 private:
  MysqlPool& pool_;
};

}  // namespace ticketing::infra::mysql
