#include <fmt/format.h>
#include <gtest/gtest.h>

#include "infra/mysql/demo_seed.hpp"
#include "infra/mysql/migrations.hpp"
#include "support.hpp"

using namespace ticketing;
using namespace ticketing::testing;

TEST(Migrations, SecondRunIsANoOp) {
  prepare_test_database();
  auto db = test_db(true);
  const auto plan = infra::mysql::plan_migrations(infra::mysql::embedded_migrations());
  ASSERT_FALSE(plan.empty());
  const auto report = infra::mysql::migrate(*db, plan);
  EXPECT_TRUE(report.applied.empty());
  EXPECT_EQ(report.already_applied, static_cast<int>(plan.size()));
  const auto rows = db->query("SELECT COUNT(*) FROM schema_history");
  EXPECT_EQ(rows.rows[0][0], std::to_string(plan.size()));
}

TEST(Migrations, ChangedAppliedMigrationIsRefused) {
  prepare_test_database();
  auto db = test_db(true);
  auto plan = infra::mysql::plan_migrations(infra::mysql::embedded_migrations());
  plan[0].checksum = "0000000000000000";
  EXPECT_THROW(infra::mysql::migrate(*db, plan), std::runtime_error);
}

TEST(Migrations, BadFileNamesAreRejected) {
  EXPECT_THROW(infra::mysql::plan_migrations({{"V1_missing_separator.sql", ""}}), std::runtime_error);
  EXPECT_THROW(infra::mysql::plan_migrations({{"V1__a.sql", ""}, {"V01__b.sql", ""}}), std::runtime_error);
  EXPECT_THROW(infra::mysql::plan_migrations({{"Vx__a.sql", ""}}), std::runtime_error);
}

TEST(Seed, SecondRunSkipsAndDataMatchesTheDocs) {
  prepare_test_database();
  auto db = test_db();
  const auto again = infra::mysql::seed_demo_data(*db, infra::mysql::SeedOptions{10});
  EXPECT_TRUE(again.skipped);
  const auto seats = db->query("SELECT schedule_id, COUNT(*) FROM seat GROUP BY schedule_id ORDER BY schedule_id");
  ASSERT_GE(seats.rows.size(), 4u);
  EXPECT_EQ(seats.rows[0][1], "1000");
  EXPECT_EQ(seats.rows[1][1], "10000");
}

TEST(Schema, UniqueActiveKeyForbidsTwoLiveRowsButKeepsHistory) {
  prepare_test_database();
  auto db = test_db();
  db->execute("DELETE FROM reservation WHERE schedule_id = 4 AND seat_no = 'D-25'");
  auto insert = [&](const char* status, const char* active) {
    return db->execute(fmt::format(
        "INSERT INTO reservation (user_id, schedule_id, seat_no, status, expires_at, active) "
        "VALUES (1, 4, 'D-25', '{}', UTC_TIMESTAMP(3) + INTERVAL 1 MINUTE, {})",
        status, active));
  };
  insert("EXPIRED", "NULL");
  insert("CANCELLED", "NULL");
  insert("HELD", "1");
  try {
    insert("HELD", "1");
    FAIL() << "second live row accepted";
  } catch (const infra::mysql::MysqlError& e) {
    EXPECT_TRUE(e.is_duplicate_key()) << e.what();
  }
  // The CHECK constraint ties `active` to the status.
  EXPECT_THROW(insert("EXPIRED", "1"), infra::mysql::MysqlError);
  db->execute("DELETE FROM reservation WHERE schedule_id = 4 AND seat_no = 'D-25'");
}
