#pragma once
#include <chrono>
#include <memory>

#include "domain/ports/health_probe.hpp"
#include "infra/blocking_executor.hpp"
#include "infra/kafka/kafka_options.hpp"

namespace RdKafka {
class Producer;
}

namespace ticketing::infra::kafka {

class RecoveringProducer;
class RateLimitedEventLogger;

// Kafka is up when a broker answers a metadata request within the timeout; degraded when it does
// but `producer` (the service's producer, if given) hit a fatal error and waits to be rebuilt.
class KafkaHealthProbe final : public domain::HealthProbe {
 public:
  KafkaHealthProbe(const KafkaOptions& options, BlockingExecutor& blocking, RecoveringProducer* producer = nullptr,
                   std::chrono::milliseconds timeout = std::chrono::milliseconds(1500));
  ~KafkaHealthProbe() override;
  const std::string& component() const override { return name_; }
  Task<domain::ProbeResult> probe() override;

 private:
  std::unique_ptr<RateLimitedEventLogger> logger_;  // outlives producer_, which calls it
  std::unique_ptr<RdKafka::Producer> producer_;
  BlockingExecutor& blocking_;
  RecoveringProducer* watched_;
  std::chrono::milliseconds timeout_;
  std::string name_ = "kafka";
};

}  // namespace ticketing::infra::kafka
