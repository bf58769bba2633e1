#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "domain/ports/payment_repository.hpp"
#include "infra/events/payment_events.hpp"
#include "infra/mysql/batched_calls.hpp"
#include "infra/mysql/mysql_pool.hpp"

namespace ticketing::infra::mysql {

// "ORD-20261124-9f3a1c0e5b7d": the UTC date for humans, then 48 bits from the CSPRNG, so order
// numbers can be neither guessed nor enumerated (the unique key catches the rare collision).
std::string new_order_no(domain::Timestamp now);

// For the operator console's refund, which writes in the transaction of its audit row: the order
// `order_no` locked (FOR UPDATE) with its seats, or nullopt; and the outbox RefundRequested.
std::optional<domain::PaymentOrder> lock_order(MysqlConnection& db, const std::string& order_no);
void request_refund(MysqlConnection& db, const events::EventTopics& topics, const domain::PaymentOrder& order,
                    const std::string& reason, domain::Timestamp now);

class MysqlPaymentRepository final : public domain::PaymentRepository {
 public:
  // A CONFIRMING order keeps its holds until it is settled (domain::hold_is_stale), by its event
  // or by the reconciler within payment.reconcile-after: the callback no longer extends them.
  MysqlPaymentRepository(MysqlPool& pool, events::EventTopics topics);
  ~MysqlPaymentRepository() override;
  MysqlPaymentRepository(const MysqlPaymentRepository&) = delete;
  MysqlPaymentRepository& operator=(const MysqlPaymentRepository&) = delete;

  Task<domain::ReadyOutcome> create_ready_order(const domain::ReadyRequest& request, domain::Timestamp now,
                                                domain::Timestamp expires_at) override;
  // Callbacks that arrive while another one waits for a connection are recorded with it, in one
  // transaction (the .cpp says how).
  Task<domain::PaymentRecord> record_payment(const std::string& order_no, domain::Timestamp now) override;
  Task<std::optional<domain::PaymentOrder>> find_order(const std::string& order_no) override;
  Task<std::vector<domain::ReservationView>> reservations_of(domain::UserId user) override;
  Task<std::vector<domain::PaymentOrder>> orders_of(domain::UserId user, int limit) override;
  Task<std::vector<domain::PaymentCompleted>> unsettled_payments(domain::Timestamp paid_before, int limit) override;
  Task<domain::ConfirmOutcome> confirm_payment(const domain::PaymentCompleted& event, domain::Timestamp now) override;
  Task<std::vector<std::optional<domain::ConfirmOutcome>>> confirm_payments(
      const std::vector<domain::PaymentCompleted>& events, domain::Timestamp now) override;

  // A gateway callback waiting to be recorded (with others: infra/mysql/batched_calls.hpp).
  struct CallbackRequest {
    std::string order_no;
    domain::Timestamp now;
  };
  using CallStats = BatchedCallStats;
  CallStats callback_stats() const;

 private:
  MysqlPool& pool_;
  events::EventTopics topics_;
  BatchedCalls<CallbackRequest, domain::PaymentRecord> callbacks_;
};

}  // namespace ticketing::infra::mysql
