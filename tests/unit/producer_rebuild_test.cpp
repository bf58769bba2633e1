// A Kafka producer that hit a fatal error is replaced (issue 14): the rebuild schedule (pure), and
// RecoveringProducer around real librdkafka handles whose fatal error is injected. No broker is
// needed: a producer does not connect before it has something to send, and a fatal one sends nothing.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "infra/kafka/recovering_producer.hpp"

namespace ticketing::infra::kafka {
namespace {

using namespace std::chrono_literals;
using Clock = RebuildSchedule::Clock;

TEST(RebuildSchedule, DelayDoublesFromFirstAndStopsAtMax) {
  const RebuildBackoff backoff{1s, 30s};
  EXPECT_EQ(RebuildSchedule::delay(1, backoff), 1s);
  EXPECT_EQ(RebuildSchedule::delay(2, backoff), 2s);
  EXPECT_EQ(RebuildSchedule::delay(3, backoff), 4s);
  EXPECT_EQ(RebuildSchedule::delay(5, backoff), 16s);
  EXPECT_EQ(RebuildSchedule::delay(6, backoff), 30s);
  EXPECT_EQ(RebuildSchedule::delay(1000, backoff), 30s);  // no overflow
  // A first wait above the cap is used as it is.
  EXPECT_EQ(RebuildSchedule::delay(1, RebuildBackoff{45s, 30s}), 45s);
  EXPECT_EQ(RebuildSchedule::delay(4, RebuildBackoff{45s, 30s}), 45s);
}

TEST(RebuildSchedule, RebuildIsDueOnlyAfterTheWait) {
  RebuildSchedule schedule(RebuildBackoff{1s, 30s});
  const auto t0 = Clock::time_point{} + 1h;
  EXPECT_FALSE(schedule.fatal());
  EXPECT_FALSE(schedule.due(t0));

  EXPECT_TRUE(schedule.on_fatal(t0));
  EXPECT_TRUE(schedule.fatal());
  EXPECT_EQ(schedule.attempt(), 1);
  EXPECT_FALSE(schedule.due(t0));
  EXPECT_FALSE(schedule.due(t0 + 999ms));
  EXPECT_TRUE(schedule.due(t0 + 1s));
  // The same producer reported again (e.g. by the health probe) changes nothing.
  EXPECT_FALSE(schedule.on_fatal(t0 + 500ms));
  EXPECT_EQ(schedule.next_rebuild_at(), t0 + 1s);

  schedule.on_rebuilt();
  EXPECT_FALSE(schedule.fatal());
  EXPECT_FALSE(schedule.due(t0 + 1h));
}

TEST(RebuildSchedule, ReplacementsThatFailAgainWaitLongerUntilOneDelivers) {
  RebuildSchedule schedule(RebuildBackoff{1s, 4s});
  auto now = Clock::time_point{} + 1h;
  const std::chrono::milliseconds expected[] = {1s, 2s, 4s, 4s};
  for (const auto wait : expected) {
    ASSERT_TRUE(schedule.on_fatal(now));
    EXPECT_EQ(schedule.next_rebuild_at() - now, wait);
    now = schedule.next_rebuild_at();
    schedule.on_rebuilt();
    // Nothing delivered by the new producer: it fails at once again.
  }
  schedule.on_delivered();
  ASSERT_TRUE(schedule.on_fatal(now));
  EXPECT_EQ(schedule.attempt(), 1);
  EXPECT_EQ(schedule.next_rebuild_at() - now, 1s);
}

TEST(RebuildSchedule, AFailedRebuildIsRetriedAfterALongerWait) {
  RebuildSchedule schedule(RebuildBackoff{1s, 30s});
  const auto t0 = Clock::time_point{} + 1h;
  schedule.on_fatal(t0);
  schedule.on_rebuild_failed(t0 + 1s);
  EXPECT_TRUE(schedule.fatal());
  EXPECT_EQ(schedule.attempt(), 2);
  EXPECT_FALSE(schedule.due(t0 + 2s));
  EXPECT_TRUE(schedule.due(t0 + 3s));
  // A delivery report of the fatal producer (one that was in flight) does not reset the count.
  schedule.on_delivered();
  EXPECT_EQ(schedule.attempt(), 2);
}

// Options no broker answers on: nothing here needs one.
KafkaOptions nowhere() {
  return KafkaOptions{"127.0.0.1:1", "unit-recovering"};
}

TEST(RecoveringProducer, FatalErrorRefusesAtOnceThenTheProducerIsReplacedAfterTheBackoff) {
  std::atomic<int> made{0};
  RecoveringProducer producer(
      [&] {
        ++made;
        return std::make_unique<KafkaProducer>(nowhere());
      },
      RebuildBackoff{300ms, 30s});
  EXPECT_EQ(made.load(), 1);
  EXPECT_FALSE(producer.status().fatal);
  EXPECT_TRUE(producer.maintain());

  producer.inject_fatal_error_for_test("injected by the unit test");
  const auto noticed = Clock::now();
  const auto status = producer.status();
  ASSERT_TRUE(status.fatal);
  EXPECT_NE(status.reason.find("injected by the unit test"), std::string::npos) << status.reason;
  EXPECT_EQ(status.attempt, 1);
  EXPECT_LE(status.rebuild_in, 300ms);

  // Refused without waiting for the call's timeout, naming the reason.
  const auto started = Clock::now();
  const auto results = producer.produce_and_wait({{"t", "k", "v1", {}}, {"t", "k", "v2", {}}}, 10s);
  EXPECT_LT(Clock::now() - started, 1s);
  ASSERT_EQ(results.size(), 2u);
  for (const auto& result : results) {
    EXPECT_FALSE(result.delivered);
    EXPECT_NE(result.error.find("fatal error"), std::string::npos) << result.error;
  }

  // Rebuilt on the first maintain() after the backoff, not before.
  EXPECT_FALSE(producer.maintain());
  const auto deadline = Clock::now() + 10s;
  bool usable = false;
  while (!usable && Clock::now() < deadline) {
    usable = producer.maintain();
    if (!usable) std::this_thread::yield();
  }
  ASSERT_TRUE(usable);
  EXPECT_GE(Clock::now() - noticed, 300ms);
  EXPECT_EQ(producer.rebuilds(), 1u);
  EXPECT_EQ(made.load(), 2);
  EXPECT_FALSE(producer.status().fatal);

  // The replacement is a working producer: a second fatal error is noticed and handled the same
  // way, with a longer wait (the first replacement never delivered anything).
  producer.inject_fatal_error_for_test("again");
  const auto again = producer.status();
  ASSERT_TRUE(again.fatal);
  EXPECT_EQ(again.attempt, 2);
  EXPECT_GT(again.rebuild_in, 300ms);
}

TEST(RecoveringProducer, AFactoryThatThrowsIsRetriedLater) {
  std::atomic<int> made{0};
  RecoveringProducer producer(
      [&]() -> std::unique_ptr<KafkaProducer> {
        if (++made > 1) throw std::runtime_error("no producer today");
        return std::make_unique<KafkaProducer>(nowhere());
      },
      RebuildBackoff{10ms, 30s});
  producer.inject_fatal_error_for_test("injected");
  ASSERT_TRUE(producer.status().fatal);
  const auto deadline = Clock::now() + 10s;
  while (made.load() < 2 && Clock::now() < deadline) {
    EXPECT_FALSE(producer.maintain());
    std::this_thread::yield();
  }
  ASSERT_EQ(made.load(), 2);
  const auto status = producer.status();
  EXPECT_TRUE(status.fatal);
  EXPECT_EQ(status.attempt, 2);  // the next wait is the doubled one
  EXPECT_EQ(producer.rebuilds(), 0u);
}

}  // namespace
}  // namespace ticketing::infra::kafka
