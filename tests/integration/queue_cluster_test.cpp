// Several `ticketing serve` processes share one Redis (issue 3 acceptance 4), and the admission
// check against the real Redis and the real token service (acceptance 3, 5).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <numeric>
#include <set>
#include <thread>

#include "application/queue_service.hpp"
#include "domain/errors.hpp"
#include "domain/ports/clock.hpp"
#include "infra/redis/redis_client.hpp"
#include "infra/redis/redis_queue_store.hpp"
#include "infra/security/jwt_token_service.hpp"
#include "support.hpp"

using namespace ticketing;
using namespace ticketing::testing;
namespace json = boost::json;

namespace {

std::string key(std::int64_t schedule, const char* suffix) {
  return infra::redis::RedisQueueStore::key(domain::ScheduleId{schedule}, suffix);
}

}  // namespace

TEST(QueueCluster, TwoProcessesShareOneOrderAndAdmissionSurvivesAKill) {
  constexpr int kUsers = 40;
  ensure_users(kUsers);
  const auto schedule = create_schedule();
  const std::vector<std::string> sets{"queue.max-active=5", "queue.admit-per-second=100",
                                      "queue.admission-interval=100ms", "queue.heartbeat-timeout=1h",
                                      "queue.active-ttl=1h"};
  ServerProcess a(sets);
  ServerProcess b(sets);
  RedisInspector redis;

  // Users arrive one after another, alternating between the two processes.
  for (int user = 1; user <= kUsers; ++user) {
    const auto port = user % 2 == 1 ? a.port() : b.port();
    const auto response =
        http(port, "POST", "/queue/enter", fmt::format(R"({{"scheduleId":{}}})", schedule), as_user(user));
    ASSERT_EQ(response.status, 200) << response.raw;
  }
  auto members = [&](const char* suffix) {
    std::vector<int> users;
    for (const auto& m : redis.strings({"ZRANGE", key(schedule, suffix), "0", "-1"})) users.push_back(std::stoi(m));
    return users;
  };
  ASSERT_TRUE(wait_for([&] { return members("active").size() == 5; }, std::chrono::seconds(10)));
  std::vector<int> order = members("active");
  std::sort(order.begin(), order.end());  // active is ordered by expiry, not arrival
  const auto waiting = members("waiting");
  order.insert(order.end(), waiting.begin(), waiting.end());
  std::vector<int> expected(kUsers);
  std::iota(expected.begin(), expected.end(), 1);
  EXPECT_EQ(order, expected) << "one consistent arrival order across both processes";

  a.kill();
  for (int user = 1; user <= 5; ++user) {
    EXPECT_EQ(http(b.port(), "DELETE", fmt::format("/queue?scheduleId={}", schedule), "", as_user(user)).status, 204);
  }
  std::set<int> next{6, 7, 8, 9, 10};
  EXPECT_TRUE(wait_for(
      [&] {
        const auto active = members("active");
        EXPECT_LE(active.size(), 5u);
        return std::set<int>(active.begin(), active.end()) == next;
      },
      std::chrono::seconds(10)))
      << "the surviving process keeps admitting";
}

