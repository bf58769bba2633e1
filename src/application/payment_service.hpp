#pragma once
#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "application/queue_service.hpp"
#include "domain/ports/clock.hpp"
#include "domain/ports/payment_repository.hpp"
#include "domain/ports/seat_lock_store.hpp"
#include "domain/ports/user_repository.hpp"
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

// Orders and payments (DESIGN.md §7 steps 2–3) and the reads around them.
class PaymentService {
 public:
  PaymentService(AdmissionGuard& guard, domain::PaymentRepository& payments, domain::UserRepository& users,
                 const domain::Clock& clock, std::chrono::milliseconds order_ttl, std::string gateway_secret)
      : guard_(guard),
        payments_(payments),
        users_(users),
        clock_(clock),
        order_ttl_(order_ttl),
        gateway_secret_(std::move(gateway_secret)) {}

  // 401 for a missing or invalid token, before the request body is read.
  void authenticate(const std::optional<std::string>& token) const { guard_.authenticate(token); }
  // 400 bad Idempotency-Key, 401/403 token, 409 SEAT_IN_PAYMENT / CONFLICT (not held),
  // 422 IDEMPOTENCY_KEY_REUSED.
  Task<ReadyResult> ready(const std::optional<std::string>& token, const std::optional<std::string>& idempotency_key,
                          domain::UserId user, domain::ScheduleId schedule, const std::vector<std::string>& seat_nos);
  // The gateway's callback. 401 without the shared secret, 404 unknown order.
  Task<domain::PaymentRecord> record_gateway_success(const std::optional<std::string>& gateway_secret,
                                                     const std::string& order_no);
  Task<domain::PaymentOrder> order(const std::string& order_no);
  Task<std::vector<domain::ReservationView>> reservations(domain::UserId user);

  PaymentCounters& counters() noexcept { return counters_; }
  // Called after a payment was recorded (the composition root wakes the outbox relay with it).
  void on_payment_recorded(std::function<void()> callback) { on_recorded_ = std::move(callback); }

 private:
  std::function<void()> on_recorded_;
  AdmissionGuard& guard_;
  domain::PaymentRepository& payments_;
  domain::UserRepository& users_;
  const domain::Clock& clock_;
  std::chrono::milliseconds order_ttl_;
  std::string gateway_secret_;
  PaymentCounters counters_;
};

// Confirms bookings from PaymentCompleted events (the Kafka consumer calls it). Idempotent.
class ConfirmationHandler {
 public:
  // `on_purchase` frees the buyer's queue slot (best effort).
  ConfirmationHandler(domain::PaymentRepository& payments, domain::QueueStore& queue, domain::SeatLockStore& locks,
                      const domain::Clock& clock, PaymentCounters& counters)
      : payments_(payments), queue_(queue), locks_(locks), clock_(clock), counters_(counters) {}

  Task<domain::ConfirmOutcome> handle(const domain::PaymentCompleted& event);
  // A batch in one transaction; true for each event it settled. The others (unknown order, ...)
  // go through handle() one by one, which reports their failures.
  Task<std::vector<bool>> handle_batch(const std::vector<domain::PaymentCompleted>& events);

 private:
  Task<void> settled(const domain::PaymentCompleted& event, const domain::ConfirmOutcome& outcome,
                     domain::Timestamp now);

  domain::PaymentRepository& payments_;
  domain::QueueStore& queue_;
  domain::SeatLockStore& locks_;
  const domain::Clock& clock_;
  PaymentCounters& counters_;
};

}  // namespace ticketing::application
