#include "application/health_service.hpp"

namespace ticketing::application {

HealthService::HealthService(std::vector<domain::HealthProbe*> probes, std::chrono::milliseconds cache_for)
    : probes_(std::move(probes)), cache_for_(cache_for), cache_(probes_.size()) {}

Task<HealthReport> HealthService::check() {
  HealthReport report;
  report.up = true;
  for (std::size_t i = 0; i < probes_.size(); ++i) {
    domain::ProbeResult result;
    bool use_cached = false;
    {
      std::lock_guard lock(mutex_);
      Cached& cached = cache_[i];
      const bool fresh = cached.valid && std::chrono::steady_clock::now() - cached.at < cache_for_;
      if (fresh || (cached.valid && cached.refreshing)) {
        result = cached.result;
        use_cached = true;
      } else {
        cached.refreshing = true;
      }
    }
    if (!use_cached) {
      result = co_await probes_[i]->probe();  // probes never throw
      std::lock_guard lock(mutex_);
      cache_[i] = Cached{result, std::chrono::steady_clock::now(), true, false};
    }
    report.up = report.up && result.up;
    report.components.push_back({probes_[i]->component(), result.up, result.detail});
  }
  co_return report;
}

}  // namespace ticketing::application
