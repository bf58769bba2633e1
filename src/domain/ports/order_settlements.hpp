#pragma once
// A CONFIRMING order's settlement (PAID, or CANCELLED with its reason), told after the commit that
// made it, so that `GET /payment/{orderNo}?waitMs=` can answer as soon as it happens instead of the
// client polling (docs/payments.md, "Waiting for the confirmation").
#include <chrono>
#include <optional>
#include <string>

#include "domain/async.hpp"
#include "domain/payment.hpp"

namespace ticketing::domain {

struct OrderSettled {
  std::string order_no;
  OrderStatus status = OrderStatus::kPaid;
  std::optional<std::string> fail_reason;
};

class OrderSettlementSink {
 public:
  virtual ~OrderSettlementSink() = default;
  // Called on the thread that committed the settlement; must not block and should not throw.
  virtual void order_settled(const OrderSettled& settled) = 0;
};

class OrderSettlementWaits {
 public:
  virtual ~OrderSettlementWaits() = default;
  // The order's settlement if this instance saw it committed (recently, or within `timeout`);
  // nullopt otherwise — the order may still have been settled elsewhere: read it again.
  virtual Task<std::optional<OrderSettled>> wait_settled(const std::string& order_no,
                                                         std::chrono::milliseconds timeout) = 0;
};

}  // namespace ticketing::domain
