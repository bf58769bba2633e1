// Two expiry workers on the same rows expire each one exactly once (issue 4 acceptance 4), and the
// hold path's seat-set cache under a burst of first holds.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <thread>

#include "infra/mysql/mysql_reservation_repository.hpp"
#include "support.hpp"

using namespace ticketing;
using namespace ticketing::testing;

TEST(HoldExpiry, TwoWorkersExpireEachRowOnce) {
  constexpr int kRows = 400;
  const auto schedule = create_schedule(-60, kRows);
  ensure_users(kRows);
  auto db = test_db();
  std::string values;
  for (int i = 1; i <= kRows; ++i) {
    values += fmt::format("{}({}, {}, 'S-{}', 'HELD', UTC_TIMESTAMP(3) - INTERVAL 1 SECOND, 1)", i == 1 ? "" : ",", i,
                          schedule, i);
  }
  db->execute("INSERT INTO reservation (user_id, schedule_id, seat_no, status, expires_at, active) VALUES " + values);

  // Two workers with their own pools, like two processes, in small batches so they interleave.
  auto endpoint = test_db_endpoint();
  infra::mysql::MysqlPool pool_a(endpoint, {4, 64, std::chrono::seconds(5)});
  infra::mysql::MysqlPool pool_b(endpoint, {4, 64, std::chrono::seconds(5)});
  infra::mysql::SeatLayoutCache layouts_a(pool_a), layouts_b(pool_b);
  infra::mysql::MysqlReservationRepository worker_a(pool_a, layouts_a), worker_b(pool_b, layouts_b);
  auto drain = [](infra::mysql::MysqlReservationRepository& repository) -> Task<std::int64_t> {
    std::int64_t total = 0;
    const auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
    while (true) {
      const auto expired = (co_await repository.expire_holds(now, 7)).expired;
      if (expired == 0) break;
      total += expired;
    }
    co_return total;
  };
  boost::asio::io_context io_a, io_b;
  auto a = boost::asio::co_spawn(io_a, drain(worker_a), boost::asio::use_future);
  auto b = boost::asio::co_spawn(io_b, drain(worker_b), boost::asio::use_future);
  std::thread ta([&] { io_a.run(); }), tb([&] { io_b.run(); });
  ta.join();
  tb.join();
  const auto expired_a = a.get();
  const auto expired_b = b.get();

  // Other tests' stale holds may be expired too; ours must all be, exactly once.
  const auto ours = db->query(fmt::format(
      "SELECT COUNT(*), SUM(status = 'EXPIRED' AND active IS NULL) FROM reservation WHERE schedule_id = {}", schedule));
  EXPECT_EQ(ours.rows[0][0], std::to_string(kRows));
  EXPECT_EQ(ours.rows[0][1], std::to_string(kRows));
  EXPECT_GE(expired_a + expired_b, kRows);
  EXPECT_GT(expired_a, 0) << "worker A never got a batch (no interleaving to prove anything)";
  EXPECT_GT(expired_b, 0) << "worker B never got a batch";
}

// The first holds of a schedule arrive together: one of them loads the seat set, the others check
// only their own seats — and every one of them still answers exactly which seats do not exist.
TEST(SeatCatalogCache, ConcurrentFirstChecksAgreeWhileOneLoads) {
  const auto schedule = create_schedule(-60, 50);
  infra::mysql::MysqlPool pool(test_db_endpoint(), {4, 64, std::chrono::seconds(5)});
  infra::mysql::SeatLayoutCache layouts(pool);
  infra::mysql::MysqlReservationRepository repository(pool, layouts);
  auto check = [&](std::vector<std::string> seats) -> Task<std::vector<std::string>> {
    co_return co_await repository.missing_seats(domain::ScheduleId{schedule}, seats);
  };
  // One io_context thread: the first check takes the load and suspends on the pool, so the others
  // see the load in flight and take the point-lookup path.
  boost::asio::io_context io;
  auto first = boost::asio::co_spawn(io, check({"S-1", "Z-9"}), boost::asio::use_future);
  auto second = boost::asio::co_spawn(io, check({"S-2", "S-50", "S-51"}), boost::asio::use_future);
  auto third = boost::asio::co_spawn(io, check({"nope", "S-3"}), boost::asio::use_future);
  io.run();
  EXPECT_EQ(first.get(), (std::vector<std::string>{"Z-9"}));
  EXPECT_EQ(second.get(), (std::vector<std::string>{"S-51"}));
  EXPECT_EQ(third.get(), (std::vector<std::string>{"nope"}));

  // After the load, answers come from the cached set.
  io.restart();
  auto cached = boost::asio::co_spawn(io, check({"S-49", "S-0", "S-50"}), boost::asio::use_future);
  io.run();
  EXPECT_EQ(cached.get(), (std::vector<std::string>{"S-0"}));
  EXPECT_EQ(layouts.loads(), 1U) << "the burst loaded the seat set more than once";
  EXPECT_EQ(pool.stats().acquired, 3U) << "one full load and two point lookups, then the cache";
}

