#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "support.hpp"

using namespace ticketing::testing;
namespace json = boost::json;

namespace {

std::string component_status(const HttpResponse& response, const char* name) {
  const auto body = json::parse(response.body).as_object();
  return std::string(body.at("components").at(name).at("status").as_string());
}

}  // namespace

TEST(Health, AllComponentsUpAgainstTheRealServices) {
  prepare_test_database();
  TestServer server;
  const auto response = http(server.port(), "GET", "/actuator/health");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(json::parse(response.body).at("status").as_string(), "UP");
  EXPECT_EQ(component_status(response, "db"), "UP");
  EXPECT_EQ(component_status(response, "redis"), "UP");
  EXPECT_EQ(component_status(response, "kafka"), "UP");
}

TEST(Health, RedisDownIs503NamingRedisAndRecoversWithoutRestart) {
  prepare_test_database();
  const auto redis_port = free_port();
  const std::vector<std::string> redis_argv{
      "redis-server", "--port", std::to_string(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"};
  auto redis = std::make_unique<ChildProcess>(redis_argv);
  TestServer server({"redis.url=redis://127.0.0.1:" + std::to_string(redis_port)});
  const auto port = server.port();
  auto status_is = [&](int status, const char* redis_state) {
    const auto response = http(port, "GET", "/actuator/health");
    return response.status == status && component_status(response, "redis") == redis_state;
  };

  ASSERT_TRUE(wait_for([&] { return status_is(200, "UP"); }, std::chrono::seconds(10)));
  redis->kill_now();
  ASSERT_TRUE(wait_for([&] { return status_is(503, "DOWN"); }, std::chrono::seconds(10)));
  const auto down = http(port, "GET", "/actuator/health");
  EXPECT_EQ(json::parse(down.body).at("status").as_string(), "DOWN");
  EXPECT_EQ(component_status(down, "db"), "UP");
  // Liveness (what balancers check) says the instance serves: Redis is every instance's.
  const auto live = http(port, "GET", "/actuator/health/liveness");
  EXPECT_EQ(live.status, 200) << live.raw;
  EXPECT_EQ(json::parse(live.body).at("status").as_string(), "UP");

  redis = std::make_unique<ChildProcess>(redis_argv);
  EXPECT_TRUE(wait_for([&] { return status_is(200, "UP"); }, std::chrono::seconds(10)));
}

TEST(Health, DatabaseDownIs503NamingDb) {
  TestServer server(
      {"db.url=mysql://nobody:x@127.0.0.1:" + std::to_string(free_port()) + "/none", "db.connect-timeout=1s"});
  const auto response = http(server.port(), "GET", "/actuator/health");
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(component_status(response, "db"), "DOWN");
  EXPECT_FALSE(response.header("retry-after").empty());
  EXPECT_EQ(http(server.port(), "GET", "/actuator/health/liveness").status, 200);
  // Catalog reads fail cleanly with 503 too, never 500.
  const auto concerts = http(server.port(), "GET", "/concerts");
  EXPECT_EQ(concerts.status, 503);
  EXPECT_EQ(json::parse(concerts.body).at("code").as_string(), "SERVICE_UNAVAILABLE");
}
