#pragma once
// Idempotent Kafka producer (enable.idempotence=true, acks=all) with a blocking, per-call API:
// produce a batch, wait for its delivery reports, get one result per message.
//
// Thread-safe: several threads may call produce_and_wait() at once; each call waits only for its
// own messages. Delivery reports are served by an internal poll thread.
//
// Outcome semantics (at-least-once):
//  * delivered == true: the broker acknowledged the message (acks=all).
//  * delivered == false with a librdkafka error (e.g. "Local: Message timed out" once
//    message_timeout passes): not delivered; when the error text ends with "(possibly persisted)"
//    the broker may have written it anyway, so a retry can duplicate it (consumers dedupe).
//  * delivered == false because the call's own timeout passed first ("no delivery report
//    within ..."): outcome unknown; the message stays queued and may still be delivered later.
//    Keep message_timeout <= the timeout given to produce_and_wait() to make this rare.
// An empty key is sent as a null key.
// After a fatal idempotence error (logged as FATAL, reported by fatal_error()) every later call
// fails; create a new producer (RecoveringProducer does that for the service).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "infra/kafka/kafka_options.hpp"

namespace RdKafka {
class Producer;
}

namespace ticketing::infra::kafka {

class RateLimitedEventLogger;

struct OutgoingMessage {
  std::string topic;
  std::string key;  // empty: no key (partitioner picks a partition)
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct DeliveryResult {
  bool delivered = false;
  std::string error;  // empty when delivered
  // Refused for its size (by this producer's message.max.bytes or the broker's): sending the same
  // message again can never succeed.
  bool too_large = false;
};

struct KafkaProducerSettings {
  // librdkafka message.timeout.ms: how long a message may wait for a successful delivery
  // (including retries) before it fails with "Message timed out".
  std::chrono::milliseconds message_timeout{10000};
  std::chrono::milliseconds linger{5};
  // queue.buffering.max.messages: produce_and_wait() waits for room when this many are queued.
  int max_queued_messages = 100000;
  // The destructor waits this long for outstanding messages, then purges them.
  std::chrono::milliseconds close_timeout{2000};
};

// What the outbox relay and the dead-letter path need of a producer.
class MessageProducer {
 public:
  virtual ~MessageProducer() = default;
  // Produces all messages, then waits until each has a delivery report or `timeout` passes.
  // Returns one result per message, in order. Never throws for broker or delivery problems.
  virtual std::vector<DeliveryResult> produce_and_wait(const std::vector<OutgoingMessage>& messages,
                                                       std::chrono::milliseconds timeout) = 0;
  bool produce_one_and_wait(const OutgoingMessage& message, std::chrono::milliseconds timeout);
};

class KafkaProducer final : public MessageProducer {
 public:
  // Throws KafkaError on invalid configuration. Does not contact the broker.
  explicit KafkaProducer(const KafkaOptions& options, KafkaProducerSettings settings = {});
  ~KafkaProducer();
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  // Produces all messages (waiting while the local queue is full), then waits until each has a
  // delivery report or `timeout` (measured from the call) passes. Returns one result per message,
  // in order. Never throws for broker or delivery problems; returns within about timeout + 100 ms.
  std::vector<DeliveryResult> produce_and_wait(const std::vector<OutgoingMessage>& messages,
                                               std::chrono::milliseconds timeout) override;

  // Messages produced but not yet reported (all callers).
  int outstanding() const;

  // The fatal error that made this producer unusable for good (librdkafka's rd_kafka_fatal_error:
  // error name and reason), or nullopt while it works. Cheap; never blocks.
  std::optional<std::string> fatal_error() const;

  // Tests only: raises a fabricated fatal error (rd_kafka_test_fatal_error), as a broker that
  // broke the idempotence guarantees would. Later calls fail as after a real one.
  void inject_fatal_error_for_test(const std::string& reason);

  struct Batch;  // per-call delivery bookkeeping (internal)

 private:
  class DeliveryCallback;
  void poll_loop();

  KafkaProducerSettings settings_;
  std::unique_ptr<RateLimitedEventLogger> logger_;
  std::unique_ptr<DeliveryCallback> delivery_callback_;
  std::unique_ptr<RdKafka::Producer> producer_;
  // Notified on every delivery report: a caller waiting for local queue space retries.
  std::mutex space_mutex_;
  std::condition_variable space_freed_;
  std::atomic<bool> stopping_{false};
  std::thread poller_;
};

}  // namespace ticketing::infra::kafka
