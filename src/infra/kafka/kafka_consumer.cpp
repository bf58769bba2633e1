#include "infra/kafka/kafka_consumer.hpp"

#include <librdkafka/rdkafkacpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <stdexcept>

#include "infra/kafka/kafka_error.hpp"
#include "infra/kafka/kafka_log.hpp"

namespace ticketing::infra::kafka {

using Clock = std::chrono::steady_clock;

std::vector<CommitPosition> commit_positions(const std::vector<IncomingMessage>& processed) {
  std::map<std::pair<std::string, std::int32_t>, std::int64_t> highest;
  for (const auto& message : processed) {
    auto [it, inserted] = highest.try_emplace({message.topic, message.partition}, message.offset);
    if (!inserted) it->second = std::max(it->second, message.offset);
  }
  std::vector<CommitPosition> positions;
  positions.reserve(highest.size());
  for (const auto& [partition, offset] : highest) {
    positions.push_back(CommitPosition{partition.first, partition.second, offset + 1});
  }
  return positions;
}

namespace {

IncomingMessage to_incoming(RdKafka::Message& message) {
  IncomingMessage out;
  out.topic = message.topic_name();
  out.partition = message.partition();
  out.offset = message.offset();
  if (const std::string* key = message.key(); key != nullptr) out.key = *key;
  if (message.payload() != nullptr) out.value.assign(static_cast<const char*>(message.payload()), message.len());
  if (RdKafka::Headers* headers = message.headers(); headers != nullptr) {
    for (const auto& header : headers->get_all()) {
      std::string value;
      if (header.value() != nullptr) value.assign(static_cast<const char*>(header.value()), header.value_size());
      out.headers.emplace_back(header.key(), std::move(value));
    }
  }
  return out;
}

// Owns the TopicPartition pointers commitSync needs.
struct PartitionList {
  std::vector<RdKafka::TopicPartition*> items;
  ~PartitionList() { RdKafka::TopicPartition::destroy(items); }
};

}  // namespace

KafkaConsumer::KafkaConsumer(const KafkaOptions& options, std::string group_id, std::vector<std::string> topics,
                             KafkaConsumerSettings settings)
    : group_id_(std::move(group_id)),
      logger_(std::make_unique<RateLimitedEventLogger>("consumer " + options.client_id + "/" + group_id_)) {
  if (group_id_.empty()) throw KafkaError(RdKafka::ERR__INVALID_ARG, "kafka consumer: empty group id");
  if (topics.empty()) throw KafkaError(RdKafka::ERR__INVALID_ARG, "kafka consumer: no topics to subscribe to");
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  set_conf(*conf, "bootstrap.servers", options.bootstrap_servers);
  set_conf(*conf, "client.id", options.client_id);
  set_conf(*conf, "group.id", group_id_);
  set_conf(*conf, "enable.auto.commit", "false");
  set_conf(*conf, "auto.offset.reset", "earliest");
  set_conf(*conf, "enable.partition.eof", "false");
  set_conf(*conf, "session.timeout.ms", std::to_string(settings.session_timeout.count()));
  set_conf(*conf, "heartbeat.interval.ms", std::to_string(settings.heartbeat_interval.count()));
  set_conf(*conf, "max.poll.interval.ms", std::to_string(settings.max_poll_interval.count()));
  set_conf(*conf, "reconnect.backoff.max.ms", "2000");
  set_conf(*conf, "log_level", "4");
  set_conf(*conf, "event_cb", logger_.get());
  std::string error;
  consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!consumer_) throw KafkaError(RdKafka::ERR__INVALID_ARG, "kafka consumer: " + error);
  const RdKafka::ErrorCode code = consumer_->subscribe(topics);
  if (code != RdKafka::ERR_NO_ERROR) {
    consumer_->close();
    throw KafkaError(code, "kafka consumer: subscribe failed: " + RdKafka::err2str(code));
  }
}

KafkaConsumer::~KafkaConsumer() {
  close();
}

