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
  // An order this instance has just seen CONFIRMING (it recorded the gateway's success). From then
  // on its only change is its settlement, which a wait hears of here, or, when another instance
  // settles it, by reading the order again after a slice: so a waiting read may start from this
  // instead of the database. Remembered until this instance is told of the settlement, and no
  // longer than settlements are remembered.
  virtual void remember_confirming(const PaymentOrder& order) = 0;
  // That order as remembered; nullopt when it is not (any more): read the database.
  virtual std::optional<PaymentOrder> confirming(const std::string& order_no) = 0;
};

}  // namespace ticketing::domain
