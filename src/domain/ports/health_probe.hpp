#pragma once
#include <string>
#include <utility>

#include "domain/async.hpp"

namespace ticketing::domain {

// kDegraded: the dependency answers but part of what the service does with it is impaired (e.g.
// Kafka is reachable while the outbox producer is being rebuilt after a fatal error).
enum class HealthStatus { kUp, kDegraded, kDown };

struct ProbeResult {
  HealthStatus status = HealthStatus::kDown;
  // Why it is down or degraded; never contains secrets. A kDegraded detail is shown to clients, so
  // it is the probe's own wording (a kDown one may quote a driver and only goes to the log).
  std::string detail;

  ProbeResult() = default;
  ProbeResult(bool up, std::string why)
      : status(up ? HealthStatus::kUp : HealthStatus::kDown), detail(std::move(why)) {}
  ProbeResult(HealthStatus s, std::string why) : status(s), detail(std::move(why)) {}
};

// One dependency the service needs (db, redis, kafka). probe() never throws.
class HealthProbe {
 public:
  virtual ~HealthProbe() = default;
  virtual const std::string& component() const = 0;
  virtual Task<ProbeResult> probe() = 0;
};

}  // namespace ticketing::domain
