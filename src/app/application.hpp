#pragma once
// The composition root: builds every adapter and service from the configuration, by constructor
// injection, and owns their lifetimes. No globals.
#include <cstdint>
#include <memory>
#include <string>

#include "infra/config/config.hpp"

namespace ticketing::app {

class Application {
 public:
  explicit Application(const infra::config::AppConfig& config);
  ~Application();
  Application(const Application&) = delete;
  Application& operator=(const Application&) = delete;

  // Binds the HTTP port and starts the I/O threads. Throws if the port cannot be bound.
  void start();
  std::uint16_t port() const;
  // Tests only: a fatal error in the Kafka producer (the relay's and the dead-letter path's), as
  // librdkafka raises when the broker breaks the idempotence guarantees.
  void inject_kafka_fatal_error_for_test(const std::string& reason);
  // Blocks until SIGINT or SIGTERM, then shuts down gracefully.
  void run_until_signal();
  // Stops accepting, drains in-flight requests (up to http.shutdown-timeout), stops threads.
  void stop();

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

}  // namespace ticketing::app
