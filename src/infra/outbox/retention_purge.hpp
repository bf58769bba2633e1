#pragma once
// Published outbox rows and the consumer's processed-event ids are kept for a retention window
// (kafka.outbox-retention), refresh tokens until a day after they expire; then they are deleted in
// small batches, so none of these tables grows forever.
// A PaymentCompleted delivered again after its id was purged changes nothing either: the order is
// no longer CONFIRMING, and the confirmation only acts on CONFIRMING orders.
#include <atomic>
#include <chrono>
#include <cstdint>

#include "domain/async.hpp"
#include "domain/time.hpp"
#include "infra/mysql/mysql_pool.hpp"

namespace ticketing::infra::outbox {

class RetentionPurge {
 public:
  RetentionPurge(mysql::MysqlPool& pool, std::chrono::milliseconds retention, int batch)
      : pool_(pool), retention_(retention), batch_(batch) {}

  // Deletes every published outbox row and processed-event id older than the retention, a batch
  // per statement (short row locks). Returns how many rows went.
  Task<std::int64_t> run_once(domain::Timestamp now);
  std::uint64_t purged() const noexcept { return purged_.load(std::memory_order_relaxed); }

 private:
  mysql::MysqlPool& pool_;
  std::chrono::milliseconds retention_;
  int batch_;
  std::atomic<std::uint64_t> purged_{0};
};

}  // namespace ticketing::infra::outbox
