// The Kafka adapters (producer, group consumer, topic admin) against the real broker at
// TICKETING_KAFKA_BOOTSTRAP_SERVERS, and against an unreachable address (a free local port).
// Every test uses its own topics and consumer groups, so runs never see each other's messages.
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdlib>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "domain/errors.hpp"
#include "infra/blocking_executor.hpp"
#include "infra/kafka/kafka_consumer.hpp"
#include "infra/kafka/kafka_error.hpp"
#include "infra/kafka/kafka_health_probe.hpp"
#include "infra/kafka/kafka_producer.hpp"
#include "infra/kafka/kafka_topics.hpp"
#include "support.hpp"

namespace ticketing::infra::kafka {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Headers = std::vector<std::pair<std::string, std::string>>;

KafkaOptions broker() {
  // The environment scripts/test exports, else the test profile (which also needs the DB and
  // Redis settings).
  static const KafkaOptions options = [] {
    const char* servers = std::getenv("TICKETING_KAFKA_BOOTSTRAP_SERVERS");
    if (servers != nullptr && *servers != '\0') return KafkaOptions{servers, "it-kafka"};
    return KafkaOptions{testing::test_config().kafka.bootstrap_servers, "it-kafka"};
  }();
  return options;
}

KafkaOptions unreachable_broker() {
  return KafkaOptions{"127.0.0.1:" + std::to_string(testing::free_port()), "it-kafka-down"};
}

// it.kafka.<pid>-<ms since epoch>-<n>.<name>: unique per run and per call.
std::string unique_name(const std::string& name) {
  static std::atomic<int> counter{0};
  static const auto started =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  return "it.kafka." + std::to_string(::getpid()) + "-" + std::to_string(started) + "-" + std::to_string(counter++) +
         "." + name;
}

std::string new_topic(const std::string& name, int partitions) {
  const std::string topic = unique_name(name);
  ensure_topics(broker(), {{topic, partitions}}, 10s);
  return topic;
}

long long ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// Partition count of `topic` as the broker reports it (-1: not there).
int partition_count(const std::string& topic) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  conf->set("bootstrap.servers", broker().bootstrap_servers, error);
  std::unique_ptr<RdKafka::Producer> client(RdKafka::Producer::create(conf.get(), error));
  RdKafka::Metadata* raw = nullptr;
  if (client->metadata(true, nullptr, &raw, 5000) != RdKafka::ERR_NO_ERROR) return -1;
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  for (const RdKafka::TopicMetadata* entry : *metadata->topics()) {
    if (entry->topic() == topic && entry->err() == RdKafka::ERR_NO_ERROR) {
      return static_cast<int>(entry->partitions()->size());
    }
  }
  return -1;
}

// Polls until `count` messages arrived or the deadline passed.
std::vector<IncomingMessage> consume_at_least(KafkaConsumer& consumer, std::size_t count,
                                              std::chrono::milliseconds deadline = 20s) {
  std::vector<IncomingMessage> received;
  const auto until = Clock::now() + deadline;
  while (received.size() < count && Clock::now() < until) {
    auto batch = consumer.poll_batch(500, 200ms);
    received.insert(received.end(), std::make_move_iterator(batch.begin()), std::make_move_iterator(batch.end()));
  }
  return received;
}

// Everything that arrives within `window` (used after the expected messages, to show nothing else comes).
std::vector<IncomingMessage> consume_for(KafkaConsumer& consumer, std::chrono::milliseconds window) {
  std::vector<IncomingMessage> received;
  const auto until = Clock::now() + window;
  while (Clock::now() < until) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    auto batch = consumer.poll_batch(500, std::max(left, 1ms));
    received.insert(received.end(), std::make_move_iterator(batch.begin()), std::make_move_iterator(batch.end()));
  }
  return received;
}

