#include "infra/outbox/retention_purge.hpp"

#include "infra/mysql/mysql_connection.hpp"

namespace ticketing::infra::outbox {

Task<std::int64_t> RetentionPurge::run_once(domain::Timestamp now) {
  const auto cutoff = now - retention_;
  std::int64_t total = 0;
  // Refresh tokens go a day after they expire: until then a spent one presented again is still
  // recognised (and revokes its family); after that it is simply unknown, which is 401 as well.
  const auto token_cutoff = now - std::chrono::hours(24);
  for (const char* table : {"outbox_event", "processed_event", "refresh_token"}) {
    while (true) {
      auto work = [table, cutoff, token_cutoff, batch = batch_](mysql::MysqlConnection& db) {
        const std::string_view name = table;
        const char* sql = name == "outbox_event"
                              ? "DELETE FROM outbox_event WHERE published_at IS NOT NULL AND published_at < ? LIMIT ?"
                          : name == "processed_event" ? "DELETE FROM processed_event WHERE processed_at < ? LIMIT ?"
                                                      : "DELETE FROM refresh_token WHERE expires_at < ? LIMIT ?";
        const auto before = name == "refresh_token" ? token_cutoff : cutoff;
        return static_cast<std::int64_t>(db.execute(sql, {before, batch}).affected_rows);
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
