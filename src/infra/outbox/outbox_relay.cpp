#include "infra/outbox/outbox_relay.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "infra/mysql/row_reader.hpp"

namespace ticketing::infra::outbox {

namespace {

struct RoundResult {
  std::int64_t published = 0;
  bool more = false;               // a full batch: go again
  bool failed = false;             // the broker refused or timed out
  bool producer_unusable = false;  // fatal error, rebuild pending: nothing was claimed
  std::int64_t backlog = 0;
};

}  // namespace

Task<std::int64_t> OutboxRelay::publish_pending() {
  std::int64_t total = 0;
  while (true) {
    // Publishing happens on the pool thread that holds the claimed rows' locks; the I/O thread
    // only awaits the result.
    auto work = [this](mysql::MysqlConnection& db) {
      RoundResult round;
      // On this pool thread, not the I/O thread: a rebuild closes the old producer, which may wait.
      if (!producer_.maintain()) {
        round.failed = round.producer_unusable = true;
        const auto backlog = db.query("SELECT COUNT(*) FROM outbox_event WHERE published_at IS NULL");
        round.backlog = mysql::to_int64(backlog.rows[0][0]);
        return round;
      }
      mysql::Transaction tx(db);
      const auto rows = db.query(
          "SELECT id, topic, message_key, payload, event_id, type FROM outbox_event WHERE published_at IS NULL "
          "ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED",
          {batch_});
      if (rows.rows.empty()) {
        tx.commit();
        return round;
      }
      std::vector<kafka::OutgoingMessage> messages;
      messages.reserve(rows.rows.size());
      for (const auto& row : rows.rows) {
        messages.push_back(
            kafka::OutgoingMessage{mysql::to_string(row[1]),
                                   mysql::to_string(row[2]),
                                   mysql::to_string(row[3]),
                                   {{"eventId", mysql::to_string(row[4])}, {"type", mysql::to_string(row[5])}}});
      }
      const auto results = producer_.produce_and_wait(messages, publish_timeout_);
      mysql::Params delivered_ids;
      for (std::size_t i = 0; i < results.size(); ++i) {
        if (results[i].delivered) {
          delivered_ids.emplace_back(mysql::to_int64(rows.rows[i][0]));
          ++round.published;
        } else {
          round.failed = true;
        }
      }
      if (!delivered_ids.empty()) {
        db.execute("UPDATE outbox_event SET published_at = UTC_TIMESTAMP(3) WHERE id IN (" +
                       mysql::placeholders(delivered_ids.size()) + ")",
                   delivered_ids);
      }
      tx.commit();
      round.more = !round.failed && rows.rows.size() == static_cast<std::size_t>(batch_);
      if (round.failed) {
        const auto backlog = db.query("SELECT COUNT(*) FROM outbox_event WHERE published_at IS NULL");
        round.backlog = mysql::to_int64(backlog.rows[0][0]);
      }
      return round;
    };
    const RoundResult round = co_await pool_.run(work);
    total += round.published;
    counters_.published.fetch_add(static_cast<std::uint64_t>(round.published), std::memory_order_relaxed);
    if (round.failed) {
      counters_.backlog.store(round.backlog, std::memory_order_relaxed);
      if (round.producer_unusable) {
        // Not a failed round (nothing was sent): the rebuild counter and health tell this story.
        throw std::runtime_error(fmt::format(
            "the kafka producer hit a fatal error and waits to be rebuilt; {} outbox events waiting", round.backlog));
      }
      counters_.failed_rounds.fetch_add(1, std::memory_order_relaxed);
      throw std::runtime_error(fmt::format("kafka did not acknowledge every outbox event; {} waiting", round.backlog));
    }
    if (!round.more) {
      counters_.backlog.store(0, std::memory_order_relaxed);
      break;
    }
  }
  co_return total;
}

}  // namespace ticketing::infra::outbox