std::vector<OutgoingMessage> numbered_messages(const std::string& topic, int count, int keys = 10,
                                               const std::string& prefix = "m") {
  std::vector<OutgoingMessage> messages;
  for (int i = 0; i < count; ++i) {
    messages.push_back(OutgoingMessage{topic, "key-" + std::to_string(i % keys), prefix + "-" + std::to_string(i), {}});
  }
  return messages;
}

void expect_all_delivered(const std::vector<DeliveryResult>& results, std::size_t count) {
  ASSERT_EQ(results.size(), count);
  for (std::size_t i = 0; i < results.size(); ++i) {
    ASSERT_TRUE(results[i].delivered) << "message " << i << ": " << results[i].error;
    ASSERT_TRUE(results[i].error.empty());
  }
}

std::set<std::string> values_of(const std::vector<IncomingMessage>& messages) {
  std::set<std::string> values;
  for (const auto& message : messages) values.insert(message.value);
  return values;
}

// ---------------------------------------------------------------------------------------------
// Topics

TEST(KafkaTopics, EnsureTopicsCreatesWithPartitionCountsAndIsIdempotent) {
  const std::string six = unique_name("six");
  const std::string one = unique_name("one");
  ensure_topics(broker(), {{six, 6}, {one, 1}}, 10s);
  EXPECT_EQ(partition_count(six), 6);
  EXPECT_EQ(partition_count(one), 1);

  // Again, with one new topic among existing ones, and once more with a different partition
  // count for an existing topic (logged, left alone).
  const std::string three = unique_name("three");
  ensure_topics(broker(), {{six, 6}, {one, 1}, {three, 3}}, 10s);
  ensure_topics(broker(), {{six, 2}}, 10s);
  EXPECT_EQ(partition_count(six), 6);
  EXPECT_EQ(partition_count(one), 1);
  EXPECT_EQ(partition_count(three), 3);
}

TEST(KafkaTopics, ServiceTopicsCanBeEnsured) {
  // The real topic names of the payment flow; they may exist already from earlier runs.
  ensure_topics(broker(), service_topics(), 10s);
  EXPECT_GE(partition_count("payment.completed"), 1);
  EXPECT_GE(partition_count("payment.completed.dlq"), 1);
  EXPECT_GE(partition_count("payment.refund-requested"), 1);
}

TEST(KafkaTopics, RejectedTopicThrowsKafkaError) {
  EXPECT_THROW(ensure_topics(broker(), {{unique_name("bad"), 0}}, 5s), KafkaError);
}

TEST(KafkaTopics, UnreachableBrokerThrowsDependencyUnavailableWithinTimeout) {
  const auto start = Clock::now();
  std::string message;
  try {
    ensure_topics(unreachable_broker(), {{unique_name("never"), 1}}, 1000ms);
  } catch (const domain::DependencyUnavailable& error) {
    message = error.what();
  }
  EXPECT_EQ(message.rfind("kafka unavailable: ", 0), 0u) << message;
  std::cout << "[ message ] " << message << "\n";
  EXPECT_LT(ms_since(start), 1000 + 2000);
  EXPECT_GE(ms_since(start), 900);
}

// ---------------------------------------------------------------------------------------------
// Producer + consumer round trip

