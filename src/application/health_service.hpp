#pragma once
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "domain/ports/health_probe.hpp"

namespace ticketing::application {

struct ComponentHealth {
  std::string name;
  bool up = false;
  std::string detail;
};

struct HealthReport {
  bool up = false;  // all components up
  std::vector<ComponentHealth> components;
};

// Readiness of every dependency. Results are cached briefly and refreshed by one caller at a time
// (others get the last result meanwhile), so a health-check storm does not turn into a storm
// against the database, Redis and Kafka.
class HealthService {
 public:
  HealthService(std::vector<domain::HealthProbe*> probes, std::chrono::milliseconds cache_for);

  Task<HealthReport> check();

 private:
  struct Cached {
    domain::ProbeResult result;
    std::chrono::steady_clock::time_point at{};
    bool valid = false;
    bool refreshing = false;
  };

  std::vector<domain::HealthProbe*> probes_;
  std::chrono::milliseconds cache_for_;
  std::mutex mutex_;
  std::vector<Cached> cache_;
};

}  // namespace ticketing::application
