#pragma once
// Fixed-window counters shared by every instance (Redis in production).
#include <chrono>
#include <string>

#include "domain/async.hpp"

namespace ticketing::domain {

struct LimitState {
  bool allowed = true;
  std::chrono::seconds retry_after{0};  // whole seconds until the window ends (≥ 1 when refused)
};

struct Limit {
  std::int64_t max = 0;  // hits allowed per window
  std::chrono::milliseconds window{0};
};

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // Counts one hit; refused when the window already holds `limit.max` hits (the hit still counts).
  virtual Task<LimitState> hit(const std::string& key, Limit limit) = 0;
  // Looks without counting.
  virtual Task<LimitState> peek(const std::string& key, Limit limit) = 0;
  virtual Task<void> reset(const std::string& key) = 0;
  // Gives one hit back (a counted attempt turned out not to be a failure); never below zero.
  virtual Task<void> release(const std::string& key) = 0;
};

}  // namespace ticketing::domain
