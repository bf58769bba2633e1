#pragma once
#include "domain/ports/health_probe.hpp"
#include "infra/redis/redis_client.hpp"

namespace ticketing::infra::redis {

class RedisHealthProbe final : public domain::HealthProbe {
 public:
  explicit RedisHealthProbe(RedisClient& client) : client_(client) {}
  const std::string& component() const override { return name_; }
  Task<domain::ProbeResult> probe() override;

 private:
  RedisClient& client_;
  std::string name_ = "redis";
};

}  // namespace ticketing::infra::redis
