#pragma once
#include <string>

#include "domain/async.hpp"

namespace ticketing::domain {

struct ProbeResult {
  bool up = false;
  std::string detail;  // why it is down; never contains secrets
};

// One dependency the service needs (db, redis, kafka). probe() never throws.
class HealthProbe {
 public:
  virtual ~HealthProbe() = default;
  virtual const std::string& component() const = 0;
  virtual Task<ProbeResult> probe() = 0;
};

}  // namespace ticketing::domain
