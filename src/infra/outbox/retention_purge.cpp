#include "infra/outbox/retention_purge.hpp"

#include <fmt/format.h>

#include "infra/mysql/sql_text.hpp"

namespace ticketing::infra::outbox {

Task<std::int64_t> RetentionPurge::run_once(domain::Timestamp now) {
  const auto cutoff = now - retention_;
  std::int64_t total = 0;
  for (const char* table : {"outbox_event", "processed_event"}) {
    while (true) {
      auto work = [table, cutoff, batch = batch_](mysql::MysqlConnection& db) {
        const std::string before = mysql::sql_time(db, cutoff);
        const std::string where = std::string_view(table) == "outbox_event"
                                      ? "published_at IS NOT NULL AND published_at < " + before
                                      : "processed_at < " + before;
        return static_cast<std::int64_t>(
            db.execute(fmt::format("DELETE FROM {} WHERE {} LIMIT {}", table, where, batch)).affected_rows);
      };
      const auto deleted = co_await pool_.run(work);
      total += deleted;
      if (deleted < batch_) break;
    }
  }
  purged_.fetch_add(static_cast<std::uint64_t>(total), std::memory_order_relaxed);
  co_return total;
}

}  // namespace ticketing::infra::outbox
