#include "application/health_service.hpp"

namespace ticketing::application {

HealthStatus overall_status(const std::vector<ComponentHealth>& components) {
  HealthStatus overall = HealthStatus::kUp;
  for (const auto& component : components) {
    if (component.status == HealthStatus::kDown) return HealthStatus::kDown;
    if (component.status == HealthStatus::kDegraded) overall = HealthStatus::kDegraded;
  }
  return overall;
}

const char* to_string(HealthStatus status) {
  switch (status) {
    case HealthStatus::kUp: return "UP";
    case HealthStatus::kDegraded: return "DEGRADED";
    case HealthStatus::kDown: break;
  }
  return "DOWN";
}

HealthService::HealthService(std::vector<domain::HealthProbe*> probes, std::chrono::milliseconds cache_for,
                             std::chrono::milliseconds answer_within)
    : probes_(std::move(probes)), cache_for_(cache_for), answer_within_(answer_within), cache_(probes_.size()) {}

Task<HealthReport> HealthService::check() {
  HealthReport report;
  for (std::size_t i = 0; i < probes_.size(); ++i) {
    domain::ProbeResult result;
    bool use_cached = false;
    {
      std::lock_guard lock(mutex_);
      Cached& cached = cache_[i];
      const auto now = std::chrono::steady_clock::now();
      const bool fresh = cached.valid && now - cached.at < cache_for_;
      if (fresh) {
        result = cached.result;
        use_cached = true;
      } else if (cached.refreshing && now - cached.refresh_started >= answer_within_) {
        result = domain::ProbeResult{
            false,
            "its probe has not answered for " +
                std::to_string(
                    std::chrono::duration_cast<std::chrono::milliseconds>(now - cached.refresh_started).count()) +
                " ms"};
        use_cached = true;
      } else if (cached.refreshing && cached.valid) {
        result = cached.result;
        use_cached = true;
      } else {
        if (!cached.refreshing) cached.refresh_started = now;
        cached.refreshing = true;
      }
    }
    if (!use_cached) {
      try {
        result = co_await probes_[i]->probe();  // probes should not throw; if one does, its flag is cleared
      } catch (const std::exception& error) {
        result = domain::ProbeResult{false, error.what()};
      }
      std::lock_guard lock(mutex_);
      cache_[i] = Cached{result, std::chrono::steady_clock::now(), true, false};
    }
    report.components.push_back({probes_[i]->component(), result.status, result.detail});
  }
  report.status = overall_status(report.components);
  co_return report;
}

}  // namespace ticketing::application
