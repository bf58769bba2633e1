#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <latch>

#include "domain/errors.hpp"
#include "infra/mysql/demo_seed.hpp"
#include "infra/mysql/migrations.hpp"
#include "infra/mysql/mysql_dead_letter_store.hpp"
#include "infra/mysql/mysql_pool.hpp"
#include "infra/mysql/row_reader.hpp"
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

TEST(Seed, CreatesVenuesConcertsAndSchedulesThroughTheConsolesCode) {
  prepare_test_database();
  auto db = test_db();
  // Every demo schedule was copied from a venue, as POST /admin/schedules does, and audited as the seed's.
  const auto schedules = db->query(
      "SELECT s.id, v.name, (SELECT COUNT(*) FROM venue_seat vs WHERE vs.venue_id = v.id), "
      "(SELECT COUNT(*) FROM seat WHERE seat.schedule_id = s.id), "
      "(SELECT COUNT(*) FROM admin_audit a WHERE a.action = 'schedule.create' AND a.admin_id = 0 "
      " AND a.target = CONCAT('schedule:', s.id)) "
      "FROM schedule s JOIN venue v ON v.id = s.venue_id WHERE s.id <= 4 ORDER BY s.id");
  ASSERT_EQ(schedules.rows.size(), 4u);
  const std::vector<std::vector<std::string>> expected{{"1", "Olympic Hall", "1000", "1000", "1"},
                                                       {"2", "Grand Arena", "10000", "10000", "1"},
                                                       {"3", "Olympic Hall", "1000", "1000", "1"},
                                                       {"4", "Chamber Hall", "100", "100", "1"}};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    for (std::size_t c = 0; c < expected[i].size(); ++c) {
      EXPECT_EQ(schedules.rows[i][c].value_or("NULL"), expected[i][c]) << "schedule row " << i << " column " << c;
    }
  }
  // The venue's tiers (front sections cost more) reach the schedule's seats.
  const auto tiers = db->query(
      "SELECT section, MIN(price), MAX(price) FROM seat WHERE schedule_id = 4 GROUP BY section ORDER BY section");
  ASSERT_EQ(tiers.rows.size(), 4u);
  EXPECT_EQ(tiers.rows[0][1], "110.00");
  EXPECT_EQ(tiers.rows[3][2], "80.00");
  // Booking is open on 1, 2 and 4 and opens in the future on 3; every show is after its opening.
  const auto open = db->query(
      "SELECT id, booking_opens_at <= UTC_TIMESTAMP(), booking_opens_at < show_at FROM schedule WHERE id <= 4 ORDER BY "
      "id");
  ASSERT_EQ(open.rows.size(), 4u);
  EXPECT_EQ(open.rows[0][1], "1");
  EXPECT_EQ(open.rows[2][1], "0");
  for (const auto& row : open.rows) EXPECT_EQ(row[2], "1") << "schedule " << row[0].value_or("?");
}

