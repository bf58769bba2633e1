#pragma once
// Creating the service's topics at startup (and in tests).
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "infra/kafka/kafka_options.hpp"

namespace ticketing::infra::kafka {

struct TopicSpec {
  std::string name;
  int partitions = 1;
  std::vector<std::pair<std::string, std::string>> configs;  // topic settings, e.g. max.message.bytes
};

// Topics of the payment flow (DESIGN.md §7).
inline constexpr const char* kPaymentCompletedTopic = "payment.completed";
inline constexpr const char* kPaymentCompletedDlqTopic = "payment.completed.dlq";
inline constexpr const char* kPaymentRefundRequestedTopic = "payment.refund-requested";
std::vector<TopicSpec> service_topics();  // the three above with 6, 1 and 3 partitions

// Creates the topics that do not exist yet (broker-default replication factor) and waits until
// every one of them is in the cluster metadata with a leader for each partition, so producers and
// consumers can use them right away. Existing topics count as success; one that exists with a
// different partition count is logged as a warning and left alone (changing it would move keys).
// Throws domain::DependencyUnavailable("kafka", ...) when the broker cannot be reached or the
// topics are not ready within `timeout`, and KafkaError when the broker rejects a topic (e.g.
// an invalid name or partition count).
void ensure_topics(const KafkaOptions& options, const std::vector<TopicSpec>& topics,
                   std::chrono::milliseconds timeout);

}  // namespace ticketing::infra::kafka
