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

std::int64_t poll_after_ms(QueueStatus status, std::int64_t estimated_wait_seconds, std::int64_t position,
                           std::chrono::milliseconds heartbeat_timeout) noexcept {
  if (status == QueueStatus::kAdmitted) return kAdmittedPollMs;
  const std::int64_t most = std::clamp<std::int64_t>(heartbeat_timeout.count() / 2, 1, kMaxPollMs);
  std::int64_t advice = std::clamp<std::int64_t>(estimated_wait_seconds, 0, 1'000'000'000) * 1000 / 4;
  if (position > 0) advice = std::min(advice, std::min<std::int64_t>(position, kMaxPollMs / kMinPollMs) * kMinPollMs);
  return std::clamp(advice, min_poll_after_ms(heartbeat_timeout), most);
}

std::int64_t min_poll_after_ms(std::chrono::milliseconds heartbeat_timeout) noexcept {
  return std::min(kMinPollMs, std::clamp<std::int64_t>(heartbeat_timeout.count() / 2, 1, kMaxPollMs));
}

}  // namespace ticketing::domain
