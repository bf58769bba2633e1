#pragma once
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "application/queue_service.hpp"
#include "domain/ports/clock.hpp"
#include "domain/ports/gateway_verifier.hpp"
#include "domain/ports/order_settlements.hpp"
#include "domain/ports/payment_repository.hpp"
#include "domain/ports/seat_events.hpp"
#include "domain/ports/seat_lock_store.hpp"
#include "support/atomic_histogram.hpp"

namespace ticketing::application {

struct PaymentCounters {
  std::atomic<std::uint64_t> orders_created{0};
  std::atomic<std::uint64_t> payments_recorded{0};
  std::atomic<std::uint64_t> confirmed{0};
  std::atomic<std::uint64_t> cancelled{0};
  std::atomic<std::uint64_t> duplicates{0};
  support::AtomicHistogram confirm_latency;  // payment recorded (paidAt) → PAID, seconds
};

struct ReadyResult {
  domain::PaymentOrder order;  // as created (status READY)
  bool replayed = false;
};

// How the payment gateway's callback proves itself (DESIGN.md §7.7).
struct GatewayAuth {
  domain::GatewayVerifier* verifier = nullptr;  // Gateway-Signature; nullptr: no signing secret set
  // The dev profile's curl shortcut: `X-Gateway-Secret: <payment.gateway-secret>`; refused in prod.
  bool accept_plain_secret = false;
  std::string plain_secret;
};

struct GatewayCallback {
  std::optional<std::string> signature;     // Gateway-Signature header
  std::optional<std::string> plain_secret;  // X-Gateway-Secret header
  std::string raw_body;
};

// Orders and payments (DESIGN.md §7 steps 2–3) and the reads around them.
class PaymentService {
 public:
  static constexpr int kMaxOrdersListed = 100;

  // `payments` writes (ready, the gateway callback); `reads` answers order and reservation reads,
  // on other connections, so polling cannot keep a payment waiting.
  PaymentService(AdmissionGuard& guard, domain::PaymentRepository& payments, domain::PaymentRepository& reads,
                 const domain::Clock& clock, std::chrono::milliseconds order_ttl,
                 std::chrono::milliseconds hold_max_total, GatewayAuth gateway)
      : guard_(guard),
        payments_(payments),
        reads_(reads),
        clock_(clock),
        order_ttl_(order_ttl),
        hold_max_total_(hold_max_total),
        gateway_(std::move(gateway)) {}

  // 401 for a missing or invalid queue token, 403 for someone else's: from the headers alone
  // (before the body arrives).
  void authenticate(const std::optional<std::string>& queue_token, domain::UserId user) const {
    guard_.authenticate(queue_token, user);
  }
  // 401/403 for the caller's Queue-Token, then 401 for an ended slot, then `check`'s error for a bad
  // request (its body, its Idempotency-Key); only a call that passes `check` extends the slot
  // (AdmissionGuard::admit).
  Task<Admission> admit(const std::optional<std::string>& queue_token, domain::UserId user,
                        const AdmissionGuard::InputCheck& check) {
    return guard_.admit(queue_token, user, check);
  }
  Task<Admission> admit(const std::optional<std::string>& queue_token, domain::UserId user) {
    return guard_.admit(queue_token, user);
  }
  // 401/403 for the token, 401 for an ended slot; nothing written (AdmissionGuard::require_live_slot).
  Task<void> require_live_slot(const std::optional<std::string>& queue_token, domain::UserId user) {
    return guard_.require_live_slot(queue_token, user);
  }
  // The most seats one `ready` may name (the request body's bound; holds are fewer).
  static constexpr int kMaxSeatsPerOrder = 64;
  // 400 unless `key` (the Idempotency-Key header) is present and 1–255 printable ASCII characters.
  static void require_idempotency_key(const std::optional<std::string>& key);
  // 403 admission for another schedule, 400 bad Idempotency-Key, 403 someone else's hold, 409
  // SEAT_IN_PAYMENT / CONFLICT (not held), 422 IDEMPOTENCY_KEY_REUSED.
  Task<ReadyResult> ready(const Admission& admission, const std::optional<std::string>& idempotency_key,
                          domain::ScheduleId schedule, const std::vector<std::string>& seat_nos);
  // 401 before anything else unless the callback is signed (or, in dev, carries the plain secret).
  // Call it before the body is parsed.
  void authenticate_gateway(const GatewayCallback& callback) const;
  // The gateway's callback. 401 unauthenticated, 404 unknown order.
  Task<domain::PaymentRecord> record_gateway_success(const GatewayCallback& callback, const std::string& order_no);
  // The web app's mock gateway page (payment.mock-gateway; dev and test only): records the payment
  // of the caller's own order exactly as the gateway's signed callback would. Someone else's order
  // is 404, as if it did not exist.
  Task<domain::PaymentRecord> record_mock_gateway_payment(domain::UserId user, const std::string& order_no);
  // The caller's own order; someone else's is 404, as if it did not exist. With `wait` > 0 and the
  // order CONFIRMING, the answer waits up to `wait` for its settlement (PAID or CANCELLED), so a
  // client needs one call instead of polling; meanwhile it reads the database again now and then
  // (see wait_for_settlements_on), for an order that another instance settles.
  Task<domain::PaymentOrder> order(domain::UserId user, const std::string& order_no,
                                   std::chrono::milliseconds wait = std::chrono::milliseconds{0});
  static constexpr std::chrono::milliseconds kMaxSettlementWait{10000};
  static constexpr std::chrono::milliseconds kFirstSettlementRecheck{250};
  static constexpr std::chrono::milliseconds kSettlementRecheck{1000};
  Task<std::vector<domain::PaymentOrder>> orders(domain::UserId user);
  Task<std::vector<domain::ReservationView>> reservations(domain::UserId user);