namespace {

using HoldKind = domain::HoldOutcome::Kind;

// Runs `holds` (one seat list each) for one user in parallel on `pool`, all at once.
std::vector<domain::HoldOutcome> parallel_holds(infra::mysql::MysqlReservationRepository& repository,
                                                std::int64_t schedule, std::int64_t user,
                                                const std::vector<std::vector<std::string>>& holds,
                                                domain::Timestamp now, int max_seats) {
  boost::asio::io_context io;
  std::vector<std::future<domain::HoldOutcome>> futures;
  for (const auto& seats : holds) {
    futures.push_back(boost::asio::co_spawn(
        io,
        [&repository, schedule, user, seats, now, max_seats]() -> Task<domain::HoldOutcome> {
          co_return co_await repository.hold(domain::ScheduleId{schedule}, domain::UserId{user}, seats, now,
                                             now + std::chrono::minutes(5), max_seats);
        },
        boost::asio::use_future));
  }
  io.run();
  std::vector<domain::HoldOutcome> outcomes;
  for (auto& f : futures) outcomes.push_back(f.get());
  return outcomes;
}

std::string scalar(const std::string& sql) {
  return test_db()->query(sql).rows.at(0).at(0).value_or("NULL");
}

domain::Timestamp db_now() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

}  // namespace

// The first hold is one INSERT whose unique keys (seat, and the user's seat slots) decide; parallel
// holds of one user race on those slots and on the locked path, and still never pass the limit.
TEST(HoldSlots, ParallelHoldsOfOneUserNeverPassTheLimit) {
  const auto schedule = create_schedule(-60, 40);
  ensure_users(30);
  infra::mysql::MysqlPool pool(test_db_endpoint(), {8, 64, std::chrono::seconds(5)});
  infra::mysql::SeatLayoutCache layouts(pool);
  infra::mysql::MysqlReservationRepository repository(pool, layouts);
  std::vector<std::vector<std::string>> holds;
  for (int i = 1; i <= 8; ++i) holds.push_back({"S-" + std::to_string(i)});
  holds.push_back({"S-20", "S-21"});
  const auto outcomes = parallel_holds(repository, schedule, 21, holds, db_now(), 4);
  int held = 0;
  for (const auto& outcome : outcomes) {
    if (outcome.kind == HoldKind::kHeld) held += static_cast<int>(outcome.seats.size());
    EXPECT_NE(outcome.kind, HoldKind::kSeatsTaken) << "nobody else holds these seats";
  }
  EXPECT_EQ(held, 4) << "the limit is 4 seats and there were 10 to take";
  EXPECT_EQ(scalar(fmt::format("SELECT COUNT(*) FROM reservation WHERE schedule_id = {} AND user_id = 21 "
                               "AND active = 1",
                               schedule)),
            "4");
  EXPECT_EQ(scalar(fmt::format("SELECT COUNT(DISTINCT holder_slot) FROM reservation WHERE schedule_id = {} "
                               "AND user_id = 21 AND active = 1 AND holder_slot BETWEEN 1 AND 4",
                               schedule)),
            "4");
}

