#pragma once
// The service's Kafka producer, replaced by a new one after a fatal error.
//
// librdkafka's idempotent producer can fail fatally (e.g. the broker reports a sequence gap it
// cannot repair); the handle then refuses every later message for good. RecoveringProducer owns the
// producer in use, notices that state (after each call, in maintain() and in status()) and makes a
// new producer from its factory once a bounded, doubling backoff has passed (RebuildSchedule).
// Meanwhile every call fails at once, naming the reason, and status() says so: the Kafka health
// probe reports DEGRADED. Nothing is lost: the outbox relay leaves its rows unpublished until a
// producer works again. Thread-safe.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "infra/kafka/kafka_producer.hpp"

namespace ticketing::infra::kafka {

struct RebuildBackoff {
  std::chrono::milliseconds first{1000};  // wait between the fatal error and the first rebuild
  std::chrono::milliseconds max{30000};   // the doubling stops here
};

// When to rebuild: a pure state machine over the times it is given.
//   fatal error noticed -> wait delay(n) -> rebuild -> (new producer fails before it delivered
//   anything: n + 1, a longer wait) ... ; one delivered message starts over at n = 1.
class RebuildSchedule {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RebuildSchedule(RebuildBackoff backoff) : backoff_(backoff) {}

  // The wait before rebuild attempt `attempt` (1-based): first, 2 x first, 4 x first, ... at most
  // max (never less than first).
  static std::chrono::milliseconds delay(int attempt, RebuildBackoff backoff);

  // The producer in use was found fatal at `now`. Only the first report per producer counts;
  // false for repeats.
  bool on_fatal(Clock::time_point now);
  // The producer in use is fatal and its wait has passed.
  bool due(Clock::time_point now) const { return fatal_ && now >= next_at_; }
  // A new producer is in use.
  void on_rebuilt() { fatal_ = false; }
  // No new producer could be made at `now`: try again after the next, longer wait.
  void on_rebuild_failed(Clock::time_point now);
  // The producer in use delivered a message: a later fatal error waits `first` again.
  void on_delivered();

  bool fatal() const { return fatal_; }
  // The rebuild being waited for: 1 = the first since a producer last delivered.
  int attempt() const { return failures_; }
  Clock::time_point next_rebuild_at() const { return next_at_; }

 private:
  RebuildBackoff backoff_;
  bool fatal_ = false;
  int failures_ = 0;  // fatal producers and failed rebuilds since a producer last delivered
  Clock::time_point next_at_{};
};

class RecoveringProducer final : public MessageProducer {
 public:
  using Factory = std::function<std::unique_ptr<KafkaProducer>()>;

  // Makes the first producer now; throws what the factory throws (bad configuration).
  explicit RecoveringProducer(Factory factory, RebuildBackoff backoff = {});

  // maintain(), then the producer in use. While a rebuild is pending every message fails at once.
  std::vector<DeliveryResult> produce_and_wait(const std::vector<OutgoingMessage>& messages,
                                               std::chrono::milliseconds timeout) override;

  // Notices a fatal error of the producer in use and, when the rebuild is due, replaces it (the old
  // one is closed on the calling thread: up to its close_timeout). True when the producer in use
  // works. The outbox relay calls it every round, so an idle producer is rebuilt too.
  bool maintain();

  struct Status {
    bool fatal = false;  // the producer in use is unusable; a rebuild is pending
    std::string reason;  // librdkafka's error name and reason (for the log)
    int attempt = 0;     // the pending rebuild attempt (1 = first)
    std::chrono::milliseconds rebuild_in{0};
  };
  // Notices a fatal error too, never rebuilds, never blocks.
  Status status();
  // Producers replaced after a fatal error since start.
  std::uint64_t rebuilds() const { return rebuilds_.load(std::memory_order_relaxed); }

  // Tests only: a fatal error in the producer in use (KafkaProducer::inject_fatal_error_for_test).
  void inject_fatal_error_for_test(const std::string& reason);

 private:
  void notice_fatal_locked(RebuildSchedule::Clock::time_point now);

  Factory factory_;
  std::mutex mutex_;
  std::shared_ptr<KafkaProducer> current_;
  RebuildSchedule schedule_;
  std::string reason_;  // of the pending rebuild
  std::atomic<std::uint64_t> rebuilds_{0};
};

}  // namespace ticketing::infra::kafka
