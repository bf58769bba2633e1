#pragma once
// A lock-free histogram with fixed upper bounds (seconds), for latencies that components record
// on hot paths and the metrics endpoint reads at scrape time.
#include <array>
#include <atomic>
#include <cstdint>
#include <utility>
#include <vector>

namespace ticketing::support {

class AtomicHistogram {
 public:
  static constexpr std::array<double, 12> kBounds{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                  0.05,   0.1,   0.25,   0.5,   1.0,  5.0};

  void observe(double seconds) {
    std::size_t i = 0;
    while (i < kBounds.size() && seconds > kBounds[i]) ++i;
    counts_[i].fetch_add(1, std::memory_order_relaxed);  // i == kBounds.size(): the +Inf bucket
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_micros_.fetch_add(static_cast<std::uint64_t>(seconds * 1e6), std::memory_order_relaxed);
  }

  // Cumulative (bound, count ≤ bound) pairs, as Prometheus wants them.
  std::vector<std::pair<double, std::uint64_t>> cumulative() const {
    std::vector<std::pair<double, std::uint64_t>> out;
    std::uint64_t running = 0;
    for (std::size_t i = 0; i < kBounds.size(); ++i) {
      running += counts_[i].load(std::memory_order_relaxed);
      out.emplace_back(kBounds[i], running);
    }
    return out;
  }
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6; }

 private:
  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> counts_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_micros_{0};
};

}  // namespace ticketing::support
