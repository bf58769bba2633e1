#include "domain/queue.hpp"

#include <algorithm>
#include <cmath>

namespace ticketing::domain {

std::string_view to_string(QueueStatus status) noexcept {
  return status == QueueStatus::kAdmitted ? "ADMITTED" : "WAITING";
}

std::int64_t poll_after_ms(QueueStatus status, std::int64_t estimated_wait_seconds) noexcept {
  if (status == QueueStatus::kAdmitted) return kAdmittedPollMs;
  const std::int64_t quarter = std::max<std::int64_t>(0, estimated_wait_seconds) * 1000 / 4;
  return std::clamp(quarter, kMinPollMs, kMaxPollMs);
}

}  // namespace ticketing::domain