// A lapsed hold of the user's (not yet expired by the job) keeps its slot until the user holds
// again: then it ends (EXPIRED, named in the events) and the new hold gets the slot.
TEST(HoldSlots, OwnLapsedHoldEndsWhenTheUserHoldsAgain) {
  const auto schedule = create_schedule(-60, 10);
  ensure_users(30);
  auto db = test_db();
  db->execute(fmt::format(
      "INSERT INTO reservation (user_id, schedule_id, seat_no, status, expires_at, active, holder_slot) VALUES "
      "(22, {0}, 'S-1', 'HELD', UTC_TIMESTAMP(3) - INTERVAL 1 SECOND, 1, 1), "
      "(22, {0}, 'S-2', 'HELD', UTC_TIMESTAMP(3) + INTERVAL 1 MINUTE, 1, 2)",
      schedule));
  infra::mysql::MysqlPool pool(test_db_endpoint(), {2, 64, std::chrono::seconds(5)});
  infra::mysql::SeatLayoutCache layouts(pool);
  infra::mysql::MysqlReservationRepository repository(pool, layouts);
  const auto outcome = parallel_holds(repository, schedule, 22, {{"S-3"}}, db_now(), 2).at(0);
  ASSERT_EQ(outcome.kind, HoldKind::kHeld) << "S-1 lapsed: the user holds one live seat of 2";
  ASSERT_EQ(outcome.events.size(), 2U);
  EXPECT_EQ(outcome.events[0],
            (domain::SeatChanged{domain::ScheduleId{schedule}, {"S-1"}, domain::SeatChange::kExpired}));
  EXPECT_EQ(outcome.events[1], (domain::SeatChanged{domain::ScheduleId{schedule}, {"S-3"}, domain::SeatChange::kHeld}));
  EXPECT_EQ(scalar(fmt::format("SELECT CONCAT(status, ':', COALESCE(active, 'x')) FROM reservation WHERE "
                               "schedule_id = {} AND seat_no = 'S-1'",
                               schedule)),
            "EXPIRED:x");
  EXPECT_EQ(scalar(fmt::format("SELECT holder_slot FROM reservation WHERE schedule_id = {} AND seat_no = 'S-3' "
                               "AND active = 1",
                               schedule)),
            "1");
  // At the limit now: a third seat is refused, and nothing is written.
  EXPECT_EQ(parallel_holds(repository, schedule, 22, {{"S-4"}}, db_now(), 2).at(0).kind, HoldKind::kLimitExceeded);
}

// Two holds of one user for the same seats in opposite orders race on the seat and slot keys (a
// deadlock between the two INSERTs is possible): one gets the seats, the other is told they are
// taken — never an error.
TEST(HoldSlots, OppositeOrderHoldsOfOneUserEndAsOneHoldAndOneConflict) {
  const auto schedule = create_schedule(-60, 10);
  ensure_users(30);
  infra::mysql::MysqlPool pool(test_db_endpoint(), {4, 64, std::chrono::seconds(5)});
  infra::mysql::SeatLayoutCache layouts(pool);
  infra::mysql::MysqlReservationRepository repository(pool, layouts);
  for (int round = 0; round < 10; ++round) {
    const std::string a = "S-" + std::to_string(round + 1), b = "S-" + std::to_string(10 - round);
    if (a >= b) break;
    std::vector<domain::HoldOutcome> outcomes;
    ASSERT_NO_THROW(outcomes = parallel_holds(repository, schedule, 23, {{a, b}, {b, a}}, db_now(), 4));
    const int held = (outcomes[0].kind == HoldKind::kHeld) + (outcomes[1].kind == HoldKind::kHeld);
    EXPECT_EQ(held, 1) << "round " << round;
    // Release by expiring them, so the next round starts with free slots.
    test_db()->execute(
        fmt::format("UPDATE reservation SET status = 'EXPIRED', active = NULL WHERE schedule_id = {} "
                    "AND user_id = 23 AND active = 1",
                    schedule));
  }
}

// A schedule with a live row outside the slots (an old binary's insert, or a lowered limit) takes
// the locked path for its holds, so the limit still holds for that user.
TEST(HoldSlots, LiveRowWithoutASlotSendsTheScheduleToTheLockedPath) {
  const auto schedule = create_schedule(-60, 10);
  ensure_users(30);
  auto db = test_db();
  db->execute(
      fmt::format("INSERT INTO reservation (user_id, schedule_id, seat_no, status, expires_at, active) "
                  "VALUES (24, {}, 'S-1', 'HELD', UTC_TIMESTAMP(3) + INTERVAL 1 MINUTE, 1)",
                  schedule));
  infra::mysql::MysqlPool pool(test_db_endpoint(), {2, 64, std::chrono::seconds(5)});
  infra::mysql::SeatLayoutCache layouts(pool);
  infra::mysql::MysqlReservationRepository repository(pool, layouts);
  // Slot 1 is free by the key (the old row has none), but the user holds one seat of a limit of 1.
  EXPECT_EQ(parallel_holds(repository, schedule, 24, {{"S-2"}}, db_now(), 1).at(0).kind, HoldKind::kLimitExceeded);
  EXPECT_EQ(parallel_holds(repository, schedule, 25, {{"S-3"}}, db_now(), 1).at(0).kind, HoldKind::kHeld);
}