  PaymentCounters& counters() noexcept { return counters_; }
  // The Redis seat locks in front of the holds: a new READY order makes its seats' locks last as
  // long as the order (SeatLockStore::extend_for_order), as `ready` does the holds' rows.
  void keep_seat_locks_in(domain::SeatLockStore& locks) { locks_ = &locks; }
  // Called after a payment was recorded (the composition root wakes the outbox relay with it).
  void on_payment_recorded(std::function<void()> callback) { on_recorded_ = std::move(callback); }
  // Where `order(..., wait)` waits for settlements. `first_recheck`: when the first re-read comes
  // (doubling up to kSettlementRecheck) — long on an instance that runs the confirmation consumer
  // and is told, short on one that is not. `told_of_settlements`: this instance runs the consumer,
  // so the orders its callbacks make CONFIRMING are remembered there and a waiting read of one
  // starts from that instead of the database (on an instance that is never told, every such read
  // would wait for its first re-read).
  void wait_for_settlements_on(domain::OrderSettlementWaits& waits,
                               std::chrono::milliseconds first_recheck = kFirstSettlementRecheck,
                               bool told_of_settlements = false) {
    settlement_waits_ = &waits;
    first_recheck_ = first_recheck;
    remembers_confirming_ = told_of_settlements;
  }

 private:
  Task<domain::PaymentRecord> record_payment(const std::string& order_no);

  std::function<void()> on_recorded_;
  domain::SeatLockStore* locks_ = nullptr;
  domain::OrderSettlementWaits* settlement_waits_ = nullptr;
  bool remembers_confirming_ = false;
  std::chrono::milliseconds first_recheck_ = kFirstSettlementRecheck;
  AdmissionGuard& guard_;
  domain::PaymentRepository& payments_;
  domain::PaymentRepository& reads_;
  const domain::Clock& clock_;
  std::chrono::milliseconds order_ttl_;
  std::chrono::milliseconds hold_max_total_;
  GatewayAuth gateway_;
  PaymentCounters counters_;
};

// Confirms bookings from PaymentCompleted events (the Kafka consumer calls it). Idempotent.
class ConfirmationHandler {
 public:
  // `on_purchase` frees the buyer's queue slot (best effort).
  // The seats it sells or releases go to `seat_events` after each commit.
  ConfirmationHandler(domain::PaymentRepository& payments, domain::QueueStore& queue, domain::SeatLockStore& locks,
                      const domain::Clock& clock, domain::SeatEventSink& seat_events, PaymentCounters& counters)
      : payments_(payments),
        queue_(queue),
        locks_(locks),
        clock_(clock),
        seat_events_(seat_events),
        counters_(counters) {}

  Task<domain::ConfirmOutcome> handle(const domain::PaymentCompleted& event);
  // A batch in one transaction; true for each event it settled. The others (unknown order, ...)
  // go through handle() one by one, which reports their failures.
  Task<std::vector<bool>> handle_batch(const std::vector<domain::PaymentCompleted>& events);
  // Every order this handler settles is told there after its commit.
  void tell_settlements_to(domain::OrderSettlementSink& sink) { settlements_ = &sink; }
  // Frees again the buying slots whose freeing failed (Redis unreachable at the confirmation):
  // until then the buyer's purchase token would keep working, and its slot would keep a waiting fan
  // out. Called by the reconciler's rounds; returns how many are still left to free.
  Task<std::size_t> finish_slots();

 private:
  Task<void> settled(const domain::PaymentCompleted& event, const domain::ConfirmOutcome& outcome,
                     domain::Timestamp now);
  struct UnfinishedSlot {
    domain::ScheduleId schedule;
    domain::UserId user;
    domain::Timestamp token_issued_at;
  };
  // At most this many are remembered (the oldest go first): beyond it the slots lapse by themselves.
  static constexpr std::size_t kMaxUnfinishedSlots = 100'000;
  void remember_unfinished(UnfinishedSlot slot);
  std::mutex unfinished_mutex_;
  std::deque<UnfinishedSlot> unfinished_;

  domain::PaymentRepository& payments_;
  domain::QueueStore& queue_;
  domain::SeatLockStore& locks_;
  const domain::Clock& clock_;
  domain::SeatEventSink& seat_events_;
  PaymentCounters& counters_;
  domain::OrderSettlementSink* settlements_ = nullptr;
};

// DESIGN.md §7.6: a CONFIRMING order is settled by the database alone once it is old enough,
// whatever happened to its event (stuck in the outbox, lost in a broker failover, dead-lettered),
// with the same decision the consumer makes. Safe on several workers at once (the decision locks
// the order; the second one finds it settled).
class PaymentReconciler {
 public:
  PaymentReconciler(domain::PaymentRepository& payments, ConfirmationHandler& confirmation, const domain::Clock& clock,
                    std::chrono::milliseconds settle_after, int batch)
      : payments_(payments), confirmation_(confirmation), clock_(clock), settle_after_(settle_after), batch_(batch) {}

  // Settles every CONFIRMING order whose payment is older than `settle_after`; returns how many.
  Task<std::int64_t> run_once();
  std::uint64_t reconciled() const noexcept { return reconciled_.load(std::memory_order_relaxed); }

 private:
  domain::PaymentRepository& payments_;
  ConfirmationHandler& confirmation_;
  const domain::Clock& clock_;
  std::chrono::milliseconds settle_after_;
  int batch_;
  std::atomic<std::uint64_t> reconciled_{0};
};

}  // namespace ticketing::application
