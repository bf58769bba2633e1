#include "application/health_service.hpp"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "api/routes.hpp"
#include "run_task.hpp"

using namespace ticketing;
using application::ComponentHealth;
using application::HealthStatus;

namespace {

class FakeProbe final : public domain::HealthProbe {
 public:
  FakeProbe(std::string name, bool up)
      : name_(std::move(name)), status_(up ? HealthStatus::kUp : HealthStatus::kDown) {}
  const std::string& component() const override { return name_; }
  Task<domain::ProbeResult> probe() override {
    ++calls;
    switch (status_) {
      case HealthStatus::kUp: co_return domain::ProbeResult{true, ""};
      case HealthStatus::kDegraded: co_return domain::ProbeResult{HealthStatus::kDegraded, "producer being rebuilt"};
      case HealthStatus::kDown: break;
    }
    co_return domain::ProbeResult{false, "refused by db.internal:3306 for user app"};
  }
  void set_up(bool up) { status_ = up ? HealthStatus::kUp : HealthStatus::kDown; }
  void set(HealthStatus status) { status_ = status; }
  int calls = 0;

 private:
  std::string name_;
  HealthStatus status_;
};

application::HealthReport check(application::HealthService& service) {
  boost::asio::io_context io;
  auto future = boost::asio::co_spawn(io, service.check(), boost::asio::use_future);
  io.run();
  return future.get();
}

}  // namespace

TEST(HealthService, UpOnlyWhenEveryComponentIsUp) {
  FakeProbe db("db", true), redis("redis", false);
  application::HealthService service({&db, &redis}, std::chrono::milliseconds(0));
  const auto report = check(service);
  EXPECT_EQ(report.status, HealthStatus::kDown);
  ASSERT_EQ(report.components.size(), 2u);
  EXPECT_EQ(report.components[0].name, "db");
  EXPECT_EQ(report.components[0].status, HealthStatus::kUp);
  EXPECT_EQ(report.components[1].name, "redis");
  EXPECT_EQ(report.components[1].status, HealthStatus::kDown);
  EXPECT_EQ(report.components[1].detail, "refused by db.internal:3306 for user app");

  redis.set_up(true);
  EXPECT_EQ(check(service).status, HealthStatus::kUp);
}

TEST(HealthService, OverallStatusIsTheWorstComponent) {
  using application::overall_status;
  const auto of = [](std::vector<HealthStatus> statuses) {
    std::vector<ComponentHealth> components;
    for (const auto status : statuses) components.push_back({"component", status, ""});
    return overall_status(components);
  };
  EXPECT_EQ(of({}), HealthStatus::kUp);
  EXPECT_EQ(of({HealthStatus::kUp, HealthStatus::kUp}), HealthStatus::kUp);
  EXPECT_EQ(of({HealthStatus::kUp, HealthStatus::kDegraded}), HealthStatus::kDegraded);
  EXPECT_EQ(of({HealthStatus::kDegraded, HealthStatus::kUp}), HealthStatus::kDegraded);
  EXPECT_EQ(of({HealthStatus::kDegraded, HealthStatus::kDown}), HealthStatus::kDown);
  EXPECT_EQ(of({HealthStatus::kDown, HealthStatus::kDegraded}), HealthStatus::kDown);
  EXPECT_EQ(of({HealthStatus::kUp, HealthStatus::kDown, HealthStatus::kUp}), HealthStatus::kDown);
}

TEST(HealthService, ADegradedComponentMakesTheReportDegradedWithItsReason) {
  FakeProbe db("db", true), kafka("kafka", true);
  kafka.set(HealthStatus::kDegraded);
  application::HealthService service({&db, &kafka}, std::chrono::milliseconds(0));
  const auto report = check(service);
  EXPECT_EQ(report.status, HealthStatus::kDegraded);
  ASSERT_EQ(report.components.size(), 2u);
  EXPECT_EQ(report.components[0].status, HealthStatus::kUp);
  EXPECT_EQ(report.components[1].status, HealthStatus::kDegraded);
  EXPECT_EQ(report.components[1].detail, "producer being rebuilt");

  kafka.set(HealthStatus::kUp);
  EXPECT_EQ(check(service).status, HealthStatus::kUp);
}

namespace {

api::ApiResponse get_health(application::HealthService& service) {
  api::Router router;
  api::add_health_routes(router, service);
  api::ApiRequest request;
  request.method = api::Method::kGet;
  request.method_text = "GET";
  request.target = request.path = "/actuator/health";
  const auto match = router.match(request);
  if (match.handler == nullptr) throw std::logic_error("no health route");
  return ticketing::testing::run_task((*match.handler)(request));
}

}  // namespace

