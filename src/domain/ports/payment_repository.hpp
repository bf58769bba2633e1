#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "domain/async.hpp"
#include "domain/payment.hpp"
#include "domain/seat_change.hpp"

namespace ticketing::domain {

struct ReadyRequest {
  UserId user;
  ScheduleId schedule;
  std::vector<std::string> seat_nos;
  std::string idempotency_key;
  std::string fingerprint;
  std::optional<Timestamp> slot_token_issued_at;  // the queue token's iat (see PaymentOrder)
  // The order's holds are extended to its expiry, but no seat is held longer than this after its
  // own hold began (hold.max-total); the order's expiry is capped the same way.
  std::chrono::milliseconds hold_max_total{std::chrono::minutes(15)};
};

struct ReadyOutcome {
  enum class Kind {
    kCreated,
    kReplayed,
    kKeyReused,
    kSeatsNotHeld,
    kSeatsHeldByOthers,  // live holds of another user (DESIGN.md §5: acting on someone else's hold, 403)
    kSeatsInPayment,
    kSeatsUnknown,
    // Refused for its seats while another request with the same Idempotency-Key is still being
    // written: which answer is right (a replay, 422, or the seats' refusal) is known only after it.
    kKeyInFlight
  } kind = Kind::kCreated;
  PaymentOrder order;  // kCreated, kReplayed (as created: status READY)
  // kSeatsNotHeld, kSeatsHeldByOthers, kSeatsInPayment, kSeatsUnknown (not on the schedule)
  std::vector<std::string> seats;
};

struct PaymentRecord {
  enum class Kind { kRecorded, kAlreadyRecorded, kRefundRequested, kNotFound } kind = Kind::kRecorded;
  PaymentOrder order;  // current state
};

struct ConfirmOutcome {
  enum class Kind { kConfirmed, kCancelled, kDuplicate, kIgnored } kind = Kind::kConfirmed;
  PaymentOrder order;
  std::vector<SeatChanged> events;  // committed seat changes: sold, or the released seats cancelled
};

class PaymentRepository {
 public:
  virtual ~PaymentRepository() = default;
  // One transaction: replay/refuse by (user, idempotency key); else the seats must be live HELD
  // rows of this user not in a READY/CONFIRMING order → READY order, amount = sum of seat prices,
  // expiring at `expires_at` or hold_max_total after the earliest of its holds, whichever is first;
  // the holds are extended to last at least until then (DESIGN.md §5 Orders).
  virtual Task<ReadyOutcome> create_ready_order(const ReadyRequest& request, Timestamp now, Timestamp expires_at) = 0;
  // One transaction (domain::on_gateway_success): READY → CONFIRMING + outbox PaymentCompleted;
  // no hold changes (a CONFIRMING order's holds are its own until it is settled). A repeat changes
  // nothing. A payment for an order already cancelled or expired is recorded with a refund request.
  virtual Task<PaymentRecord> record_payment(const std::string& order_no, Timestamp now) = 0;
  virtual Task<std::optional<PaymentOrder>> find_order(const std::string& order_no) = 0;
  virtual Task<std::vector<ReservationView>> reservations_of(UserId user) = 0;
  // CONFIRMING orders whose payment was recorded at or before `paid_before`, oldest first (at most
  // `limit`), each as the PaymentCompleted event that settles it (a fresh event id: if the original
  // event is still delivered later, it finds the order settled and changes nothing).
  virtual Task<std::vector<PaymentCompleted>> unsettled_payments(Timestamp paid_before, int limit) = 0;
  // The user's orders, newest first, with their seats (at most `limit`).
  virtual Task<std::vector<PaymentOrder>> orders_of(UserId user, int limit) = 0;
  // One transaction per event, idempotent by event id: CONFIRMED + PAID when the order's rows are
  // still live; otherwise CANCELLED with a reason and a refund request in the outbox.
  virtual Task<ConfirmOutcome> confirm_payment(const PaymentCompleted& event, Timestamp now) = 0;
  // The same for a batch of events, in one transaction: an outcome per event, or nullopt for an
  // event the batch did not settle (unknown order, a second event of one order), which the caller
  // then hands to confirm_payment. Throws like confirm_payment. This default settles them one by
  // one; the database adapter does the whole batch in a fixed number of statements.
  virtual Task<std::vector<std::optional<ConfirmOutcome>>> confirm_payments(const std::vector<PaymentCompleted>& events,
                                                                            Timestamp now) {
    std::vector<std::optional<ConfirmOutcome>> outcomes;
    for (const auto& event : events) {
      auto outcome = co_await confirm_payment(event, now);
      outcomes.emplace_back(std::move(outcome));
    }
    co_return outcomes;
  }
};

}  // namespace ticketing::domain
