// Pure parts of the Kafka adapters: commit positions and the log rate limiter.
#include <gtest/gtest.h>

#include <chrono>

#include "infra/kafka/kafka_consumer.hpp"
#include "infra/kafka/kafka_log.hpp"

namespace ticketing::infra::kafka {
namespace {

using namespace std::chrono_literals;

IncomingMessage at(const std::string& topic, int32_t partition, int64_t offset) {
  IncomingMessage message;
  message.topic = topic;
  message.partition = partition;
  message.offset = offset;
  return message;
}

TEST(KafkaCommitPositions, HighestOffsetPlusOnePerPartitionSorted) {
  const auto positions = commit_positions(
      {at("b", 0, 4), at("a", 1, 9), at("a", 1, 3), at("a", 0, 0), at("b", 0, 2), at("a", 1, 10), at("a", 1, 7)});
  const std::vector<CommitPosition> expected{{"a", 0, 1}, {"a", 1, 11}, {"b", 0, 5}};
  EXPECT_EQ(positions, expected);
}

TEST(KafkaCommitPositions, EmptyInputCommitsNothing) {
  EXPECT_TRUE(commit_positions({}).empty());
}

TEST(KafkaLogRateLimiter, OneLinePerKeyPerIntervalAndCountsTheRest) {
  LogRateLimiter limiter(10s);
  const auto t0 = LogRateLimiter::Clock::time_point{} + 1h;
  EXPECT_EQ(limiter.admit("fail", t0), 0u);
  EXPECT_EQ(limiter.admit("fail", t0 + 1s), std::nullopt);
  EXPECT_EQ(limiter.admit("fail", t0 + 9s), std::nullopt);
  EXPECT_EQ(limiter.admit("other", t0 + 9s), 0u);  // keys are independent
  EXPECT_EQ(limiter.admit("fail", t0 + 10s), 2u);  // reports the two it dropped
  EXPECT_EQ(limiter.admit("fail", t0 + 11s), std::nullopt);
  EXPECT_EQ(limiter.admit("fail", t0 + 25s), 1u);
  EXPECT_EQ(limiter.admit("fail", t0 + 40s), 0u);
}

TEST(KafkaLogRateLimiter, BoundedNumberOfKeys) {
  LogRateLimiter limiter(10s, 2);
  const auto t0 = LogRateLimiter::Clock::time_point{} + 1h;
  EXPECT_EQ(limiter.admit("a", t0), 0u);
  EXPECT_EQ(limiter.admit("b", t0), 0u);
  EXPECT_EQ(limiter.admit("c", t0), 0u);  // forgets the old keys instead of growing
  EXPECT_EQ(limiter.admit("a", t0), 0u);
}

}  // namespace
}  // namespace ticketing::infra::kafka
