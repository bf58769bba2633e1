#include "infra/redis/redis_health_probe.hpp"

namespace ticketing::infra::redis {

Task<domain::ProbeResult> RedisHealthProbe::probe() {
  try {
    co_await client_.ping();
    co_return domain::ProbeResult{true, ""};
  } catch (const std::exception& error) {
    co_return domain::ProbeResult{false, error.what()};
  }
}

}  // namespace ticketing::infra::redis