TEST(KafkaRoundTrip, ThousandMessagesArriveExactlyOnceIntactAndInKeyOrder) {
  const std::string topic = new_topic("roundtrip", 6);
  constexpr int kCount = 1000;
  constexpr int kKeys = 37;
  std::vector<OutgoingMessage> messages;
  for (int i = 0; i < kCount; ++i) {
    const std::string key = "schedule-" + std::to_string(i % kKeys);
    std::string value = "{\"seq\":" + std::to_string(i) + ",\"key\":\"" + key + "\"}";
    if (i % 100 == 0) value += std::string("\0binary\xff", 8);  // payloads are bytes, not C strings
    messages.push_back(OutgoingMessage{
        topic,
        key,
        value,
        {{"event-id", "evt-" + std::to_string(i)}, {"seq", std::to_string(i)}, {"empty", ""}, {"seq", "dup-name"}}});
  }
  KafkaProducer producer(broker());
  const auto produce_start = Clock::now();
  const auto results = producer.produce_and_wait(messages, 15s);
  const auto produce_ms = ms_since(produce_start);
  expect_all_delivered(results, kCount);

  KafkaConsumer consumer(broker(), unique_name("group"), {topic});
  const auto consume_start = Clock::now();
  const auto received = consume_at_least(consumer, kCount);
  const auto consume_ms = ms_since(consume_start);
  ASSERT_EQ(received.size(), static_cast<std::size_t>(kCount));
  EXPECT_TRUE(consume_for(consumer, 300ms).empty()) << "more than the produced messages arrived";
  std::cout << "[ timing ] produce_and_wait(1000): " << produce_ms << " ms; first consumer read all: " << consume_ms
            << " ms\n";

  std::vector<bool> seen(kCount, false);
  std::map<std::string, int> last_seq_of_key;
  std::map<std::string, int32_t> partition_of_key;
  std::set<int32_t> partitions;
  for (const auto& message : received) {
    ASSERT_EQ(message.topic, topic);
    // The value's sequence number identifies the message; everything else must match what was sent.
    const auto seq_header = std::find_if(message.headers.begin(), message.headers.end(),
                                         [](const auto& header) { return header.first == "seq"; });
    ASSERT_NE(seq_header, message.headers.end());
    const int seq = std::stoi(seq_header->second);
    ASSERT_GE(seq, 0);
    ASSERT_LT(seq, kCount);
    EXPECT_FALSE(seen[seq]) << "duplicate " << seq;
    seen[seq] = true;
    const OutgoingMessage& sent = messages[seq];
    EXPECT_EQ(message.key, sent.key);
    EXPECT_EQ(message.value, sent.value);
    EXPECT_EQ(message.headers, sent.headers);  // names, values, order, duplicates, empty value

    auto [last, first_time] = last_seq_of_key.try_emplace(message.key, seq);
    if (!first_time) {
      EXPECT_GT(seq, last->second) << "key " << message.key << " out of order";
      last->second = seq;
    }
    auto [partition, new_key] = partition_of_key.try_emplace(message.key, message.partition);
    EXPECT_EQ(partition->second, message.partition) << "key " << message.key << " on two partitions";
    partitions.insert(message.partition);
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), true), kCount);
  EXPECT_EQ(last_seq_of_key.size(), static_cast<std::size_t>(kKeys));
  EXPECT_GT(partitions.size(), 1u) << "keys should spread over the 6 partitions";
}

TEST(KafkaRoundTrip, SmallLocalQueueMakesProduceWaitForRoomNotFail) {
  const std::string topic = new_topic("queue-full", 1);
  KafkaProducerSettings settings;
  settings.max_queued_messages = 10;
  KafkaProducer producer(broker(), settings);
  const auto messages = numbered_messages(topic, 500);
  expect_all_delivered(producer.produce_and_wait(messages, 15s), messages.size());

  KafkaConsumer consumer(broker(), unique_name("group"), {topic});
  const auto received = consume_at_least(consumer, messages.size());
  ASSERT_EQ(received.size(), messages.size());
  // One partition: the whole batch in production order.
  for (std::size_t i = 0; i < received.size(); ++i) EXPECT_EQ(received[i].value, messages[i].value);
}

// ---------------------------------------------------------------------------------------------
// Consumer groups and offsets

TEST(KafkaConsumerGroup, CommittedMessagesAreNotDeliveredToTheNextInstance) {
  const std::string topic = new_topic("commit", 3);
  const std::string group = unique_name("group");
  KafkaProducer producer(broker());
  expect_all_delivered(producer.produce_and_wait(numbered_messages(topic, 30, 7, "before"), 10s), 30);

  {
    KafkaConsumer first(broker(), group, {topic});
    const auto received = consume_at_least(first, 30);
    ASSERT_EQ(received.size(), 30u);
    first.commit(received);
    first.close();
  }

  // The next instance must start at the committed offsets: it sees the new message and none of
  // the 30 before it.
  KafkaConsumer second(broker(), group, {topic});
  ASSERT_TRUE(producer.produce_one_and_wait(OutgoingMessage{topic, "key-1", "after", {}}, 10s));
  auto received = consume_at_least(second, 1);
  const auto more = consume_for(second, 300ms);
  received.insert(received.end(), more.begin(), more.end());
  ASSERT_EQ(received.size(), 1u) << "first: " << (received.empty() ? "" : received.front().value);
  EXPECT_EQ(received.front().value, "after");
}

