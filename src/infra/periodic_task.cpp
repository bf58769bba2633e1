#include "infra/periodic_task.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace ticketing::infra {

PeriodicTask::PeriodicTask(boost::asio::io_context& context, std::string name, std::chrono::milliseconds interval,
                           std::function<Task<void>()> work)
    : context_(context),
      name_(std::move(name)),
      interval_(interval),
      work_(std::move(work)),
      timer_(std::make_shared<boost::asio::steady_timer>(context)) {}

PeriodicTask::~PeriodicTask() {
  stop();
}

void PeriodicTask::start() {
  boost::asio::co_spawn(context_, loop(), boost::asio::detached);
}

void PeriodicTask::stop() {
  if (stopped_.exchange(true)) return;
  boost::asio::post(context_, [timer = timer_] { timer->cancel(); });
}

void PeriodicTask::wake() {
  if (stopped_.load()) return;
  boost::asio::post(context_, [timer = timer_] { timer->cancel(); });
}

Task<void> PeriodicTask::loop() {
  auto timer = timer_;  // keeps the timer alive for this coroutine
  std::chrono::steady_clock::time_point last_warning{};
  while (!stopped_.load()) {
    try {
      co_await work_();
    } catch (const std::exception& error) {
      // One line per 10 s at most while a dependency is down.
      const auto now = std::chrono::steady_clock::now();
      if (now - last_warning > std::chrono::seconds(10)) {
        spdlog::warn("{}: round failed: {}", name_, error.what());
        last_warning = now;
      }
    }
    if (stopped_.load()) break;
    timer->expires_after(interval_);
    boost::system::error_code ec;
    co_await timer->async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  }
}

}  // namespace ticketing::infra
