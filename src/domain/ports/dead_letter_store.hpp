#pragma once
// Dead-lettered payment.completed messages, kept in the database so operators can list and replay
// them (DESIGN.md §14). The consumer records each one when it sends it to the DLQ topic.
#include <optional>
#include <string>
#include <vector>

#include "domain/async.hpp"
#include "domain/operator_console.hpp"
#include "domain/payment.hpp"

namespace ticketing::domain {

struct DeadLetter {
  std::int64_t id = 0;
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::optional<std::string> key;
  std::string payload;
  std::string error;
  Timestamp created_at{};
  std::optional<Timestamp> replayed_at;
  std::optional<Timestamp> discarded_at;  // set aside by an operator, with the reason
  std::optional<std::string> discard_reason;
};

// A dead letter with its payload decoded as a PaymentCompleted (or why it cannot be).
struct ReplayableDeadLetter {
  DeadLetter letter;
  std::optional<PaymentCompleted> event;
  std::string decode_error;
};

class DeadLetterStore {
 public:
  virtual ~DeadLetterStore() = default;
  // Idempotent by (topic, partition, offset): a message dead-lettered again is recorded once.
  virtual Task<void> record(const DeadLetter& letter) = 0;
  // Newest first, older than `before` (an id) when given; only those neither replayed nor
  // discarded when `pending_only`.
  virtual Task<std::vector<DeadLetter>> list(int limit, bool pending_only, std::optional<std::int64_t> before) = 0;
  virtual Task<std::optional<ReplayableDeadLetter>> find(std::int64_t id) = 0;
  // Marks it replayed (the first replay's time stays) with the audit row, in one transaction.
  virtual Task<void> mark_replayed(std::int64_t id, Timestamp now, const AuditContext& who,
                                   const std::string& outcome) = 0;
  // Sets a pending letter aside with the audit row (before/after), in one transaction: 404 unknown,
  // 409 CONFLICT when it was replayed or discarded already. Returns it as it is afterwards.
  virtual Task<DeadLetter> discard(std::int64_t id, Timestamp now, const AuditContext& who,
                                   const std::string& reason) = 0;
};

}  // namespace ticketing::domain