std::vector<IncomingMessage> KafkaConsumer::poll_batch(std::size_t max, std::chrono::milliseconds timeout) {
  if (closed_) throw std::logic_error("kafka consumer: poll_batch after close");
  std::vector<IncomingMessage> batch;
  const auto deadline = Clock::now() + timeout;
  while (batch.size() < max) {
    int wait_ms = 0;
    if (batch.empty()) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
      wait_ms = static_cast<int>(std::max<std::int64_t>(0, left));
    }
    std::unique_ptr<RdKafka::Message> message(consumer_->consume(wait_ms));
    if (!message) break;
    const RdKafka::ErrorCode code = message->err();
    if (code == RdKafka::ERR_NO_ERROR) {
      batch.push_back(to_incoming(*message));
      continue;
    }
    if (code == RdKafka::ERR__TIMED_OUT) {
      // Nothing more fetched: return what we have; with nothing, wait until the deadline.
      if (!batch.empty() || Clock::now() >= deadline) break;
      continue;
    }
    // An error event (broker down, unknown topic, ...): librdkafka retries by itself.
    if (code != RdKafka::ERR__PARTITION_EOF) logger_->log_error(static_cast<int>(code), message->errstr());
    if (batch.empty() && Clock::now() >= deadline) break;
  }
  return batch;
}

void KafkaConsumer::commit(const std::vector<IncomingMessage>& processed) {
  if (closed_) throw std::logic_error("kafka consumer: commit after close");
  const auto positions = commit_positions(processed);
  if (positions.empty()) return;
  PartitionList offsets;
  offsets.items.reserve(positions.size());
  for (const auto& position : positions) {
    offsets.items.push_back(RdKafka::TopicPartition::create(position.topic, position.partition, position.next_offset));
  }
  const RdKafka::ErrorCode code = consumer_->commitSync(offsets.items);
  if (code != RdKafka::ERR_NO_ERROR) {
    throw KafkaError(code, "kafka commit for group " + group_id_ + " failed: " + RdKafka::err2str(code));
  }
  std::string failures;
  int first_code = 0;
  for (const RdKafka::TopicPartition* partition : offsets.items) {
    if (partition->err() == RdKafka::ERR_NO_ERROR) continue;
    if (first_code == 0) first_code = static_cast<int>(partition->err());
    failures += " " + partition->topic() + "[" + std::to_string(partition->partition()) +
                "]: " + RdKafka::err2str(partition->err()) + ";";
  }
  if (!failures.empty()) {
    throw KafkaError(first_code, "kafka commit for group " + group_id_ + " failed for" + failures);
  }
}

std::optional<std::int64_t> KafkaConsumer::lag() {
  if (closed_) return std::nullopt;
  PartitionList assigned;
  if (consumer_->assignment(assigned.items) != RdKafka::ERR_NO_ERROR || assigned.items.empty()) return std::nullopt;
  if (consumer_->position(assigned.items) != RdKafka::ERR_NO_ERROR) return std::nullopt;
  std::int64_t total = 0;
  for (const RdKafka::TopicPartition* partition : assigned.items) {
    std::int64_t low = 0;
    std::int64_t high = 0;
    // No position yet (nothing read since the assignment) or no watermark fetched: nothing known.
    if (partition->offset() < 0 ||
        consumer_->get_watermark_offsets(partition->topic(), partition->partition(), &low, &high) !=
            RdKafka::ERR_NO_ERROR ||
        high < 0) {
      continue;
    }
    total += std::max<std::int64_t>(0, high - partition->offset());
  }
  return total;
}

void KafkaConsumer::close() {
  if (closed_) return;
  closed_ = true;
  const RdKafka::ErrorCode code = consumer_->close();
  if (code != RdKafka::ERR_NO_ERROR) {
    spdlog::warn("kafka consumer {}: close: {}", group_id_, RdKafka::err2str(code));
  }
}

}  // namespace ticketing::infra::kafka
