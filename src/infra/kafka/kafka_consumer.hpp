#pragma once
// Kafka group consumer with manual, synchronous offset commits (at-least-once): poll a batch,
// process it, then commit() what was processed. Messages not committed before a restart or a
// rebalance are delivered again (to this group), so processing must be idempotent.
//
// One instance is used from one thread. Broker outages never make poll_batch() throw: it logs
// (rate-limited) and returns what it has, possibly nothing; librdkafka reconnects by itself.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "infra/kafka/kafka_options.hpp"

namespace RdKafka {
class KafkaConsumer;
}

namespace ticketing::infra::kafka {

class RateLimitedEventLogger;

struct IncomingMessage {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::string key;                                           // null key -> empty
  std::string value;                                         // null value (tombstone) -> empty
  std::vector<std::pair<std::string, std::string>> headers;  // in message order; null values -> empty
};

struct KafkaConsumerSettings {
  // The broker accepts 6 s .. 300 s by default (group.min/max.session.timeout.ms). Only matters
  // when a consumer dies without close(): its partitions move after this long.
  std::chrono::milliseconds session_timeout{10000};
  std::chrono::milliseconds heartbeat_interval{1000};
  // A consumer that does not poll for this long leaves the group (processing a batch took too long).
  std::chrono::milliseconds max_poll_interval{300000};
};

// One committed position: the next offset to read for a partition.
struct CommitPosition {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t next_offset = 0;
  bool operator==(const CommitPosition&) const = default;
};

// For each (topic, partition) in `processed`: the highest offset + 1, sorted by topic, partition.
std::vector<CommitPosition> commit_positions(const std::vector<IncomingMessage>& processed);

class KafkaConsumer {
 public:
  // Subscribes to `topics` in group `group_id` (enable.auto.commit=false,
  // auto.offset.reset=earliest). The group is joined lazily by poll_batch(). Throws KafkaError on
  // invalid configuration or arguments.
  KafkaConsumer(const KafkaOptions& options, std::string group_id, std::vector<std::string> topics,
                KafkaConsumerSettings settings = {});
  ~KafkaConsumer();  // close()
  KafkaConsumer(const KafkaConsumer&) = delete;
  KafkaConsumer& operator=(const KafkaConsumer&) = delete;

  // Waits up to `timeout` for the first message, then takes whatever else is already fetched, up
  // to `max` messages. Returns an empty vector on timeout or while the broker is unreachable;
  // error events are logged (rate-limited) and skipped. Throws std::logic_error after close().
  std::vector<IncomingMessage> poll_batch(std::size_t max, std::chrono::milliseconds timeout);

  // Synchronously commits commit_positions(processed) for this group. Does nothing for an empty
  // vector. THROWS KafkaError when the commit fails as a whole (broker unreachable, timed out) or
  // for any partition (e.g. the partition was revoked by a rebalance): nothing is known to be
  // committed then, and the messages may be delivered again. Throws std::logic_error after close().
  // Blocks until the broker answers; with no reachable group coordinator it fails with
  // "Local: Waiting for coordinator" after about session_timeout (+ up to 1 s).
  void commit(const std::vector<IncomingMessage>& processed);

  // Messages on the broker this consumer has not taken yet: high watermark − position, summed over
  // its assigned partitions that it has read from since the assignment. From librdkafka's cached
  // watermarks, so it never blocks. nullopt before the first assignment.
  std::optional<std::int64_t> lag();

  // Leaves the group (its partitions are reassigned at once) without committing anything.
  // Idempotent; never throws.
  void close();

  const std::string& group_id() const { return group_id_; }

 private:
  std::string group_id_;
  std::unique_ptr<RateLimitedEventLogger> logger_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  bool closed_ = false;
};

}  // namespace ticketing::infra::kafka