// GET /actuator/health: DEGRADED answers 200 and says why; DOWN answers 503 and keeps the driver's
// words in the log.
TEST(HealthRoute, DegradedIs200WithTheReasonDownIs503WithoutIt) {
  FakeProbe db("db", true), kafka("kafka", true);
  kafka.set(HealthStatus::kDegraded);
  application::HealthService service({&db, &kafka}, std::chrono::milliseconds(0));

  const auto degraded = get_health(service);
  EXPECT_EQ(degraded.status, 200);
  auto body = boost::json::parse(degraded.body).as_object();
  EXPECT_EQ(body.at("status").as_string(), "DEGRADED");
  EXPECT_EQ(body.at("components").at("db").at("status").as_string(), "UP");
  EXPECT_FALSE(body.at("components").at("db").as_object().contains("detail"));
  EXPECT_EQ(body.at("components").at("kafka").at("status").as_string(), "DEGRADED");
  EXPECT_EQ(body.at("components").at("kafka").at("detail").as_string(), "producer being rebuilt");

  db.set_up(false);
  const auto down = get_health(service);
  EXPECT_EQ(down.status, 503);
  body = boost::json::parse(down.body).as_object();
  EXPECT_EQ(body.at("status").as_string(), "DOWN");
  EXPECT_EQ(body.at("components").at("db").at("status").as_string(), "DOWN");
  EXPECT_EQ(down.body.find("db.internal"), std::string::npos) << down.body;
  EXPECT_EQ(body.at("components").at("kafka").at("status").as_string(), "DEGRADED");

  db.set_up(true);
  kafka.set(HealthStatus::kUp);
  const auto up = get_health(service);
  EXPECT_EQ(up.status, 200);
  EXPECT_EQ(boost::json::parse(up.body).at("status").as_string(), "UP");
}

// A probe that answers UP, or once `hang` is set, waits until released (a frozen database keeps
// a probe waiting for the query timeout).
class HangingProbe final : public domain::HealthProbe {
 public:
  const std::string& component() const override { return name_; }
  Task<domain::ProbeResult> probe() override {
    ++calls;
    if (hang) {
      boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, std::chrono::hours(1));
      waiting = &timer;
      co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      waiting = nullptr;
    }
    co_return domain::ProbeResult{true, ""};
  }
  bool hang = false;
  boost::asio::steady_timer* waiting = nullptr;
  int calls = 0;

 private:
  std::string name_ = "db";
};

// While one caller's refresh goes unanswered, the others get the last answer for a moment, then
// DOWN: a database that stopped answering is not reported UP from an answer seconds old.
TEST(HealthService, ARefreshUnansweredPastItsBudgetIsDownForEveryoneElse) {
  HangingProbe db;
  application::HealthService service({&db}, std::chrono::milliseconds(0), std::chrono::milliseconds(1000));
  boost::asio::io_context io;
  const auto start_check = [&] { return boost::asio::co_spawn(io, service.check(), boost::asio::use_future); };
  auto first = start_check();
  io.run();
  EXPECT_EQ(first.get().status, HealthStatus::kUp);

  db.hang = true;
  io.restart();
  auto refresher = start_check();  // its probe hangs
  io.poll();
  ASSERT_NE(db.waiting, nullptr);
  auto meanwhile = start_check();
  io.poll();
  ASSERT_EQ(meanwhile.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_EQ(meanwhile.get().status, HealthStatus::kUp) << "within the budget: the last answer";

  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // past the budget: time is what is tested
  auto late = start_check();
  io.poll();
  ASSERT_EQ(late.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  const auto report = late.get();
  EXPECT_EQ(report.status, HealthStatus::kDown);
  EXPECT_NE(report.components.at(0).detail.find("has not answered"), std::string::npos) << report.components[0].detail;
  EXPECT_EQ(db.calls, 2) << "no second probe while one is in flight";

  db.hang = false;
  db.waiting->cancel();  // the database answers again
  io.run();
  EXPECT_EQ(refresher.get().status, HealthStatus::kUp);
  io.restart();
  auto after = start_check();
  io.run();
  EXPECT_EQ(after.get().status, HealthStatus::kUp);
}

TEST(HealthService, CachesResultsForTheConfiguredTime) {
  FakeProbe db("db", true);
  application::HealthService cached({&db}, std::chrono::hours(1));
  check(cached);
  check(cached);
  check(cached);
  EXPECT_EQ(db.calls, 1);

  FakeProbe other("db", true);
  application::HealthService uncached({&other}, std::chrono::milliseconds(0));
  check(uncached);
  check(uncached);
  EXPECT_EQ(other.calls, 2);
}
