// Published outbox rows and processed-event ids are purged after kafka.outbox-retention; unpublished
// rows and recent ones stay.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "infra/events/payment_events.hpp"
#include "support.hpp"

using namespace ticketing;
using namespace ticketing::testing;

namespace {

std::string count(const std::string& sql) {
  auto db = test_db();
  return db->query(sql).rows.at(0).at(0).value_or("NULL");
}

}  // namespace

TEST(RetentionPurge, DeletesOnlyPublishedRowsAndIdsOlderThanTheRetention) {
  prepare_test_database();
  auto db = test_db();
  const auto old_published = infra::events::new_event_id();
  const auto recent_published = infra::events::new_event_id();
  const auto old_unpublished = infra::events::new_event_id();
  const auto old_processed = infra::events::new_event_id();
  const auto recent_processed = infra::events::new_event_id();
  constexpr std::string_view kInsert =
      "INSERT INTO outbox_event (event_id, aggregate, type, payload, topic, message_key, created_at, published_at) "
      "VALUES ('{}', 'test', 'RetentionTest', '{{}}', 'retention.test', '0', UTC_TIMESTAMP(3) - INTERVAL 3 HOUR, {})";
  db->execute(fmt::format(kInsert, old_published, "UTC_TIMESTAMP(3) - INTERVAL 2 HOUR"));
  db->execute(fmt::format(kInsert, recent_published, "UTC_TIMESTAMP(3) - INTERVAL 10 MINUTE"));
  db->execute(fmt::format(kInsert, old_unpublished, "NULL"));
  ensure_users(1);
  const auto old_token = infra::events::new_event_id();
  const auto live_token = infra::events::new_event_id();
  const std::string token_insert =
      "INSERT INTO refresh_token (token_hash, family_id, user_id, expires_at) VALUES "
      "(SHA2('{}', 256), 'retentiontest', 1, UTC_TIMESTAMP(3) - INTERVAL 2 DAY), "
      "(SHA2('{}', 256), 'retentiontest', 1, UTC_TIMESTAMP(3) - INTERVAL 1 HOUR)";
  db->execute(fmt::vformat(token_insert, fmt::make_format_args(old_token, live_token)));
  db->execute(
      fmt::format("INSERT INTO processed_event (event_id, processed_at) VALUES "
                  "('{}', UTC_TIMESTAMP(3) - INTERVAL 2 HOUR), ('{}', UTC_TIMESTAMP(3))",
                  old_processed, recent_processed));

  TestServer server({"kafka.outbox-retention=1h", "kafka.purge-interval=200ms"});
  const auto in_outbox = [](const std::string& id) {
    return count(fmt::format("SELECT COUNT(*) FROM outbox_event WHERE event_id = '{}'", id));
  };
  const auto in_processed = [](const std::string& id) {
    return count(fmt::format("SELECT COUNT(*) FROM processed_event WHERE event_id = '{}'", id));
  };
  ASSERT_TRUE(wait_for([&] { return in_outbox(old_published) == "0" && in_processed(old_processed) == "0"; },
                       std::chrono::seconds(10)));
  EXPECT_EQ(in_outbox(recent_published), "1");
  EXPECT_EQ(in_outbox(old_unpublished), "1") << "an unpublished event was purged";
  EXPECT_EQ(in_processed(recent_processed), "1");
  const auto tokens = [](const std::string& raw) {
    return count(fmt::format("SELECT COUNT(*) FROM refresh_token WHERE token_hash = SHA2('{}', 256)", raw));
  };
  ASSERT_TRUE(wait_for([&] { return tokens(old_token) == "0"; }, std::chrono::seconds(10)));
  EXPECT_EQ(tokens(live_token), "1") << "a token expired less than a day ago was purged";
  db->execute("DELETE FROM refresh_token WHERE family_id = 'retentiontest'");
  db->execute(
      fmt::format("DELETE FROM outbox_event WHERE event_id IN ('{}', '{}')", recent_published, old_unpublished));
}
