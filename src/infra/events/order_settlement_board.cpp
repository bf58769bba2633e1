#include "infra/events/order_settlement_board.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace ticketing::infra::events {

namespace asio = boost::asio;

struct OrderSettlementBoard::Waiter {
  explicit Waiter(const asio::any_io_executor& executor) : timer(executor) {}
  asio::steady_timer timer;
  std::optional<domain::OrderSettled> settled;  // guarded by the board's mutex
  bool woken = false;                           // guarded by the board's mutex
};

namespace {

// Drops the oldest entries of `entries` (in `order`, oldest first) beyond `max` or older than `age`.
// An entry put in again later keeps its place by its first time: it goes a little early, and a
// waiting read then reads the database, as it would without it.
template <typename Map>
void forget_oldest(Map& entries, std::deque<std::pair<std::chrono::steady_clock::time_point, std::string>>& order,
                   std::size_t max, std::chrono::seconds age, std::chrono::steady_clock::time_point now) {
  while (!order.empty() && (order.size() > max || now - order.front().first > age)) {
    entries.erase(order.front().second);
    order.pop_front();
  }
}

}  // namespace

void OrderSettlementBoard::forget_old_locked(std::chrono::steady_clock::time_point now) {
  forget_oldest(recent_, recent_order_, limits_.max_recent, limits_.recent_for, now);
  forget_oldest(confirming_, confirming_order_, limits_.max_confirming, limits_.recent_for, now);
}

// Cancels each waiter's timer on its own executor. The last reference goes with the handler, so
// each timer is also destroyed on its own thread.
void OrderSettlementBoard::wake(std::vector<std::shared_ptr<Waiter>> waiters) {
  for (auto& waiter : waiters) {
    auto executor = waiter->timer.get_executor();
    asio::post(executor, [w = std::move(waiter)] { w->timer.cancel(); });
  }
}

void OrderSettlementBoard::order_settled(const domain::OrderSettled& settled) {
  std::vector<std::shared_ptr<Waiter>> woken;
  {
    const std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (recent_.insert_or_assign(settled.order_no, settled).second) recent_order_.emplace_back(now, settled.order_no);
    confirming_.erase(settled.order_no);
    forget_old_locked(now);
    if (auto it = waiters_.find(settled.order_no); it != waiters_.end()) {
      woken = std::move(it->second);
      waiters_.erase(it);
      for (auto& waiter : woken) {
        waiter->settled = settled;
        waiter->woken = true;
      }
    }
  }
  wake(std::move(woken));
}

Task<std::optional<domain::OrderSettled>> OrderSettlementBoard::wait_settled(const std::string& order_no,
                                                                             std::chrono::milliseconds timeout) {
  auto waiter = std::make_shared<Waiter>(co_await asio::this_coro::executor);
  waiter->timer.expires_after(timeout);
  {
    const std::lock_guard lock(mutex_);
    forget_old_locked(std::chrono::steady_clock::now());
    if (auto it = recent_.find(order_no); it != recent_.end()) co_return it->second;
    if (stopped_ || waiting_ >= limits_.max_waiters || timeout.count() <= 0) co_return std::nullopt;
    auto& for_order = waiters_[order_no];
    if (for_order.size() >= limits_.max_waiters_per_order) co_return std::nullopt;
    for_order.push_back(waiter);
    ++waiting_;
  }
  // No suspension between the registration and this wait: a wake-up posted to this (single-
  // threaded) executor runs after the wait has started, and cancels it.
  co_await waiter->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  const std::lock_guard lock(mutex_);
  --waiting_;
  if (!waiter->woken) {
    auto it = waiters_.find(order_no);
    if (it != waiters_.end()) {
      std::erase(it->second, waiter);
      if (it->second.empty()) waiters_.erase(it);
    }
  }
  co_return waiter->settled;
}

void OrderSettlementBoard::remember_confirming(const domain::PaymentOrder& order) {
  const std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  // Told of its settlement already (the confirmation can overtake the callback's answer).
  if (recent_.contains(order.order_no)) return;
  if (confirming_.insert_or_assign(order.order_no, order).second) confirming_order_.emplace_back(now, order.order_no);
  forget_old_locked(now);
}

std::optional<domain::PaymentOrder> OrderSettlementBoard::confirming(const std::string& order_no) {
  const std::lock_guard lock(mutex_);
  forget_old_locked(std::chrono::steady_clock::now());
  const auto it = confirming_.find(order_no);
  if (it == confirming_.end()) return std::nullopt;
  return it->second;
}

void OrderSettlementBoard::stop() {
  std::vector<std::shared_ptr<Waiter>> woken;
  {
    const std::lock_guard lock(mutex_);
    stopped_ = true;
    for (auto& [order_no, waiters] : waiters_) {
      for (auto& waiter : waiters) {
        waiter->woken = true;
        woken.push_back(waiter);
      }
    }
    waiters_.clear();
  }
  wake(std::move(woken));
}

std::size_t OrderSettlementBoard::waiting() const {
  const std::lock_guard lock(mutex_);
  return waiting_;
}

}  // namespace ticketing::infra::events