class AdmissionGuardIT : public ::testing::Test {
 protected:
  void SetUp() override {
    ensure_users(3);
    schedule_ = create_schedule();
    const auto config = test_config();
    secret_ = config.security.token_secret;
    auto options = infra::redis::parse_redis_url(config.redis.url);
    redis_ = std::make_unique<infra::redis::RedisClient>(std::vector<boost::asio::io_context*>{&io_}, options);
    store_ = std::make_unique<infra::redis::RedisQueueStore>(
        *redis_, domain::QueuePolicy{10, 100, std::chrono::hours(1), std::chrono::milliseconds(700)});
    tokens_ = std::make_unique<infra::security::JwtTokenService>(secret_);
    guard_ = std::make_unique<application::AdmissionGuard>(*tokens_, *store_, clock_);
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    redis_->close_all();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  template <typename T>
  T run(Task<T> task) {
    return boost::asio::co_spawn(io_, std::move(task), boost::asio::use_future).get();
  }

  // The error code authorize() fails with, or nullopt when it lets the request through.
  std::optional<domain::ErrorCode> authorize(const std::string& token, std::int64_t user, std::int64_t schedule) {
    try {
      auto check = [](application::AdmissionGuard& guard, std::string token, domain::UserId user,
                      domain::ScheduleId schedule) -> Task<void> {
        application::AdmissionGuard::require_schedule(co_await guard.admit(token, user), schedule);
      };
      run(check(*guard_, token, domain::UserId{user}, domain::ScheduleId{schedule}));
      return std::nullopt;
    } catch (const domain::DomainError& e) {
      return e.code();
    }
  }

  std::string admit(std::int64_t user) {
    const auto now = clock_.now();
    run(store_->enter(domain::ScheduleId{schedule_}, domain::UserId{user}, now, domain::EnterGate{}));
    run(store_->admit(domain::ScheduleId{schedule_}, now));
    return tokens_->issue({domain::UserId{user}, domain::ScheduleId{schedule_}, now, now + std::chrono::minutes(10)});
  }

  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  std::thread thread_;
  domain::SystemClock clock_;
  std::string secret_;
  std::int64_t schedule_ = 0;
  std::unique_ptr<infra::redis::RedisClient> redis_;
  std::unique_ptr<infra::redis::RedisQueueStore> store_;
  std::unique_ptr<infra::security::JwtTokenService> tokens_;
  std::unique_ptr<application::AdmissionGuard> guard_;
};

TEST_F(AdmissionGuardIT, ValidTokenPassesAndForgeriesAreRefused) {
  const std::string token = admit(1);
  EXPECT_EQ(authorize(token, 1, schedule_), std::nullopt);

  std::string tampered = token;
  const auto dot = tampered.find('.');
  tampered[dot + 5] = tampered[dot + 5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(authorize(tampered, 1, schedule_), domain::ErrorCode::kUnauthenticated);

  infra::security::JwtTokenService other(std::string(40, 'x'));
  const auto now = clock_.now();
  const auto foreign =
      other.issue({domain::UserId{1}, domain::ScheduleId{schedule_}, now, now + std::chrono::minutes(1)});
  EXPECT_EQ(authorize(foreign, 1, schedule_), domain::ErrorCode::kUnauthenticated);

  const auto expired = tokens_->issue({domain::UserId{1}, domain::ScheduleId{schedule_}, now - std::chrono::minutes(20),
                                       now - std::chrono::minutes(10)});
  EXPECT_EQ(authorize(expired, 1, schedule_), domain::ErrorCode::kUnauthenticated);
  EXPECT_EQ(authorize("not-a-token", 1, schedule_), domain::ErrorCode::kUnauthenticated);

  EXPECT_EQ(authorize(token, 2, schedule_), domain::ErrorCode::kForbidden);
  EXPECT_EQ(authorize(token, 1, schedule_ + 1), domain::ErrorCode::kForbidden);
}

TEST_F(AdmissionGuardIT, TokenOfALeftOrLapsedSlotIsRefused) {
  const std::string left = admit(1);
  run(store_->leave(domain::ScheduleId{schedule_}, domain::UserId{1}, clock_.now()));
  EXPECT_EQ(authorize(left, 1, schedule_), domain::ErrorCode::kUnauthenticated);

  const std::string idle = admit(2);
  EXPECT_EQ(authorize(idle, 2, schedule_), std::nullopt);  // used: the 700 ms slot is extended
  // Then idle: wait (reading Redis, not touching the slot) until the slot's expiry has passed.
  RedisInspector inspector;
  ASSERT_TRUE(wait_for(
      [&] {
        const auto score = inspector.string({"ZSCORE", key(schedule_, "active"), "2"});
        return score && std::stod(*score) < static_cast<double>(clock_.now().time_since_epoch().count());
      },
      std::chrono::seconds(5)));
  EXPECT_EQ(authorize(idle, 2, schedule_), domain::ErrorCode::kUnauthenticated) << "token of a lapsed slot";

  // The admission round clears the lapsed slot; the user enters again and gets a new slot. The
  // lapsed slot's token must not come back to life with it.
  run(store_->admit(domain::ScheduleId{schedule_}, clock_.now()));
  run(store_->enter(domain::ScheduleId{schedule_}, domain::UserId{2}, clock_.now(), domain::EnterGate{}));
  run(store_->admit(domain::ScheduleId{schedule_}, clock_.now()));
  const auto again = run(store_->status(domain::ScheduleId{schedule_}, domain::UserId{2}, clock_.now()));
  ASSERT_TRUE(again && again->status == domain::QueueStatus::kAdmitted);
  EXPECT_EQ(authorize(idle, 2, schedule_), domain::ErrorCode::kUnauthenticated) << "lapsed slot's token, re-admitted";
}
