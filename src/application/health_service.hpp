#pragma once
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "domain/ports/health_probe.hpp"

namespace ticketing::application {

using domain::HealthStatus;

struct ComponentHealth {
  std::string name;
  HealthStatus status = HealthStatus::kDown;
  std::string detail;
};

struct HealthReport {
  HealthStatus status = HealthStatus::kDown;  // overall_status(components)
  std::vector<ComponentHealth> components;
};

// DOWN when any component is down, else DEGRADED when any is degraded, else UP (also for none).
HealthStatus overall_status(const std::vector<ComponentHealth>& components);
// "UP", "DEGRADED", "DOWN".
const char* to_string(HealthStatus status);

// Readiness of every dependency. Results are cached briefly and refreshed by one caller at a time
// (others get the last result meanwhile), so a health-check storm does not turn into a storm
// against the database, Redis and Kafka. A refresh unanswered for `answer_within` makes the
// component DOWN for everyone else: a frozen database may keep its probe waiting for the query
// timeout, and its last answer (UP) is no answer for that long.
class HealthService {
 public:
  HealthService(std::vector<domain::HealthProbe*> probes, std::chrono::milliseconds cache_for,
                std::chrono::milliseconds answer_within = std::chrono::seconds(2));

  Task<HealthReport> check();

 private:
  struct Cached {
    domain::ProbeResult result;
    std::chrono::steady_clock::time_point at{};
    bool valid = false;
    bool refreshing = false;
    std::chrono::steady_clock::time_point refresh_started{};
  };

  std::vector<domain::HealthProbe*> probes_;
  std::chrono::milliseconds cache_for_;
  std::chrono::milliseconds answer_within_;
  std::mutex mutex_;
  std::vector<Cached> cache_;
};

}  // namespace ticketing::application
