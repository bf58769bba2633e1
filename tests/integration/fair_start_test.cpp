// The pre-queue's fair start (DESIGN.md §15, issue 17 item 1) against the real Redis and MariaDB:
// 1,000 users pre-queued through two API processes, the opening applied by two racing worker
// processes, the waiting line equal to the order recomputed from the revealed seed, late users
// behind; the shuffle applied exactly once by racing openers in-process; the endpoint's edges.
#include "application/fair_start.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <cstdlib>
#include <fstream>
#include <set>
#include <thread>

#include "domain/errors.hpp"
#include "domain/ports/clock.hpp"
#include "infra/redis/redis_client.hpp"
#include "infra/redis/redis_options.hpp"
#include "infra/redis/redis_prequeue_store.hpp"
#include "infra/redis/redis_queue_store.hpp"
#include "infra/security/sodium_fairness_crypto.hpp"
#include "support.hpp"

using namespace ticketing;
using namespace ticketing::testing;
namespace json = boost::json;

namespace {

std::string key(std::int64_t schedule, const char* suffix) {
  return infra::redis::RedisQueueStore::key(domain::ScheduleId{schedule}, suffix);
}

// A schedule whose pre-queue opened a minute ago and whose booking opens in an hour (the test
// moves the opening with set_opening). PAUSED in the database and in Redis, so admission takes
// nobody and the whole waiting line can be compared with the shuffle.
std::int64_t create_prequeue_schedule(const char* sale_state = "PAUSED", int prequeue_in_seconds = -60) {
  prepare_test_database();
  auto db = test_db();
  db->execute(
      "INSERT IGNORE INTO concert (id, title, description) VALUES (1000, 'Integration tests', 'test schedules')");
  const auto result = db->execute(
      fmt::format("INSERT INTO schedule (concert_id, show_at, booking_opens_at, prequeue_opens_at, sale_state) VALUES "
                  "(1000, UTC_TIMESTAMP(3) + INTERVAL 30 DAY, UTC_TIMESTAMP(3) + INTERVAL 1 HOUR, "
                  "UTC_TIMESTAMP(3) + INTERVAL {} SECOND, '{}')",
                  prequeue_in_seconds, sale_state));
  const auto id = static_cast<std::int64_t>(result.last_insert_id);
  RedisInspector redis;
  redis.integer({"HSET", key(id, "settings"), "state", sale_state});
  return id;
}

void set_opening(std::int64_t schedule, int in_seconds) {
  test_db()->execute(
      fmt::format("UPDATE schedule SET booking_opens_at = UTC_TIMESTAMP(3) + INTERVAL {} SECOND "
                  "WHERE id = {}",
                  in_seconds, schedule));
}

json::object fairness_of(std::uint16_t port, std::int64_t schedule) {
  const auto response = http(port, "GET", fmt::format("/schedules/{}/fairness", schedule));
  EXPECT_EQ(response.status, 200) << response.raw;
  return json::parse(response.body).as_object();
}

std::string enter_body(std::int64_t schedule) {
  return fmt::format(R"({{"scheduleId":{}}})", schedule);
}

std::vector<std::int64_t> waiting_line(RedisInspector& redis, std::int64_t schedule) {
  std::vector<std::int64_t> users;
  for (const auto& m : redis.strings({"ZRANGE", key(schedule, "waiting"), "0", "-1"})) users.push_back(std::stoll(m));
  return users;
}

// The order the reveal implies: users sorted by HMAC-SHA256(seed, decimal id).
std::vector<domain::FairnessEntry> recomputed_order(const std::string& seed_hex, std::int64_t first,
                                                    std::int64_t last) {
  const infra::security::SodiumFairnessCrypto crypto;
  const auto seed = domain::digest_from_hex(seed_hex);
  EXPECT_TRUE(seed);
  std::vector<domain::FairnessEntry> entries;
  for (auto user = first; user <= last; ++user) {
    entries.push_back(
        {domain::UserId{user}, crypto.hmac_sha256(*seed, domain::fairness_message(domain::UserId{user}))});
  }
  domain::sort_fair_order(entries);
  return entries;
}

int run_binary(const std::string& arguments) {
  const int status = std::system(fmt::format("{} {} >/dev/null 2>&1", TICKETING_BINARY, arguments).c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST(FairStartIT, ThousandUsersPrequeuedAcrossProcessesGetOneShuffleEqualToTheRevealedOrder) {
  constexpr std::int64_t kUsers = 1000;
  ensure_users(kUsers + 20);
  const std::vector<std::string> sets{"queue.admission-interval=100ms", "queue.heartbeat-timeout=1h",
                                      "queue.active-ttl=1h"};
  ServerProcess api_a(with(sets, {"role=api"}));
  ServerProcess api_b(with(sets, {"role=api"}));
  ServerProcess worker_a(with(sets, {"role=worker"}));
  ServerProcess worker_b(with(sets, {"role=worker"}));
  const auto schedule = create_prequeue_schedule();
  RedisInspector redis;

  // The pre-queue is open: the commitment is published, the seed is not.
  auto before = fairness_of(api_a.port(), schedule);
  EXPECT_EQ(before.at("phase").as_string(), "PREQUEUE");
  ASSERT_TRUE(before.at("commitment").is_string());
  const std::string commitment(before.at("commitment").as_string());
  EXPECT_EQ(commitment.size(), 64u);
  EXPECT_TRUE(before.at("seed").is_null());
  EXPECT_TRUE(before.at("order").as_array().empty());

  // 1,000 users enter from 8 threads through both API processes.
  std::atomic<std::int64_t> next{1};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (auto user = next.fetch_add(1); user <= kUsers; user = next.fetch_add(1)) {
        const auto port = (user + t) % 2 == 0 ? api_a.port() : api_b.port();
        const auto response = http(port, "POST", "/queue/enter", enter_body(schedule), as_user(user));
        const bool prequeued =
            response.status == 200 && response.body.find(R"("status":"PREQUEUED")") != std::string::npos &&
            response.body.find("position") == std::string::npos && response.body.find("token") == std::string::npos &&
            response.body.find("opensAt") != std::string::npos;
        if (!prequeued) {
          ADD_FAILURE() << "user " << user << ": " << response.raw;
          failures.fetch_add(1);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_EQ(failures.load(), 0);
  EXPECT_EQ(redis.integer({"ZCARD", key(schedule, "pre")}), kUsers);

  // Idempotent, one place per account; status answers the same; no token is 401. (Entering again is
  // paced like a status call: the test drops user 1's pacing record, as the advice's time passing would.)
  const auto pace_of_1 = key(schedule, "pace:1");
  redis.integer({"DEL", pace_of_1});
  auto again = http(api_b.port(), "POST", "/queue/enter", enter_body(schedule), as_user(1));
  EXPECT_EQ(again.status, 200);
  EXPECT_NE(again.body.find("PREQUEUED"), std::string::npos);
  redis.integer({"DEL", pace_of_1});
  auto status = http(api_a.port(), "GET", fmt::format("/queue/status?scheduleId={}", schedule), "", as_user(1));
  EXPECT_EQ(status.status, 200) << status.raw;
  EXPECT_NE(status.body.find("PREQUEUED"), std::string::npos);
  EXPECT_NE(status.body.find("pollAfterMs"), std::string::npos);
  // Pre-queued status calls are paced like a waiter's (DESIGN.md §15): one right after is 429, on
  // any instance, with Retry-After, and changes nothing.
  const auto too_soon = http(api_b.port(), "GET", fmt::format("/queue/status?scheduleId={}", schedule), "", as_user(1));
  EXPECT_EQ(too_soon.status, 429) << too_soon.raw;
  EXPECT_FALSE(too_soon.header("retry-after").empty()) << too_soon.raw;
  EXPECT_EQ(redis.integer({"ZCARD", key(schedule, "pre")}), kUsers);
  EXPECT_EQ(http(api_a.port(), "POST", "/queue/enter", enter_body(schedule)).status, 401);
  EXPECT_EQ(http(api_a.port(), "GET", fmt::format("/queue/status?scheduleId={}", schedule)).status, 401);
  // Another user (not queued) is 404, whatever user 1 holds.
  EXPECT_EQ(
      http(api_a.port(), "GET", fmt::format("/queue/status?scheduleId={}", schedule), "", as_user(kUsers + 11)).status,
      404);
  // Leaving the pre-queue.
  const std::int64_t leaver = kUsers + 11;
  EXPECT_EQ(http(api_a.port(), "POST", "/queue/enter", enter_body(schedule), as_user(leaver)).status, 200);
  EXPECT_EQ(http(api_b.port(), "DELETE", fmt::format("/queue?scheduleId={}", schedule), "", as_user(leaver)).status,
            204);
  EXPECT_EQ(http(api_a.port(), "GET", fmt::format("/queue/status?scheduleId={}", schedule), "", as_user(leaver)).status,
            404);
  EXPECT_EQ(redis.integer({"ZCARD", key(schedule, "pre")}), kUsers);
  // The console's stats count the pre-queue.
  const auto admin_stats = http(api_a.port(), "GET", fmt::format("/admin/schedules/{}/stats", schedule), "",
                                {{"Authorization", "Bearer " + access_token(kUsers + 20, true)}});
  ASSERT_EQ(admin_stats.status, 200) << admin_stats.raw;
  EXPECT_EQ(json::parse(admin_stats.body).at("prequeued").as_int64(), kUsers);
  // Still sealed before the opening, the commitment unchanged.
  before = fairness_of(api_b.port(), schedule);
  EXPECT_TRUE(before.at("seed").is_null());
  EXPECT_EQ(before.at("commitment").as_string(), commitment);
  EXPECT_EQ(before.at("preQueued").as_int64(), kUsers);

  // The opening: both workers race to apply it.
  set_opening(schedule, 1);
  json::object reveal;
  ASSERT_TRUE(wait_for(
      [&] {
        reveal = fairness_of(api_a.port(), schedule);
        return reveal.at("appliedAt").is_string();
      },
      std::chrono::seconds(30), std::chrono::milliseconds(100)))
      << "the shuffle was not applied";
  EXPECT_EQ(reveal.at("phase").as_string(), "OPEN");
  EXPECT_EQ(reveal.at("commitment").as_string(), commitment);
  const std::string seed(reveal.at("seed").as_string());
  const infra::security::SodiumFairnessCrypto crypto;
  EXPECT_EQ(domain::to_hex(crypto.sha256(domain::as_bytes_view(*domain::digest_from_hex(seed)))), commitment)
      << "SHA-256(seed) is the commitment";
  EXPECT_EQ(reveal.at("preQueued").as_int64(), kUsers);
  EXPECT_EQ(reveal.at("late").as_int64(), 0);

  const auto expected = recomputed_order(seed, 1, kUsers);
  std::vector<std::int64_t> expected_users;
  std::vector<std::string> expected_macs;
  for (const auto& entry : expected) {
    expected_users.push_back(entry.user.value);
    expected_macs.push_back(domain::to_hex(entry.mac));
  }
  std::vector<std::string> order;
  for (const auto& mac : reveal.at("order").as_array()) order.emplace_back(mac.as_string());
  EXPECT_EQ(order, expected_macs) << "the revealed order is the sorted HMACs";
  EXPECT_EQ(waiting_line(redis, schedule), expected_users) << "the waiting line is the revealed order";
  EXPECT_EQ(redis.integer({"EXISTS", key(schedule, "pre")}), 0);

  // A pre-queued user's poll now shows their place; late users queue behind everyone.
  const auto first = expected_users.front();
  const auto tenth = expected_users[9];
  // (Their last advice was for an opening an hour away; the test brought it forward, so their pacing
  // records go as time would have taken them.)
  for (const auto user : {first, tenth})
    redis.integer({"DEL", key(schedule, ("pace:" + std::to_string(user)).c_str())});
  status = http(api_b.port(), "GET", fmt::format("/queue/status?scheduleId={}", schedule), "", as_user(first));
  EXPECT_NE(status.body.find(R"("status":"WAITING","position":1,)"), std::string::npos) << status.body;
  status = http(api_a.port(), "GET", fmt::format("/queue/status?scheduleId={}", schedule), "", as_user(tenth));
  EXPECT_NE(status.body.find(R"("position":10,)"), std::string::npos) << status.body;
  for (std::int64_t late = 1; late <= 10; ++late) {
    const auto response = http(late % 2 == 0 ? api_a.port() : api_b.port(), "POST", "/queue/enter",
                               enter_body(schedule), as_user(kUsers + late));
    EXPECT_NE(response.body.find(fmt::format(R"("status":"WAITING","position":{},)", kUsers + late)), std::string::npos)
        << response.raw;
  }
  const auto line = waiting_line(redis, schedule);
  ASSERT_EQ(line.size(), static_cast<std::size_t>(kUsers + 10));
  EXPECT_EQ(std::vector<std::int64_t>(line.begin(), line.begin() + kUsers), expected_users);

  // The reveal outlives the pre-queue (cacheable now: it never changes) and verifies with the CLI.
  const auto saved = http(api_b.port(), "GET", fmt::format("/schedules/{}/fairness", schedule));
  EXPECT_EQ(saved.header("cache-control"), "public, max-age=3600");
  const std::string file = fmt::format("/tmp/fairness-{}-{}.json", schedule, ::getpid());
  std::ofstream(file) << saved.body;
  EXPECT_EQ(run_binary(fmt::format("fairness verify {} --user {} --mac {}", file, first, expected_macs.front())), 0);
  EXPECT_EQ(run_binary(fmt::format("fairness verify {} --user {} --mac {}", file, first, expected_macs.back())), 1);
  std::string text;
  {
    std::ifstream in(file);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const auto at = text.find(seed);
  ASSERT_NE(at, std::string::npos);
  text[at] = text[at] == '0' ? '1' : '0';  // another seed: the commitment no longer matches
  std::ofstream(file) << text;
  EXPECT_EQ(run_binary("fairness verify " + file), 1);
  std::remove(file.c_str());
}

// Several openers (threads with their own Redis connection, as several workers) race to apply the
// same opening while users keep entering: exactly one applies it, every pre-queued user is placed
// by the shuffle, and whoever entered during the race queues behind all of them.
TEST(FairStartIT, RacingOpenersApplyTheShuffleExactlyOnceAndRacingEntrantsQueueBehind) {
  constexpr std::int64_t kUsers = 500;
  constexpr int kOpeners = 4;
  const auto schedule_id = create_prequeue_schedule();
  const domain::ScheduleId schedule{schedule_id};
  const auto config = test_config();
  const auto options = infra::redis::parse_redis_url(config.redis.url);

  // One io_context and thread per opener (a Redis connection lives on its context's thread).
  struct Opener {
    boost::asio::io_context io{1};
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
    std::thread thread;
    std::unique_ptr<infra::redis::RedisClient> redis;
    std::unique_ptr<infra::redis::RedisPrequeueStore> store;
    std::unique_ptr<infra::redis::RedisQueueStore> queue;
  };
  class NoCatalog final : public domain::CatalogRepository {
   public:
    Task<std::vector<domain::Concert>> list_concerts() override { co_return std::vector<domain::Concert>{}; }
    Task<std::optional<std::vector<domain::Schedule>>> list_schedules(domain::ConcertId) override {
      co_return std::nullopt;
    }
    Task<std::optional<domain::Schedule>> find_schedule(domain::ScheduleId) override { co_return std::nullopt; }
    Task<std::optional<domain::SeatMap>> seat_map(domain::ScheduleId) override { co_return std::nullopt; }
    Task<domain::SeatLayoutSeats> seat_layout(domain::ScheduleId) override { co_return nullptr; }
    Task<std::vector<domain::PriceTier>> price_tiers(domain::ScheduleId) override {
      co_return std::vector<domain::PriceTier>{};
    }
  } catalog;
  domain::SystemClock clock;
  infra::security::SodiumFairnessCrypto crypto;
  std::vector<std::unique_ptr<Opener>> openers;
  for (int i = 0; i < kOpeners + 1; ++i) {
    auto opener = std::make_unique<Opener>();
    opener->redis =
        std::make_unique<infra::redis::RedisClient>(std::vector<boost::asio::io_context*>{&opener->io}, options);
    opener->store = std::make_unique<infra::redis::RedisPrequeueStore>(*opener->redis);
    opener->queue = std::make_unique<infra::redis::RedisQueueStore>(*opener->redis, domain::QueuePolicy{});
    opener->thread = std::thread([io = &opener->io] { io->run(); });
    openers.push_back(std::move(opener));
  }
  auto run = [](Opener& opener, auto task) {
    return boost::asio::co_spawn(opener.io, std::move(task), boost::asio::use_future).get();
  };
  const auto opens_at = clock.now();
  for (std::int64_t user = 1; user <= kUsers; ++user) {
    ASSERT_EQ(run(*openers[0], openers[0]->store->enter(schedule, domain::UserId{user}, opens_at, false)),
              domain::PrequeueEntry::kPrequeued);
  }

  std::atomic<bool> go{false};
  std::atomic<int> applied{0};
  std::vector<std::thread> threads;
  std::vector<std::int64_t> racers;  // entered during the race, in the order their enter returned
  for (int i = 0; i < kOpeners; ++i) {
    threads.emplace_back([&, i] {
      application::FairStart fair(*openers[i]->store, catalog, crypto, clock);
      while (!go.load()) std::this_thread::yield();
      const auto report = run(*openers[i], fair.open(schedule));
      if (report.applied.applied) applied.fetch_add(1);
    });
  }
  threads.emplace_back([&] {
    auto& entrant = *openers[kOpeners];
    while (!go.load()) std::this_thread::yield();
    for (std::int64_t user = kUsers + 1; user <= kUsers + 30; ++user) {
      const auto entry = run(entrant, entrant.store->enter(schedule, domain::UserId{user}, opens_at, true));
      if (entry == domain::PrequeueEntry::kApplied) {
        run(entrant, entrant.queue->enter(schedule, domain::UserId{user}, clock.now(), domain::EnterGate{}));
      }
      racers.push_back(user);
    }
  });
  go.store(true);
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(applied.load(), 1) << "exactly one opener applies the shuffle";

  RedisInspector redis;
  const auto line = waiting_line(redis, schedule_id);
  ASSERT_EQ(line.size(), static_cast<std::size_t>(kUsers + 30));
  const auto seed = redis.string({"HGET", key(schedule_id, "fair"), "seed"});
  ASSERT_TRUE(seed);
  const auto late = std::stoll(*redis.string({"HGET", key(schedule_id, "fair"), "late"}));
  const auto ordered = std::stoll(*redis.string({"HGET", key(schedule_id, "fair"), "pre_queued"}));
  EXPECT_EQ(ordered, kUsers) << "users entering after the opening are never shuffled";
  // The shuffled block: the 500 plus any racer the openers' read already saw, in HMAC order.
  std::vector<std::int64_t> shuffled(line.begin(), line.begin() + ordered);
  const infra::security::SodiumFairnessCrypto check;
  const auto seed_digest = *domain::digest_from_hex(*seed);
  std::vector<domain::FairnessEntry> entries;
  for (const auto user : shuffled) {
    entries.push_back(
        {domain::UserId{user}, check.hmac_sha256(seed_digest, domain::fairness_message(domain::UserId{user}))});
  }
  auto sorted = entries;
  domain::sort_fair_order(sorted);
  std::vector<std::int64_t> sorted_users;
  for (const auto& e : sorted) sorted_users.push_back(e.user.value);
  EXPECT_EQ(shuffled, sorted_users);
  std::set<std::int64_t> shuffled_set(shuffled.begin(), shuffled.end());
  for (std::int64_t user = 1; user <= kUsers; ++user) {
    EXPECT_TRUE(shuffled_set.contains(user)) << "pre-queued user " << user << " was not placed by the shuffle";
  }
  // Everyone after the shuffled block is a racer, in arrival order (late ones first, then FIFO).
  std::vector<std::int64_t> behind(line.begin() + ordered, line.end());
  std::vector<std::int64_t> racers_behind;
  for (const auto user : racers) {
    if (!shuffled_set.contains(user)) racers_behind.push_back(user);
  }
  EXPECT_EQ(behind, racers_behind);
  EXPECT_EQ(static_cast<std::int64_t>(behind.size()), (kUsers + 30) - ordered);
  EXPECT_LE(late, static_cast<std::int64_t>(behind.size()));
  for (auto& opener : openers) {
    opener->redis->close_all();
    opener->work.reset();
    opener->io.stop();
    opener->thread.join();
  }
}

TEST(FairStartIT, FairnessEndpointEdges) {
  prepare_test_database();
  TestServer server({"role=api"});
  const auto port = server.port();
  EXPECT_EQ(http(port, "GET", "/schedules/999999999/fairness").status, 404);
  for (const char* bad : {"abc", "0", "-1", "01", "1.5"}) {
    const auto response = http(port, "GET", fmt::format("/schedules/{}/fairness", bad));
    EXPECT_EQ(response.status, 400) << bad << ": " << response.raw;
    EXPECT_NE(response.body.find("INVALID_ARGUMENT"), std::string::npos);
  }
  EXPECT_EQ(http(port, "POST", "/schedules/1/fairness", "{}", {{"Content-Type", "application/json"}}).status, 405);

  // No pre-queue: nothing to commit to; enter before the opening is still 409 BOOKING_NOT_OPEN.
  ensure_users(3);
  const auto plain = create_schedule(3600);
  auto view = fairness_of(port, plain);
  EXPECT_TRUE(view.at("prequeueOpensAt").is_null());
  EXPECT_TRUE(view.at("commitment").is_null());
  EXPECT_EQ(view.at("phase").as_string(), "CLOSED");
  auto response = http(port, "POST", "/queue/enter", enter_body(plain), as_user(1));
  EXPECT_EQ(response.status, 409);
  EXPECT_NE(response.body.find("BOOKING_NOT_OPEN"), std::string::npos);

  // Before the pre-queue opens: known times, no commitment, enter refused.
  const auto later = create_prequeue_schedule("OPEN", 600);
  view = fairness_of(port, later);
  EXPECT_TRUE(view.at("prequeueOpensAt").is_string());
  EXPECT_TRUE(view.at("commitment").is_null());
  EXPECT_TRUE(view.at("seed").is_null());
  EXPECT_EQ(view.at("phase").as_string(), "BEFORE_PREQUEUE");
  response = http(port, "POST", "/queue/enter", enter_body(later), as_user(1));
  EXPECT_EQ(response.status, 409);
  EXPECT_NE(response.body.find("pre-queue"), std::string::npos);

  // A CLOSED sale takes nobody into its pre-queue either.
  const auto closed = create_prequeue_schedule("CLOSED");
  test_db()->execute(
      fmt::format("UPDATE schedule SET sale_state = 'OPEN' WHERE id = {}", closed));  // Redis says CLOSED
  response = http(port, "POST", "/queue/enter", enter_body(closed), as_user(2));
  EXPECT_EQ(response.status, 409) << response.raw;
}

// A pre-queued user's status call is paced (DESIGN.md §15: 429 with Retry-After and pollAfterMs,
// nothing written) and entering again then answers the place and writes nothing (enter is
// idempotent, §5); a CLOSED sale keeps their place as it keeps a waiter's: their enter answers
// PREQUEUED while a newcomer's is 409.
TEST(FairStartIT, APrequeuedUsersEnterIsPacedAndKeepsItsPlaceWhenTheSaleCloses) {
  ensure_users(3);
  TestServer server({"role=api"});
  const auto port = server.port();
  const auto schedule = create_prequeue_schedule("OPEN");
  set_opening(schedule, 8);  // advice ~4 s (half the time left): the test waits ~2 s for the pacing
  const auto first = http(port, "POST", "/queue/enter", enter_body(schedule), as_user(1));
  ASSERT_EQ(first.status, 200) << first.raw;
  EXPECT_EQ(json::parse(first.body).at("status").as_string(), "PREQUEUED");
  const auto poll_after = json::parse(first.body).at("pollAfterMs").as_int64();
  RedisInspector redis;
  const auto paced = redis.string({"GET", key(schedule, "pace:1")});
  ASSERT_TRUE(paced) << "a first enter starts the pacing";
  for (const char* method : {"POST", "GET"}) {
    const auto again = std::string(method) == "POST"
                           ? http(port, "POST", "/queue/enter", enter_body(schedule), as_user(1))
                           : http(port, "GET", fmt::format("/queue/status?scheduleId={}", schedule), "", as_user(1));
    if (std::string(method) == "POST") {
      EXPECT_EQ(again.status, 200) << again.raw;
      EXPECT_EQ(json::parse(again.body).at("status").as_string(), "PREQUEUED");
    } else {
      EXPECT_EQ(again.status, 429) << again.raw;
      EXPECT_FALSE(again.header("retry-after").empty());
    }
    EXPECT_GE(json::parse(again.body).at("pollAfterMs").as_int64(), 1000);
  }
  EXPECT_EQ(redis.string({"GET", key(schedule, "pace:1")}), paced) << "an early enter moved the pacing";
  // Leaving takes the pacing record along: coming back is a new arrival (200), never a 429 that put
  // the user back in the pre-queue all the same.
  ASSERT_EQ(http(port, "DELETE", fmt::format("/queue?scheduleId={}", schedule), "", as_user(1)).status, 204);
  EXPECT_FALSE(redis.string({"ZSCORE", key(schedule, "pre"), "1"}));
  EXPECT_FALSE(redis.string({"GET", key(schedule, "pace:1")}));
  const auto back = http(port, "POST", "/queue/enter", enter_body(schedule), as_user(1));
  EXPECT_EQ(back.status, 200) << back.raw;
  EXPECT_TRUE(redis.string({"ZSCORE", key(schedule, "pre"), "1"}));

  // The operator closes the sale: the pre-queued user still gets their place (once the pacing
  // allows), a newcomer does not.
  ASSERT_EQ(http(port, "PUT", fmt::format("/admin/schedules/{}/sale-state", schedule), R"({"state":"CLOSED"})",
                 {{"Authorization", "Bearer " + access_token(3, /*admin=*/true)}, {"Content-Type", "application/json"}})
                .status,
            200);
  const auto newcomer = http(port, "POST", "/queue/enter", enter_body(schedule), as_user(2));
  EXPECT_EQ(newcomer.status, 409) << newcomer.raw;
  EXPECT_NE(newcomer.body.find("SALE_CLOSED"), std::string::npos) << newcomer.raw;
  HttpResponse kept;
  ASSERT_TRUE(wait_for(
      [&] {
        kept = http(port, "POST", "/queue/enter", enter_body(schedule), as_user(1));
        return kept.status != 429;
      },
      std::chrono::milliseconds(poll_after + 3000), std::chrono::milliseconds(200)));
  EXPECT_EQ(kept.status, 200) << kept.raw;
  EXPECT_EQ(json::parse(kept.body).at("status").as_string(), "PREQUEUED");
}

// A commitment published for a pre-queue nobody joined still gets its reveal at the opening, and
// the first user after it simply queues first.
TEST(FairStartIT, AnEmptyPrequeueIsRevealedToo) {
  prepare_test_database();
  ensure_users(3);
  TestServer server({"queue.admission-interval=100ms"});  // role all: the fair-start job runs here
  const auto schedule = create_prequeue_schedule();
  const auto before = fairness_of(server.port(), schedule);
  ASSERT_TRUE(before.at("commitment").is_string());
  set_opening(schedule, 0);
  json::object reveal;
  ASSERT_TRUE(wait_for(
      [&] {
        reveal = fairness_of(server.port(), schedule);
        return reveal.at("appliedAt").is_string();
      },
      std::chrono::seconds(20), std::chrono::milliseconds(100)));
  EXPECT_EQ(reveal.at("commitment"), before.at("commitment"));
  EXPECT_EQ(reveal.at("preQueued").as_int64(), 0);
  EXPECT_TRUE(reveal.at("order").as_array().empty());
  const infra::security::SodiumFairnessCrypto crypto;
  const auto seed = domain::digest_from_hex(std::string(reveal.at("seed").as_string()));
  ASSERT_TRUE(seed);
  EXPECT_EQ(domain::to_hex(crypto.sha256(domain::as_bytes_view(*seed))), before.at("commitment").as_string());
  const auto response = http(server.port(), "POST", "/queue/enter", enter_body(schedule), as_user(3));
  EXPECT_NE(response.body.find(R"("status":"WAITING","position":1,)"), std::string::npos) << response.raw;
}

// The apply script itself, with users leaving and joining between the worker's read and its apply.
TEST(FairStartIT, ApplySkipsLeaversAndQueuesLaterArrivalsBehind) {
  const auto schedule_id = create_prequeue_schedule();
  const domain::ScheduleId schedule{schedule_id};
  boost::asio::io_context io{1};
  auto work = boost::asio::make_work_guard(io);
  std::thread thread([&] { io.run(); });
  infra::redis::RedisClient client(std::vector<boost::asio::io_context*>{&io},
                                   infra::redis::parse_redis_url(test_config().redis.url));
  infra::redis::RedisPrequeueStore store(client);
  auto run = [&](auto task) { return boost::asio::co_spawn(io, std::move(task), boost::asio::use_future).get(); };
  const domain::Timestamp opens{};
  for (std::int64_t user : {1, 2, 3, 4, 5}) run(store.enter(schedule, domain::UserId{user}, opens, false));
  const auto snapshot = run(store.members(schedule));
  ASSERT_EQ(snapshot.users.size(), 5u);
  // Between the read and the apply: 3 leaves, 9 joins, 4 leaves and comes back (now late).
  EXPECT_TRUE(run(store.leave(schedule, domain::UserId{3})));
  run(store.enter(schedule, domain::UserId{9}, opens, true));
  EXPECT_TRUE(run(store.leave(schedule, domain::UserId{4})));
  run(store.enter(schedule, domain::UserId{4}, opens, true));

  infra::security::SodiumFairnessCrypto crypto;
  const auto seed = run(store.ensure_seed(schedule, crypto.random_seed()));
  std::vector<domain::FairnessEntry> order;
  for (const auto user : snapshot.users) {
    order.push_back({user, crypto.hmac_sha256(seed, domain::fairness_message(user))});
  }
  domain::sort_fair_order(order);
  const auto applied = run(store.apply(schedule, order, snapshot.last_arrival, domain::Timestamp{}));
  EXPECT_TRUE(applied.applied);
  EXPECT_EQ(applied.ordered, 3);
  EXPECT_EQ(applied.late, 2);
  EXPECT_FALSE(run(store.apply(schedule, order, snapshot.last_arrival, domain::Timestamp{})).applied);

  std::vector<std::int64_t> expected_line;
  std::vector<std::string> expected_macs;
  for (const auto& entry : order) {
    if (entry.user.value == 3 || entry.user.value == 4) continue;
    expected_line.push_back(entry.user.value);
    expected_macs.push_back(domain::to_hex(entry.mac));
  }
  expected_line.push_back(9);
  expected_line.push_back(4);
  RedisInspector redis;
  EXPECT_EQ(waiting_line(redis, schedule_id), expected_line);
  const auto state = run(store.state(schedule, /*with_order=*/true));
  EXPECT_EQ(state.order, expected_macs);
  EXPECT_EQ(state.pre_queued, 3);
  EXPECT_EQ(state.late, 2);
  EXPECT_EQ(run(store.enter(schedule, domain::UserId{10}, opens, true)), domain::PrequeueEntry::kApplied);
  client.close_all();
  work.reset();
  io.stop();
  thread.join();
}
