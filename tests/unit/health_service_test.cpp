#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "application/health_service.hpp"

using namespace ticketing;

namespace {

class FakeProbe final : public domain::HealthProbe {
 public:
  FakeProbe(std::string name, bool up) : name_(std::move(name)), up_(up) {}
  const std::string& component() const override { return name_; }
  Task<domain::ProbeResult> probe() override {
    ++calls;
    co_return domain::ProbeResult{up_, up_ ? "" : "refused"};
  }
  void set_up(bool up) { up_ = up; }
  int calls = 0;

 private:
  std::string name_;
  bool up_;
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
  EXPECT_FALSE(report.up);
  ASSERT_EQ(report.components.size(), 2u);
  EXPECT_EQ(report.components[0].name, "db");
  EXPECT_TRUE(report.components[0].up);
  EXPECT_EQ(report.components[1].name, "redis");
  EXPECT_FALSE(report.components[1].up);
  EXPECT_EQ(report.components[1].detail, "refused");

  redis.set_up(true);
  EXPECT_TRUE(check(service).up);
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
