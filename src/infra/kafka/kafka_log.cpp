#include "infra/kafka/kafka_log.hpp"

#include <spdlog/spdlog.h>

#include <utility>

#include "infra/kafka/kafka_error.hpp"

namespace ticketing::infra::kafka {

LogRateLimiter::LogRateLimiter(std::chrono::milliseconds interval, std::size_t max_keys)
    : interval_(interval), max_keys_(max_keys) {}

std::optional<std::size_t> LogRateLimiter::admit(const std::string& key, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto it = states_.find(key);
  if (it == states_.end()) {
    // Keys are facilities and error codes, so this bound is only a guard against surprises.
    if (states_.size() >= max_keys_) states_.clear();
    states_.emplace(key, State{now, 0});
    return 0;
  }
  State& state = it->second;
  if (now - state.last < interval_) {
    ++state.suppressed;
    return std::nullopt;
  }
  const std::size_t suppressed = std::exchange(state.suppressed, 0);
  state.last = now;
  return suppressed;
}

RateLimitedEventLogger::RateLimitedEventLogger(std::string client, std::chrono::milliseconds interval)
    : client_(std::move(client)), limiter_(interval) {}

namespace {

spdlog::level::level_enum level_of(RdKafka::Event::Severity severity) {
  switch (severity) {
    case RdKafka::Event::EVENT_SEVERITY_EMERG:
    case RdKafka::Event::EVENT_SEVERITY_ALERT:
    case RdKafka::Event::EVENT_SEVERITY_CRITICAL: return spdlog::level::err;
    case RdKafka::Event::EVENT_SEVERITY_ERROR:
    case RdKafka::Event::EVENT_SEVERITY_WARNING: return spdlog::level::warn;
    case RdKafka::Event::EVENT_SEVERITY_NOTICE:
    case RdKafka::Event::EVENT_SEVERITY_INFO: return spdlog::level::info;
    default: return spdlog::level::debug;
  }
}

}  // namespace

void RateLimitedEventLogger::event_cb(RdKafka::Event& event) {
  switch (event.type()) {
    case RdKafka::Event::EVENT_LOG: {
      const auto suppressed = limiter_.admit("log:" + event.fac());
      if (!suppressed) return;
      spdlog::log(level_of(event.severity()), "kafka {}: [{}] {}{}", client_, event.fac(), event.str(),
                  *suppressed > 0 ? fmt::format(" ({} similar lines suppressed)", *suppressed) : "");
      return;
    }
    case RdKafka::Event::EVENT_ERROR:
      if (event.fatal()) {
        spdlog::error("kafka {}: FATAL {}: {}", client_, RdKafka::err2str(event.err()), event.str());
        return;
      }
      log_error(static_cast<int>(event.err()), event.str());
      return;
    default: return;  // statistics and throttle events are not used
  }
}

void RateLimitedEventLogger::log_error(int code, const std::string& text) {
  const auto suppressed = limiter_.admit("error:" + std::to_string(code));
  if (!suppressed) return;
  spdlog::warn("kafka {}: {}: {}{}", client_, RdKafka::err2str(static_cast<RdKafka::ErrorCode>(code)), text,
               *suppressed > 0 ? fmt::format(" ({} similar errors suppressed)", *suppressed) : "");
}

namespace {

[[noreturn]] void conf_failed(const std::string& key, const std::string& error) {
  throw KafkaError(RdKafka::ERR__INVALID_ARG, "kafka configuration " + key + ": " + error);
}

}  // namespace

void set_conf(RdKafka::Conf& conf, const std::string& key, const std::string& value) {
  std::string error;
  if (conf.set(key, value, error) != RdKafka::Conf::CONF_OK) conf_failed(key, error);
}

void set_conf(RdKafka::Conf& conf, const std::string& key, RdKafka::EventCb* callback) {
  std::string error;
  if (conf.set(key, callback, error) != RdKafka::Conf::CONF_OK) conf_failed(key, error);
}

void set_conf(RdKafka::Conf& conf, const std::string& key, RdKafka::DeliveryReportCb* callback) {
  std::string error;
  if (conf.set(key, callback, error) != RdKafka::Conf::CONF_OK) conf_failed(key, error);
}

}  // namespace ticketing::infra::kafka