TEST(KafkaConsumerGroup, LagCountsWhatTheConsumerHasNotTakenYet) {
  const std::string topic = new_topic("lag", 1);
  KafkaProducer producer(broker());
  expect_all_delivered(producer.produce_and_wait(numbered_messages(topic, 10), 10s), 10);

  KafkaConsumer consumer(broker(), unique_name("group"), {topic});
  EXPECT_FALSE(consumer.lag().has_value()) << "no assignment before the first poll";
  std::vector<IncomingMessage> first;  // at most 3 of the 10: the rest stays in the lag
  for (const auto until = Clock::now() + 20s; first.empty() && Clock::now() < until;) {
    first = consumer.poll_batch(3, 200ms);
  }
  ASSERT_FALSE(first.empty());
  ASSERT_LE(first.size(), 3u);
  // Watermarks arrive with fetch responses; wait for them rather than guess.
  const auto expected = static_cast<std::int64_t>(10 - first.size());
  EXPECT_TRUE(testing::wait_for([&] { return consumer.lag() == expected; }, 10s))
      << "lag " << consumer.lag().value_or(-1) << ", expected " << expected;

  const auto rest = consume_at_least(consumer, 10 - first.size());
  ASSERT_EQ(first.size() + rest.size(), 10u);
  EXPECT_EQ(consumer.lag(), 0);
  ASSERT_TRUE(producer.produce_one_and_wait(OutgoingMessage{topic, "k", "late", {}}, 10s));
  EXPECT_TRUE(testing::wait_for([&] { return consumer.lag() == 1; }, 10s)) << "lag " << consumer.lag().value_or(-1);
}

TEST(KafkaConsumerGroup, UncommittedMessagesAreDeliveredAgainToTheNextInstance) {
  const std::string topic = new_topic("redeliver", 3);
  const std::string group = unique_name("group");
  KafkaProducer producer(broker());
  const auto messages = numbered_messages(topic, 30, 7);
  expect_all_delivered(producer.produce_and_wait(messages, 10s), 30);

  std::set<std::string> first_values;
  {
    KafkaConsumer first(broker(), group, {topic});
    const auto received = consume_at_least(first, 30);
    ASSERT_EQ(received.size(), 30u);
    first_values = values_of(received);
    first.close();  // no commit
  }
  KafkaConsumer second(broker(), group, {topic});
  const auto again = consume_at_least(second, 30);
  ASSERT_EQ(again.size(), 30u);
  EXPECT_EQ(values_of(again), first_values);
  EXPECT_EQ(first_values.size(), 30u);
}

TEST(KafkaConsumerGroup, PartialCommitRedeliversExactlyTheRest) {
  const std::string topic = new_topic("partial", 1);
  const std::string group = unique_name("group");
  KafkaProducer producer(broker());
  expect_all_delivered(producer.produce_and_wait(numbered_messages(topic, 20), 10s), 20);
  {
    KafkaConsumer first(broker(), group, {topic});
    const auto received = consume_at_least(first, 20);
    ASSERT_EQ(received.size(), 20u);
    // Processed out of order: the commit covers up to the highest offset given (7), not the last.
    const std::vector<IncomingMessage> processed{received[7], received[2], received[5]};
    first.commit(processed);
    first.close();
  }
  KafkaConsumer second(broker(), group, {topic});
  auto rest = consume_at_least(second, 12);
  const auto more = consume_for(second, 300ms);
  rest.insert(rest.end(), more.begin(), more.end());
  ASSERT_EQ(rest.size(), 12u);
  for (std::size_t i = 0; i < rest.size(); ++i) {
    EXPECT_EQ(rest[i].offset, static_cast<int64_t>(8 + i));
    EXPECT_EQ(rest[i].value, "m-" + std::to_string(8 + i));
  }
}

