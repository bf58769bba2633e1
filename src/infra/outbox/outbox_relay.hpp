#pragma once
// Transactional outbox relay (DESIGN.md §7 step 3): rows written in the same transaction as the
// business change are published to Kafka afterwards and marked `published_at`. A row is claimed
// with SELECT … FOR UPDATE SKIP LOCKED, so several relays (processes) never publish the same batch
// at once; a crash between publish and mark means a re-publish, which consumers absorb by event id.
// While the broker is down nothing is marked and the next round retries. Each round first lets the
// producer notice a fatal error and rebuild itself when due (RecoveringProducer); until it works
// again no row is claimed.
#include <atomic>
#include <chrono>
#include <cstdint>

#include "domain/async.hpp"
#include "infra/kafka/recovering_producer.hpp"
#include "infra/mysql/mysql_pool.hpp"

namespace ticketing::infra::outbox {

struct OutboxCounters {
  std::atomic<std::uint64_t> published{0};
  std::atomic<std::uint64_t> failed_rounds{0};
  std::atomic<std::int64_t> backlog{0};  // unpublished rows seen by the last round
};

class OutboxRelay {
 public:
  OutboxRelay(mysql::MysqlPool& pool, kafka::RecoveringProducer& producer, int batch,
              std::chrono::milliseconds publish_timeout)
      : pool_(pool), producer_(producer), batch_(batch), publish_timeout_(publish_timeout) {}

  // Publishes pending rows in batches until none is left or the broker fails. Returns how many.
  Task<std::int64_t> publish_pending();
  OutboxCounters& counters() noexcept { return counters_; }

 private:
  mysql::MysqlPool& pool_;
  kafka::RecoveringProducer& producer_;
  int batch_;
  std::chrono::milliseconds publish_timeout_;
  OutboxCounters counters_;
};

}  // namespace ticketing::infra::outbox
