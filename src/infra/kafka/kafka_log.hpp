#pragma once
// Internal helpers shared by the Kafka adapters: rate-limited forwarding of librdkafka log lines
// and error events to spdlog (a dead broker otherwise produces a line per reconnect attempt), and
// configuration setters that throw.
#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace ticketing::infra::kafka {

// Lets at most one message per key through per interval and counts the ones it dropped.
// Thread-safe (librdkafka logs from its own threads).
class LogRateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LogRateLimiter(std::chrono::milliseconds interval = std::chrono::seconds(10), std::size_t max_keys = 1024);
  // nullopt: drop this message. Otherwise log it; the value is how many messages with this key
  // were dropped since the last one let through.
  std::optional<std::size_t> admit(const std::string& key, Clock::time_point now = Clock::now());

 private:
  struct State {
    Clock::time_point last;
    std::size_t suppressed = 0;
  };
  std::chrono::milliseconds interval_;
  std::size_t max_keys_;
  std::mutex mutex_;
  std::unordered_map<std::string, State> states_;
};

// RdKafka event callback: LOG and ERROR events go to spdlog through a LogRateLimiter, keyed by
// facility / error code. `client` names the handle in every line (e.g. "producer ticketing").
class RateLimitedEventLogger final : public RdKafka::EventCb {
 public:
  explicit RateLimitedEventLogger(std::string client, std::chrono::milliseconds interval = std::chrono::seconds(10));
  void event_cb(RdKafka::Event& event) override;
  // For error conditions the adapters see outside the callback (e.g. consumer error messages).
  void log_error(int code, const std::string& text);

 private:
  std::string client_;
  LogRateLimiter limiter_;
};

// conf->set(key, value) or throw KafkaError naming the key.
void set_conf(RdKafka::Conf& conf, const std::string& key, const std::string& value);
void set_conf(RdKafka::Conf& conf, const std::string& key, RdKafka::EventCb* callback);
void set_conf(RdKafka::Conf& conf, const std::string& key, RdKafka::DeliveryReportCb* callback);

}  // namespace ticketing::infra::kafka