// ---------------------------------------------------------------------------------------------
// Concurrency

TEST(KafkaProducerConcurrency, FourThreadsEachGetTheirOwnResults) {
  const std::string topic = new_topic("concurrent", 6);
  KafkaProducer producer(broker());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 250;
  // Thread 2 also sends oversized messages (every 10th), which fail: only its results may show that.
  const std::string oversized(2 * 1024 * 1024, 'x');
  std::vector<std::vector<OutgoingMessage>> batches(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    batches[t] = numbered_messages(topic, kPerThread, 11, "t" + std::to_string(t));
    if (t == 2) {
      for (int i = 0; i < kPerThread; i += 10) batches[t][i].value = oversized;
    }
  }
  std::vector<std::vector<DeliveryResult>> results(kThreads);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ++ready;
      while (ready.load() < kThreads) std::this_thread::yield();  // start together
      results[t] = producer.produce_and_wait(batches[t], 15s);
    });
  }
  for (auto& thread : threads) thread.join();

  std::set<std::string> expected_values;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(results[t].size(), static_cast<std::size_t>(kPerThread));
    for (int i = 0; i < kPerThread; ++i) {
      const bool should_fail = t == 2 && i % 10 == 0;
      EXPECT_EQ(results[t][i].delivered, !should_fail)
          << "thread " << t << " message " << i << ": " << results[t][i].error;
      if (should_fail) {
        EXPECT_FALSE(results[t][i].error.empty());
      } else {
        expected_values.insert(batches[t][i].value);
      }
    }
  }
  ASSERT_EQ(expected_values.size(), static_cast<std::size_t>(kThreads * kPerThread - kPerThread / 10));

  KafkaConsumer consumer(broker(), unique_name("group"), {topic});
  const auto received = consume_at_least(consumer, expected_values.size());
  ASSERT_EQ(received.size(), expected_values.size());
  EXPECT_EQ(values_of(received), expected_values);
}

// ---------------------------------------------------------------------------------------------
// Broker unreachable

TEST(KafkaUnreachable, ProduceAndWaitReturnsNotDeliveredWithinItsTimeout) {
  const auto created = Clock::now();
  std::vector<DeliveryResult> results;
  long long call_ms = 0;
  {
    KafkaProducerSettings settings;
    settings.close_timeout = 200ms;
    KafkaProducer producer(unreachable_broker(), settings);  // message timeout 10 s > call timeout
    const auto start = Clock::now();
    results = producer.produce_and_wait(numbered_messages("it.kafka.nowhere", 3), 1000ms);
    call_ms = ms_since(start);
  }
  const auto total_ms = ms_since(created);
  std::cout << "[ timing ] unreachable produce_and_wait(1000 ms): " << call_ms << " ms; with destruction " << total_ms
            << " ms\n";
  EXPECT_GE(call_ms, 950);
  EXPECT_LT(call_ms, 1000 + 2000);
  EXPECT_LT(total_ms, 1000 + 2000 + 1000) << "destruction must not hang either";
  ASSERT_EQ(results.size(), 3u);
  for (const auto& result : results) {
    EXPECT_FALSE(result.delivered);
    EXPECT_NE(result.error.find("no delivery report"), std::string::npos) << result.error;
  }
}

