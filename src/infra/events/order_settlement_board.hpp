#pragma once
// In-process board of order settlements: the confirmation handler pins each one up after its
// commit; `GET /payment/{orderNo}?waitMs=` waits on it instead of the client polling. Only this
// instance's settlements appear here: a waiter whose order is settled by another instance times
// out and reads the database again (application::PaymentService::order).
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "domain/ports/order_settlements.hpp"

namespace ticketing::infra::events {

struct OrderSettlementBoardLimits {
  std::size_t max_waiters = 20000;        // beyond it, a wait answers at once (the caller reads again)
  std::size_t max_waiters_per_order = 4;  // one order's owner cannot take the others' places
  std::size_t max_recent = 100000;        // settlements remembered for a wait that starts just after
  std::size_t max_confirming = 20000;     // CONFIRMING orders remembered (about 30 s of a big sale)
  std::chrono::seconds recent_for{30};    // how long either is remembered
};

class OrderSettlementBoard final : public domain::OrderSettlementSink, public domain::OrderSettlementWaits {
 public:
  explicit OrderSettlementBoard(OrderSettlementBoardLimits limits = {}) : limits_(limits) {}
  OrderSettlementBoard(const OrderSettlementBoard&) = delete;
  OrderSettlementBoard& operator=(const OrderSettlementBoard&) = delete;

  // Any thread.
  void order_settled(const domain::OrderSettled& settled) override;
  // Must be awaited on a single-threaded executor (each HTTP I/O thread has its own io_context):
  // the wake-up is posted to it, and cannot overtake the wait's own start. A strand or a thread
  // pool would let a wake-up race the start of the wait.
  Task<std::optional<domain::OrderSettled>> wait_settled(const std::string& order_no,
                                                         std::chrono::milliseconds timeout) override;
  // Any thread. An order already settled here is not remembered as CONFIRMING.
  void remember_confirming(const domain::PaymentOrder& order) override;
  std::optional<domain::PaymentOrder> confirming(const std::string& order_no) override;
  // Wakes every waiter (each answers with what it has) and makes later waits answer at once.
  void stop();

  std::size_t waiting() const;

 private:
  struct Waiter;
  static void wake(std::vector<std::shared_ptr<Waiter>> waiters);
  void forget_old_locked(std::chrono::steady_clock::time_point now);

  OrderSettlementBoardLimits limits_;
  mutable std::mutex mutex_;
  bool stopped_ = false;
  std::size_t waiting_ = 0;
  std::unordered_map<std::string, std::vector<std::shared_ptr<Waiter>>> waiters_;
  std::unordered_map<std::string, domain::OrderSettled> recent_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::string>> recent_order_;
  // CONFIRMING orders not settled here yet; an entry goes with its settlement or with age.
  std::unordered_map<std::string, domain::PaymentOrder> confirming_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::string>> confirming_order_;
};

}  // namespace ticketing::infra::events
