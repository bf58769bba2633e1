#include "domain/queue.hpp"

#include <algorithm>
#include <cmath>

namespace ticketing::domain {

std::string_view to_string(QueueStatus status) noexcept {
  switch (status) {
    case QueueStatus::kAdmitted: return "ADMITTED";
    case QueueStatus::kPrequeued: return "PREQUEUED";
    case QueueStatus::kWaiting: break;
  }
  return "WAITING";
}

std::int64_t estimate_wait_seconds(std::int64_t position, double measured_rate, const QueuePolicy& policy) {
  if (position <= 0) return 0;
  const double ttl_seconds = std::max(0.001, std::chrono::duration<double>(policy.active_ttl).count());
  const double lapse_rate = static_cast<double>(policy.max_active) / ttl_seconds;
  double rate = std::max(measured_rate, lapse_rate);
  if (policy.admit_per_second > 0) rate = std::min(rate, static_cast<double>(policy.admit_per_second));
  if (rate <= 0) return static_cast<std::int64_t>(ttl_seconds) * position;
  return static_cast<std::int64_t>(std::ceil(static_cast<double>(position) / rate));
}

std::int64_t poll_after_ms(QueueStatus status, std::int64_t estimated_wait_seconds) noexcept {
  if (status == QueueStatus::kAdmitted) return kAdmittedPollMs;
  const std::int64_t quarter = std::max<std::int64_t>(0, estimated_wait_seconds) * 1000 / 4;
  return std::clamp(quarter, kMinPollMs, kMaxPollMs);
}

}  // namespace ticketing::domain