TEST(KafkaUnreachable, MessageTimeoutShorterThanTheCallReportsLibraryError) {
  KafkaProducerSettings settings;
  settings.message_timeout = 800ms;
  settings.close_timeout = 200ms;
  KafkaProducer producer(unreachable_broker(), settings);
  const auto start = Clock::now();
  const auto results = producer.produce_and_wait(numbered_messages("it.kafka.nowhere", 2), 10s);
  const auto call_ms = ms_since(start);
  std::cout << "[ timing ] unreachable, message timeout 800 ms: produce_and_wait(10 s) returned after " << call_ms
            << " ms\n";
  EXPECT_LT(call_ms, 800 + 2000) << "returns when the reports arrive, not at the call's timeout";
  ASSERT_EQ(results.size(), 2u);
  for (const auto& result : results) {
    EXPECT_FALSE(result.delivered);
    EXPECT_NE(result.error.find("timed out"), std::string::npos) << result.error;
  }
  EXPECT_FALSE(producer.produce_one_and_wait(OutgoingMessage{"it.kafka.nowhere", "", "x", {}}, 200ms));
}

TEST(KafkaUnreachable, TheHealthProbeSaysDownAndLeavesStderrToTheLogger) {
  // librdkafka prints to stderr (its own format, not the service's JSON log) from any handle that
  // has no event callback; an operator's log pipeline would get those lines unstructured.
  BlockingExecutor blocking(1);
  boost::asio::io_context io;
  ::testing::internal::CaptureStderr();
  domain::ProbeResult result;
  {
    KafkaHealthProbe probe(unreachable_broker(), blocking, nullptr, 1500ms);
    for (int i = 0; i < 2; ++i) {  // the second call comes after the client has tried to connect
      auto answer = boost::asio::co_spawn(io, probe.probe(), boost::asio::use_future);
      io.run();
      io.restart();
      result = answer.get();
    }
  }
  const std::string printed = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(result.status, domain::HealthStatus::kDown);
  EXPECT_EQ(printed.find("#producer-"), std::string::npos) << printed;  // "%3|<time>|FAIL|<client.id>#producer-1| …"
}

TEST(KafkaUnreachable, ConsumerPollsEmptyCommitThrowsAndCloseReturns) {
  const auto start = Clock::now();
  auto consumer = std::make_unique<KafkaConsumer>(unreachable_broker(), unique_name("group"),
                                                  std::vector<std::string>{"it.kafka.nowhere"},
                                                  // commit() waits up to the session timeout for a
                                                  // coordinator; the broker's 6 s minimum does not
                                                  // apply when there is no broker.
                                                  KafkaConsumerSettings{1000ms, 300ms, 300000ms});
  for (int i = 0; i < 2; ++i) {
    const auto poll_start = Clock::now();
    EXPECT_TRUE(consumer->poll_batch(10, 300ms).empty());
    EXPECT_LT(ms_since(poll_start), 300 + 500);
  }
  // Run commit and close on another thread so a hang fails the test instead of blocking it.
  auto finished = std::async(std::launch::async, [&consumer] {
    IncomingMessage processed;
    processed.topic = "it.kafka.nowhere";
    processed.offset = 5;
    std::string outcome = "no exception";
    const auto commit_start = Clock::now();
    try {
      consumer->commit({processed});
    } catch (const KafkaError& error) {
      outcome = error.what();
    }
    const auto commit_ms = ms_since(commit_start);
    const auto close_start = Clock::now();
    consumer->close();
    return std::make_tuple(outcome, commit_ms, ms_since(close_start));
  });
  ASSERT_EQ(finished.wait_for(20s), std::future_status::ready) << "commit/close hung";
  const auto [outcome, commit_ms, close_ms] = finished.get();
  EXPECT_NE(outcome, "no exception");
  EXPECT_LT(commit_ms, 1000 + 4000);  // librdkafka checks its timeouts about once a second
  EXPECT_LT(close_ms, 2000);
  std::cout << "[ timing ] unreachable consumer: commit threw after " << commit_ms << " ms (" << outcome << "), close "
            << close_ms << " ms, total " << ms_since(start) << " ms\n";
  consumer.reset();
  EXPECT_THROW(KafkaConsumer(broker(), "", {"t"}), KafkaError);
}

}  // namespace
}  // namespace ticketing::infra::kafka