TEST(Schema, UniqueActiveKeyForbidsTwoLiveRowsButKeepsHistory) {
  prepare_test_database();
  auto db = test_db();
  db->execute("DELETE FROM reservation WHERE schedule_id = 4 AND seat_no = 'D-25'");
  auto insert = [&](const char* status, const char* active) {
    return db->execute(
        fmt::format("INSERT INTO reservation (user_id, schedule_id, seat_no, status, expires_at, active) "
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

// Values travel as bound parameters: quotes, backslashes and long text come back unchanged, NULL
// is NULL, DATETIME(3) keeps its milliseconds, DECIMAL its cents, and a statement is prepared
// once per connection however often it runs.
TEST(PreparedStatements, ValuesRoundTripUnchangedAndStatementsAreReused) {
  prepare_test_database();
  auto db = test_db();
  const std::string hostile = "it's \\ \"quoted\" '); DROP TABLE seat; -- " + std::string(300, 'x');
  const auto t = domain::parse_sql_datetime("2026-12-03 17:04:05.678").value();
  const auto price = domain::Money::from_decimal_string("123.45").value();
  const std::size_t before = db->prepared_statements();
  for (int i = 0; i < 3; ++i) {
    const auto rows = db->query("SELECT ?, ?, CAST(? AS DATETIME(3)), CAST(? AS DECIMAL(12,2)), ? + 1",
                                {hostile, nullptr, t, price, std::int64_t{41}});
    ASSERT_EQ(rows.rows.size(), 1U);
    infra::mysql::RowReader read(rows.rows[0]);
    EXPECT_EQ(read.text(), hostile);
    EXPECT_FALSE(read.optional_text().has_value());
    EXPECT_EQ(read.timestamp(), t);
    EXPECT_EQ(read.money(), price);
    EXPECT_EQ(read.int64(), 42);
  }
  EXPECT_EQ(db->prepared_statements(), before + 1) << "one statement, prepared once";

  // IN lists are prepared per length; the values never reach the SQL text.
  infra::mysql::Params seats{std::int64_t{1}, "A-1", "A-2", "nope' OR '1'='1"};
  const auto found = db->query(
      "SELECT COUNT(*) FROM seat WHERE schedule_id = ? AND seat_no IN (" + infra::mysql::placeholders(3) + ")", seats);
  EXPECT_EQ(found.rows[0][0], "2");
  EXPECT_THROW(db->query("SELECT ?", {}), std::logic_error) << "a missing parameter is a bug, not a NULL";
}

// Two transactions lock the same two seat rows in opposite orders: MariaDB kills one of them. The
// work does not retry, so the deadlock leaves the pool — as a 503 (DependencyUnavailable: retry),
// never as the MysqlError an HTTP handler would answer 500 (bench/hold-storm found such 500s).
TEST(MysqlPool, ADeadlockTheWorkDidNotRetryAwayIsUnavailableNotAnInternalError) {
  prepare_test_database();
  infra::mysql::MysqlPool pool(test_db_endpoint(), {2, 8, std::chrono::seconds(5)});
  std::latch both_hold_one(2);
  auto lock_in_order = [&](std::string first, std::string second) -> Task<bool> {
    auto work = [&both_hold_one, first, second](infra::mysql::MysqlConnection& db) {
      infra::mysql::Transaction tx(db);
      db.query("SELECT seat_no FROM seat WHERE schedule_id = 1 AND seat_no = ? FOR UPDATE", {first});
      both_hold_one.arrive_and_wait();
      db.query("SELECT seat_no FROM seat WHERE schedule_id = 1 AND seat_no = ? FOR UPDATE", {second});
      tx.commit();
      return true;
    };
    co_return co_await pool.run(work);
  };
  boost::asio::io_context io;
  auto forward = boost::asio::co_spawn(io, lock_in_order("A-1", "A-2"), boost::asio::use_future);
  auto backward = boost::asio::co_spawn(io, lock_in_order("A-2", "A-1"), boost::asio::use_future);
  io.run();
  int committed = 0;
  int unavailable = 0;
  for (auto* outcome : {&forward, &backward}) {
    try {
      committed += outcome->get() ? 1 : 0;
    } catch (const domain::DependencyUnavailable&) {
      ++unavailable;
    }
  }
  EXPECT_EQ(committed, 1) << "the survivor of the deadlock commits";
  EXPECT_EQ(unavailable, 1) << "the victim is reported as a retryable unavailability";
  EXPECT_EQ(pool.stats().rejected, 0U);
}

// Work waiting for a worker is answered 503 when db.pool-wait-timeout has passed, also while every
// worker is still stuck in a call (a database that stopped answering holds them for the whole read
// timeout): it used to wait until a worker came free, 10-14 s for a 2 s setting (found by a fault
// run with MariaDB stopped). Work a worker took is waited for, and the pool serves on afterwards.
TEST(MysqlPool, WorkThatCannotGetAWorkerInTimeIsUnavailableWhileTheWorkersAreStillBusy) {
  prepare_test_database();
  infra::mysql::MysqlPool pool(test_db_endpoint(), {1, 8, std::chrono::milliseconds(200)});
  std::atomic<bool> slow_done{false};
  std::atomic<bool> slow_started{false};
  auto slow = [&]() -> Task<std::string> {
    auto work = [&](infra::mysql::MysqlConnection& db) {
      slow_started = true;
      auto rows = db.query("SELECT SLEEP(2)");
      slow_done = true;
      return rows.rows.at(0).at(0).value_or("");
    };
    co_return co_await pool.run(work);
  };
  bool refused = false;
  bool slow_done_when_refused = true;
  auto queued = [&]() -> Task<void> {
    const auto give_up_at = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!slow_started && std::chrono::steady_clock::now() < give_up_at) {  // the one worker is taken
      boost::asio::steady_timer pause(co_await boost::asio::this_coro::executor, std::chrono::milliseconds(5));
      co_await pause.async_wait(boost::asio::use_awaitable);
    }
    auto work = [](infra::mysql::MysqlConnection& db) { db.query("SELECT 1"); };
    try {
      co_await pool.run(work);
    } catch (const domain::DependencyUnavailable&) {
      refused = true;
      slow_done_when_refused = slow_done;
    }
  };
  boost::asio::io_context io;
  auto slow_result = boost::asio::co_spawn(io, slow(), boost::asio::use_future);
  auto queued_result = boost::asio::co_spawn(io, queued(), boost::asio::use_future);
  io.run();
  EXPECT_EQ(slow_result.get(), "0") << "the work a worker took is waited for";
  queued_result.get();
  EXPECT_TRUE(refused);
  EXPECT_FALSE(slow_done_when_refused) << "refused only once the busy worker came free";
  EXPECT_EQ(pool.stats().rejected, 1U);
  EXPECT_EQ(pool.stats().queued, 0);
  EXPECT_EQ(pool.stats().busy, 0);
  // And it serves on.
  auto after = [&]() -> Task<int> {
    auto work = [](infra::mysql::MysqlConnection& db) { return static_cast<int>(db.query("SELECT 1").rows.size()); };
    co_return co_await pool.run(work);
  };
  boost::asio::io_context again;
  auto served = boost::asio::co_spawn(again, after(), boost::asio::use_future);
  again.run();
  EXPECT_EQ(served.get(), 1);
}

// The consumer may record one poison message twice (dead-lettered again after a restart): one row.
// A topic made again reuses offsets: another message at an old position is a new row (V14), not
// dropped as a duplicate where the console would never show it.
TEST(DeadLetterStore, OneMessageIsOneRowAndANewMessageAtAReusedPositionIsKept) {
  prepare_test_database();
  infra::mysql::MysqlPool pool(test_db_endpoint(), {1, 4, std::chrono::seconds(5)});
  infra::mysql::MysqlDeadLetterStore store(pool);
  const std::string topic = fmt::format("dlq-test-{}", ::getpid());
  domain::DeadLetter letter;
  letter.topic = topic;
  letter.partition = 1;
  letter.offset = 42;
  letter.key = "k";
  letter.payload = R"({"poison":1})";
  letter.error = "unparsable";
  domain::DeadLetter reused = letter;
  reused.payload = R"({"poison":2})";
  const auto record = [&](const domain::DeadLetter& l) {
    boost::asio::io_context io;
    auto done = boost::asio::co_spawn(io, store.record(l), boost::asio::use_future);
    io.run();
    done.get();
  };
  record(letter);
  record(letter);
  record(reused);
  auto db = test_db();
  const auto rows = db->query(fmt::format(
      "SELECT payload FROM dead_letter WHERE topic = '{}' AND partition_no = 1 AND offset_no = 42 ORDER BY id", topic));
  ASSERT_EQ(rows.rows.size(), 2u);
  EXPECT_EQ(*rows.rows[0][0], letter.payload);
  EXPECT_EQ(*rows.rows[1][0], reused.payload);

  // Byte for byte, whatever the bytes: invalid UTF-8 in the payload and the key, a key over 255
  // bytes (V16; text columns made '?' of such bytes, and a refused message could read back as a
  // valid event that a replay then settled).
  domain::DeadLetter raw = letter;
  raw.offset = 43;
  raw.payload = std::string("{\"note\":\"\xff\xfe\"} \x80\x00 tail", 21);
  raw.key = std::string("k\xff\xfe", 3) + std::string(5000, 'k');
  record(raw);
  const auto stored = db->query(fmt::format(
      "SELECT payload, message_key, payload_sha256, SHA2(payload, 256) FROM dead_letter WHERE topic = '{}' AND "
      "offset_no = 43",
      topic));
  ASSERT_EQ(stored.rows.size(), 1u);
  EXPECT_EQ(*stored.rows[0][0], raw.payload);
  EXPECT_EQ(*stored.rows[0][1], *raw.key);
  EXPECT_EQ(*stored.rows[0][2], *stored.rows[0][3]) << "the identity hash is over the bytes stored";
  record(raw);
  EXPECT_EQ(*db->query(fmt::format("SELECT COUNT(*) FROM dead_letter WHERE topic = '{}' AND offset_no = 43", topic))
                 .rows[0][0],
            "1")
      << "recorded twice, one row";
}
