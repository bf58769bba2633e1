// Two expiry workers on the same rows expire each one exactly once (issue 4 acceptance 4), and the
// hold path's seat-set cache under a burst of first holds.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
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
