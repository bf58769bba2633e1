#pragma once
// Runs `work` every `interval` on an io_context until stopped. A failing round is logged and the
// next one runs on schedule, so an outage of Redis or the database never stops a job for good.
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "domain/async.hpp"

namespace ticketing::infra {

class PeriodicTask {
 public:
  PeriodicTask(boost::asio::io_context& context, std::string name, std::chrono::milliseconds interval,
               std::function<Task<void>()> work);
  ~PeriodicTask();
  void start();
  void stop();  // thread-safe; the current round finishes, no new one starts
  // Runs the next round now instead of at the end of the interval (thread-safe, cheap).
  void wake();

 private:
  Task<void> loop();

  boost::asio::io_context& context_;
  std::string name_;
  std::chrono::milliseconds interval_;
  std::function<Task<void>()> work_;
  std::shared_ptr<boost::asio::steady_timer> timer_;
  std::atomic<bool> stopped_{false};
};

}  // namespace ticketing::infra
